"""Choosing how to read each file (kind, mapping) and running ingest over several files."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from domain.formats import ExportKind, PartnerMapping, load_mapping
from services.common.config import ConfigError
from services.partner_gateway.ingest import RowReport, Summary, ingest_file
from services.partner_gateway.runtime import Gateway


def parse_kind(value: str | None) -> ExportKind | None:
    if value is None:
        return None
    try:
        return ExportKind(value)
    except ValueError:
        raise ConfigError(
            f"--kind must be one of {', '.join(k.value for k in ExportKind)}") from None


def kind_from_name(path: Path) -> ExportKind:
    """The documented file-name convention for folders and multi-file runs."""
    name = path.name.lower()
    if "link" in name:
        return ExportKind.LINKS
    if "withdraw" in name or "intrekking" in name:
        return ExportKind.WITHDRAWALS
    return ExportKind.SIGNALS


def plan(gw: Gateway, path: Path, kind: ExportKind | None, mapping: Path | None
         ) -> tuple[ExportKind, PartnerMapping]:
    """The kind and mapping to read `path` with: options first, then the configuration."""
    s = gw.settings
    if mapping is not None:
        m = load_mapping(mapping)
        return kind or m.kind or kind_from_name(path), m
    chosen = kind or kind_from_name(path)
    configured = {ExportKind.SIGNALS: s.mapping, ExportKind.LINKS: s.link_mapping,
                  ExportKind.WITHDRAWALS: s.withdrawal_mapping}[chosen]
    m = load_mapping(configured) if configured is not None else PartnerMapping()
    if m.kind is not None and m.kind is not chosen:
        raise ConfigError(f"{path}: read as {chosen.value}, but the mapping {configured} is "
                          f"for {m.kind.value}; pass --kind or --mapping")
    return chosen, m


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[Summary], None] | None]:
    """A rich spinner with counts on stderr when it is a terminal; None otherwise."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True,
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(label)

        def tick(summary: Summary) -> None:
            done = sum(summary.outcomes.values())
            bar.update(task, description=f"{label}: read {summary.read}, done {done}, "
                       f"rejected {summary.rejected}")

        yield tick


def ingest_paths(
    gw: Gateway,
    paths: Sequence[Path],
    kind: ExportKind | None,
    mapping: Path | None,
    report: RowReport | None,
    today: date,
    *,
    progress: bool = False,
) -> list[Summary]:
    summaries = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: not a readable file")
        export_kind, m = plan(gw, path, kind, mapping)
        with _progress(progress, path.name) as tick:
            summaries.append(ingest_file(gw, path, export_kind, m, report=report,
                                         progress=tick, today=today))
    return summaries
