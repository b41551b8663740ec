"""`samenloop gateway`: the partner gateway's commands.

`check` validates and normalises an export without sending anything, so a partner's data
manager can fix an export before it goes out. Exit codes: 0 every row accepted, 1 some rows
rejected (the valid rows are fine; fix or drop the others), 2 the file, the mapping or the
options cannot be used at all. On a terminal, progress is shown on stderr while reading; piped
or redirected, the output is only the rejection lines and the summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer

from domain.catalogue import Catalogue, PartnerKind, load_catalogue
from domain.errors import CatalogueError, FileFormatError, MappingError
from domain.formats import (
    Counts,
    ExportKind,
    JsonReport,
    NormalisedWriter,
    PartnerMapping,
    Rejection,
    TableReader,
    load_mapping,
    read_export,
    recognise_kind,
)
from samenloop.cli._app import as_of_option, cli_app, json_option

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNUSABLE = 2

app = cli_app(help="Partner gateway: check, pseudonymise and send exports.")


@app.callback()
def _gateway() -> None:
    """Partner gateway: check, pseudonymise and send exports."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=EXIT_UNUSABLE)


def _recognised_kind(file: Path, mapping: PartnerMapping) -> ExportKind | None:
    """The kind a canonical file's header shows (None: not recognisable, or not a table with a
    header such as JSON Lines; reading it later reports why it cannot be read)."""
    try:
        with TableReader(
            file,
            fmt=mapping.format,
            encoding=mapping.encoding,
            delimiter=mapping.delimiter,
            sheet=mapping.sheet,
        ) as table:
            header = table.header
    except (FileFormatError, OSError):
        return None
    return recognise_kind(header) if header is not None else None


