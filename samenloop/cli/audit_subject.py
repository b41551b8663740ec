"""`samenloop audit subject`: subject access (AVG art. 15), run at a gateway (ADR 0024).

The BSN or address is pseudonymised with the gateway's configuration (`--config`), and the
matcher is asked with the privacy officer's own certificate (`--tls-dir`/`--tls-name`, or
`--cert`/`--tls-key`), which must be of the gateway's organisation. Output: a table (`text`),
every field (`json`), or a letter in Dutch for the data subject (`html`). Exit 0 when the
answer was printed or written (also when nothing was found); 2 when the configuration, a
certificate, the value given or a peer could not be used.
"""

from __future__ import annotations

import sys
import uuid
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from samenloop.cli.gateway_run import CONFIG, EXIT_OK, EXIT_UNUSABLE


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


def subject(
    config: Path = CONFIG,
    bsn: str | None = typer.Option(None, "--bsn", help="The person's BSN."),
    address: str | None = typer.Option(
        None, "--address", help='The household\'s postcode and house number, e.g. "3072AB 14".'),
    tls_dir: Path | None = typer.Option(
        None, "--tls-dir", envvar="SAMENLOOP_TLS_DIR",
        help="A `pki dev-setup` style folder with NAME/tls.crt and NAME/tls.key."),
    tls_name: str | None = typer.Option(
        None, "--tls-name", envvar="SAMENLOOP_TLS_NAME",
        help="Your officer certificate's folder name in --tls-dir."),
    cert: Path | None = typer.Option(
        None, "--cert", help="Your client certificate (role privacy_officer)."),
    tls_key: Path | None = typer.Option(
        None, "--tls-key", help="Your client certificate's private key."),
    output_format: Format = typer.Option(
        Format.TEXT, "--format", help="text: a table; json: every field; html: a letter in "
        "Dutch for the data subject."),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file instead of standard output."),
) -> None:
    """Every central audit entry about one person (--bsn) or household (--address).

    Signals held, alerts, disclosures and who viewed them, as far as your certificate's
    organisation may see (all of it for the controller's officers). The identity is
    pseudonymised here; the matcher never sees it, and no log line holds it.
    """
    from samenloop.cli.gateway_run import _one_line_errors, _start
    from services.common.tls import TlsMaterial
    from services.partner_gateway import subject_access, subject_report

    if (bsn is None) == (address is None):
        typer.echo("error: give exactly one of --bsn or --address", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    with _one_line_errors():
        gw = _start(config)
        try:
            if cert is not None and tls_key is not None:
                material = TlsMaterial(ca_cert=gw.settings.tls.ca, cert=cert, key=tls_key)
            elif tls_dir is not None and tls_name:
                material = TlsMaterial.from_dir(tls_dir, tls_name)
            else:
                typer.echo("error: give your privacy officer certificate with --tls-dir DIR "
                           "--tls-name NAME, or --cert and --tls-key", err=True)
                raise typer.Exit(EXIT_UNUSABLE)
            officer = subject_access.officer_for(gw, material)
            who = (subject_access.subject_from_bsn(bsn) if bsn is not None
                   else subject_access.subject_from_address(str(address)))
            entries = subject_access.lookup(gw, officer, who, uuid.uuid4().hex)
            controller = gw.settings.controller
        finally:
            gw.close()
    if output_format is Format.HTML:
        text = subject_report.render_letter(
            entries, organisation=officer.organisation, subject_kind=who.kind,
            whole_log=controller is not None and officer.organisation == controller,
            today=date.today())
    elif output_format is Format.JSON:
        text = subject_report.render_json(entries)
    else:
        text = subject_report.render_text(entries)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(entries)} entries; {output_format.value} written to {out}", err=True)
    raise typer.Exit(EXIT_OK)
