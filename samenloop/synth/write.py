"""Write a generated city to a directory: exports, links, withdrawals, inquiries, manifest, truth.

Layout (docs/synth.md):

    DIR/manifest.json                 what each file is and which mapping reads it
    DIR/truth.json                    the oracle: flagged households per policy, rejected rows
    DIR/inquiries.csv                 on-request inquiries (canonical columns)
    DIR/<partner_kind>/export.*       signals in the partner's own format
    DIR/<partner_kind>/mapping.yaml   a byte copy of the shipped mapping that reads it
    DIR/<partner_kind>/withdrawals.csv  signal_id, reason (canonical withdrawal export)
    DIR/municipality/links.csv        the BRP household links (+ links-mapping.yaml)
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.catalogue import load_catalogue
from domain.formats import csv_safe
from samenloop.synth.exports import write_exports
from samenloop.synth.model import City
from samenloop.synth.rules import load_library
from samenloop.synth.truth import NOTICE, truth_document

__all__ = ["EXAMPLES_DIR", "FILES", "write_city"]

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "partners"

# (partner kind, export kind, file, shipped mapping under examples/partners or None)
FILES: tuple[tuple[str, str, str, str | None], ...] = (
    ("municipality", "links", "municipality/links.csv", "gemeente/links-mapping.yaml"),
    ("housing", "signals", "housing/export.csv", "woonstichting/mapping.yaml"),
    ("police", "signals", "police/export.jsonl", "politie/mapping.yaml"),
    ("mental_health", "signals", "mental_health/export.xlsx", "ggz/mapping.yaml"),
    ("municipality", "signals", "municipality/signals.csv", "gemeente/mapping.yaml"),
    ("housing", "withdrawals", "housing/withdrawals.csv", None),
    ("police", "withdrawals", "police/withdrawals.csv", None),
    ("mental_health", "withdrawals", "mental_health/withdrawals.csv", None),
    ("municipality", "withdrawals", "municipality/withdrawals.csv", None),
)


def write_city(city: City, out: Path, *, invalid_share: float = 0.01) -> dict[str, Any]:
    """Write every file of `city` under `out` and return the truth document."""
    out.mkdir(parents=True, exist_ok=True)
    catalogue = load_catalogue()
    invalid = write_exports(city, out, invalid_share)
    _withdrawals(city, out)
    _inquiries(city, out / "inquiries.csv")
    files = []
    for partner_kind, kind, file, mapping in FILES:
        entry: dict[str, Any] = {"partner_kind": partner_kind, "kind": kind, "file": file}
        if mapping is not None:
            copy = f"{partner_kind}/{Path(mapping).name}"
            shutil.copyfile(EXAMPLES_DIR / mapping, out / copy)
            entry.update({"mapping": copy, "mapping_source": f"examples/partners/{mapping}"})
        files.append(entry)
    manifest = {
        "format": "samenloop-synth-city/v1",
        "notice": NOTICE,
        "seed": city.seed,
        "as_of": city.as_of.isoformat(),
        "households": city.initial_households,
        "ingest_order": "links, then signals (files in order), then withdrawals, then inquiries",
        "files": files,
        "inquiries": "inquiries.csv",
        "truth": "truth.json",
    }
    rejected = [
        {"file": r.file, "line": r.line, "code": r.code, "problem": r.problem} for r in invalid
    ]
    truth = truth_document(
        city, load_library(), catalogue, rejected, {"read_accepted": _counts(city, invalid)}
    )
    _dump(out / "manifest.json", manifest)
    _dump(out / "truth.json", truth)
    return truth


def _counts(city: City, invalid: list[Any]) -> dict[str, dict[str, int]]:
    """Rows per signal file: read / accepted / rejected, as the gateway check must count them."""
    out: dict[str, dict[str, int]] = {}
    for _, kind, file, _m in FILES:
        if kind != "signals":
            continue
        partner = file.split("/")[0]
        accepted = sum(1 for s in city.signals if s.partner_kind == partner)
        rejected = sum(1 for r in invalid if r.file == file)
        out[file] = {"read": accepted + rejected, "accepted": accepted, "rejected": rejected}
    return out


def _withdrawals(city: City, out: Path) -> None:
    for kind in ("housing", "police", "mental_health", "municipality"):
        rows = [(w.signal_id, w.reason) for w in city.withdrawals if w.partner_kind == kind]
        _csv(
            out / kind / "withdrawals.csv",
            ["signal_id", "reason"],
            rows,
            delimiter=";" if kind == "municipality" else ",",
        )


def _inquiries(city: City, path: Path) -> None:
    header = [
        "partner_kind",
        "bsn",
        "postcode",
        "huisnummer",
        "huisletter",
        "huisnummertoevoeging",
        "policy_id",
        "reason",
    ]
    rows = []
    for q in city.inquiries:
        a = city.households[q.hid].address
        rows.append(
            (
                q.partner_kind,
                "",
                a.postcode,
                str(a.huisnummer),
                a.huisletter,
                a.toevoeging,
                q.policy_id,
                q.reason,
            )
        )
    _csv(path, header, rows, delimiter=",")


def _csv(path: Path, header: list[str], rows: Sequence[tuple[str, ...]], *, delimiter: str) -> None:
    text = io.StringIO()
    w = csv_safe.writer(text, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(text.getvalue(), encoding="utf-8")


def _dump(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