@contextmanager
def _progress(file: Path) -> Iterator[Any]:
    """A row counter on stderr while reading, only when stderr is a terminal; otherwise a
    no-op, so piped output holds nothing but the rejections and the summary."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("checking {task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(file.name, total=None)
        yield lambda: progress.advance(task)


@app.command()
def check(
    file: Path = typer.Argument(
        ..., help="The export to check: CSV, JSON Lines or an Excel workbook (.xlsx)."
    ),
    mapping_path: Path | None = typer.Option(
        None,
        "--mapping",
        "-m",
        help="The partner's mapping file (YAML); without it the file "
        "must use the canonical column names.",
    ),
    kind: ExportKind | None = typer.Option(
        None,
        "--kind",
        help="What the file holds (default: the mapping's kind, else what the columns show, "
        "else signals).",
    ),
    normalised: Path | None = typer.Option(
        None,
        "--normalised",
        help="Write the accepted rows in canonical form to this CSV (holds personal data: keep "
        "it inside your organisation).",
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Write a machine-readable JSON report of the rejections and counts."
    ),
    purpose: str | None = typer.Option(
        None, "--purpose", help="Purpose for rows that have none (the gateway's default)."
    ),
    partner_kind: PartnerKind | None = typer.Option(
        None,
        "--partner-kind",
        help="Check signal types against this partner kind (default: the mapping's).",
    ),
    as_of: str | None = as_of_option("Check dates as if today were this date (default: today)."),
    catalogue_path: Path | None = typer.Option(
        None, "--catalogue", help="A signal catalogue file (default: the shipped one)."
    ),
    as_json: bool = json_option(
        "Print the summary as one JSON object on stdout (rejection lines stay on stderr)."
    ),
) -> None:
    """Validate and normalise an export locally; nothing is sent.

    Rejected rows are printed to stderr as `file:line: field: reason`, then the counts. Exit
    code 0: all rows accepted; 1: some rows rejected; 2: the file or options cannot be used.
    """
    try:
        mapping = load_mapping(mapping_path) if mapping_path else PartnerMapping()
        catalogue: Catalogue = load_catalogue(catalogue_path)
    except (MappingError, CatalogueError) as exc:
        raise _fail(str(exc)) from None
    if kind is not None and mapping.kind is not None and kind is not mapping.kind:
        raise _fail(
            f"--kind {kind.value} but the mapping {mapping.source} is for {mapping.kind.value}"
        )
    today = date.today()
    if as_of is not None:
        try:
            today = date.fromisoformat(as_of)
        except ValueError:
            raise _fail("--as-of must be a date like 2025-03-31") from None
    if purpose is not None and purpose not in catalogue.purposes:
        raise _fail(f"--purpose must be one of {', '.join(catalogue.purposes)}")
    if not file.is_file():
        raise _fail(f"{file}: not a readable file")
    kind_given = kind or mapping.kind
    recognised = None if kind_given else _recognised_kind(file, mapping)
    export_kind = kind_given or recognised or ExportKind.SIGNALS
    if recognised is not None and recognised is not ExportKind.SIGNALS:
        typer.echo(
            f"note: {file} has the columns of a {recognised.value} file; checking it as "
            f"{recognised.value} (say so with --kind {recognised.value})",
            err=True,
        )
    for out in (normalised, report):
        if out is not None and out.exists() and out.resolve() == file.resolve():
            raise _fail(f"{out}: would overwrite the export being checked")

    effective_kind = partner_kind or mapping.partner_kind
    counts = Counts()
    json_report: JsonReport | None = None
    writer: NormalisedWriter | None = None
    try:
        if report is not None:
            json_report = JsonReport(
                report,
                file=str(file),
                kind=export_kind,
                meta={
                    "mapping": str(mapping_path) if mapping_path else None,
                    "partner_kind": effective_kind.value if effective_kind else None,
                    "catalogue_version": catalogue.version,
                    "checked_as_of": today.isoformat(),
                },
            )
        if normalised is not None:
            writer = NormalisedWriter(normalised, export_kind)
        with _progress(file) as tick:
            for result in read_export(
                file,
                export_kind,
                mapping,
                default_purpose=purpose,
                catalogue=catalogue,
                partner_kind=partner_kind,
                today=today,
            ):
                tick()
                counts.add(result)
                if isinstance(result, Rejection):
                    for line in result.lines():
                        sys.stderr.write(line + "\n")
                    if json_report is not None:
                        json_report.add(result)
                elif writer is not None:
                    writer.write(result)
    except FileFormatError as exc:
        if json_report is not None:
            json_report.finish(counts, complete=False, error=str(exc))
        message = str(exc)
        if not kind_given and exc.line == 1:
            others = " or ".join(
                f"--kind {k.value}" for k in ExportKind if k is not export_kind
            )
            message += (
                f" (checked as {export_kind.value}; if the file holds something else, say so "
                f"with {others})"
            )
        raise _fail(message) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or file}: {exc.strerror}") from None
    finally:
        if writer is not None:
            writer.close()
    if json_report is not None:
        json_report.finish(counts)

    if as_json:
        summary = {
            "file": str(file),
            "kind": export_kind.value,
            "mapping": str(mapping_path) if mapping_path else None,
            "partner_kind": effective_kind.value if effective_kind else None,
            "catalogue_version": catalogue.version,
            "checked_as_of": today.isoformat(),
            "counts": counts.as_dict(),
            "normalised": str(normalised) if normalised else None,
            "report": str(report) if report else None,
        }
        typer.echo(json.dumps(summary, ensure_ascii=False))
        raise typer.Exit(code=EXIT_REJECTED if counts.rejected else EXIT_OK)

    kind_note = f" as {export_kind.value}"
    details = [f"catalogue {catalogue.version}"]
    if mapping_path:
        details.append(f"mapping {mapping_path}")
    if export_kind is ExportKind.SIGNALS:
        details.append(
            f"partner kind {effective_kind.value}" if effective_kind else "partner kind not checked"
        )
    typer.echo(f"checked {file}{kind_note} ({'; '.join(details)})")
    for line in counts.summary_lines():
        typer.echo(line)
    if writer is not None:
        typer.echo(
            f"normalised: {writer.rows} accepted rows written to {normalised} "
            "(personal data: keep it inside your organisation)"
        )
    if report is not None:
        typer.echo(f"report: {report}")
    if counts.read == 0:
        typer.echo("note: the file has no data rows")
    raise typer.Exit(code=EXIT_REJECTED if counts.rejected else EXIT_OK)


# The running gateway (ingest, watch, serve, approvals, inquire, config-check).
from samenloop.cli.gateway_run import register as _register_running  # noqa: E402

_register_running(app)
