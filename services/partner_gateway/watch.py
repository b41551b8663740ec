"""`samenloop gateway watch DIR`: ingest every export dropped into a folder.

For partners whose systems export on a schedule. A file is taken once its size and modification
time have stayed the same for one polling interval (so a file still being written is left
alone; names starting with `.` or ending in `.part`/`.tmp` are never taken). After ingest it is
moved to `DIR/processed/` next to its per-row report `<name>.report.jsonl` and summary
`<name>.summary.json`. A file that cannot be read at all goes to `DIR/failed/` with
`<name>.error.txt`. When the matcher or pseudonymiser is away the file stays where it is and is
tried again on a later turn; the journal makes that resume, not repeat.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from domain.errors import DomainError
from services.common.config import ConfigError
from services.common.logging import get_logger
from services.partner_gateway.connections import GatewayConnectionError
from services.partner_gateway.ingest import RowReport, Summary
from services.partner_gateway.runner import ingest_paths
from services.partner_gateway.runtime import Gateway

PROCESSED = "processed"
FAILED = "failed"
_SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


@dataclass
class Watcher:
    gw: Gateway
    folder: Path
    interval: float = 2.0
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def candidates(self) -> list[Path]:
        """Files that have not changed since the previous look."""
        ready = []
        current: dict[Path, tuple[int, int]] = {}
        for path in sorted(self.folder.iterdir()):
            if (not path.is_file() or path.name.startswith(".")
                    or path.name.endswith(_SKIP_SUFFIXES)):
                continue
            st = path.stat()
            current[path] = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) == current[path]:
                ready.append(path)
        self._seen = current
        return ready

    def process(self, path: Path) -> Summary | None:
        """Ingest one file and move it aside; None if it must be tried again later."""
        log = get_logger()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        done_dir = self.folder / PROCESSED
        done_dir.mkdir(exist_ok=True)
        target = done_dir / f"{stamp}-{path.name}"
        report_path = done_dir / f"{target.name}.report.jsonl"
        try:
            with report_path.open("w", encoding="utf-8") as handle:
                [summary] = ingest_paths(self.gw, [path], None, None, RowReport(handle),
                                         date.today())
        except GatewayConnectionError as exc:
            report_path.unlink(missing_ok=True)
            log.warning("watch_peer_unavailable", file=path.name, error=str(exc))
            return None
        except (DomainError, ConfigError, OSError) as exc:
            report_path.unlink(missing_ok=True)
            failed = self.folder / FAILED
            failed.mkdir(exist_ok=True)
            moved = failed / f"{stamp}-{path.name}"
            path.replace(moved)
            (failed / f"{moved.name}.error.txt").write_text(f"{exc}\n", encoding="utf-8")
            log.warning("watch_file_failed", file=path.name, moved_to=str(moved))
            return None
        path.replace(target)
        (done_dir / f"{target.name}.summary.json").write_text(
            json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
        log.info("watch_file_processed", file=path.name, rejected=summary.rejected)
        return summary

    def run_once(self) -> list[Summary]:
        """Take every file now (no settling wait): for `--once` and tests."""
        out = []
        for path in sorted(self.folder.iterdir()):
            if (path.is_file() and not path.name.startswith(".")
                    and not path.name.endswith(_SKIP_SUFFIXES)):
                summary = self.process(path)
                if summary is not None:
                    out.append(summary)
        return out

    def run(self, stop: threading.Event) -> None:
        get_logger().info("watch_started", folder=str(self.folder))
        while not stop.is_set():
            for path in self.candidates():
                if stop.is_set():
                    break
                self.process(path)
                self._seen.pop(path, None)
            stop.wait(self.interval)
