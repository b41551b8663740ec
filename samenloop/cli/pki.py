"""`samenloop pki …`: development CA, component certificates and key files for every role.

A thin shell over `crypto.devsetup`, `crypto.pki` and `crypto.keys`; the layout it writes is
documented in docs/crypto.md. These keys are for development and tests only.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from crypto.pki import DEFAULT_DNS, DEFAULT_IPS, ROLES
from samenloop.cli._app import cli_app, json_option
from samenloop.cli._errors import exit_with

app = cli_app()

_KINDS = ("ed25519", "x25519", "voprf", "hmac", "vault")


@app.command("init-ca")
def init_ca(
    directory: Path = typer.Option(
        ..., "--dir", "-d", help="Key directory; the CA goes in <dir>/ca."
    ),
) -> None:
    """Create a development CA (ECDSA P-256) in <dir>/ca."""
    from crypto.devsetup import init_ca as _init_ca

    with exit_with():
        ca = _init_ca(directory)
    typer.echo(f"CA created in {directory / 'ca'} ({ca.fingerprint()})")


@app.command()
def issue(
    directory: Path = typer.Option(..., "--dir", "-d", help="Key directory holding the CA."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    org: str = typer.Option(
        ...,
        "--org",
        help="Organisation id (slug, e.g. woonstad-rotterdam); with --oin the legal name.",
    ),
    name: str = typer.Option(..., "--name", help="Component name (the certificate CN)."),
    oin: str = typer.Option(
        None, "--oin", help="OIN (20 digits): PKIoverheid layout, OIN in subject serialNumber."
    ),
    dns: list[str] = typer.Option(
        None, "--dns", help="Extra DNS name (repeatable; <name>.samenloop.internal is always in)."
    ),
    ip: list[str] = typer.Option(None, "--ip", help="IP address (repeatable; default none)."),
) -> None:
    """Issue a TLS certificate for one component into <dir>/<name>/tls.crt and tls.key."""
    from crypto.devsetup import (
        MANIFEST,
        issue_component,
        load_ca,
        read_manifest,
        write_manifest,
    )

    with exit_with():
        ca = load_ca(directory)
        leaf, entry = issue_component(
            directory,
            ca,
            name=name,
            organisation=org,
            role=role,
            dns_names=dns or DEFAULT_DNS,
            ip_addresses=ip or DEFAULT_IPS,
            oin=oin,
        )
        if (directory / MANIFEST).exists():
            manifest = read_manifest(directory)
            manifest["components"][name] = entry
            write_manifest(directory, manifest)
    typer.echo(
        f"issued {entry['organisation']}/{role}/{name} -> {directory / name / 'tls.crt'} "
        f"({leaf.fingerprint()})"
    )


@app.command()
def keygen(
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(_KINDS)}."),
    out: Path = typer.Option(..., "--out", "-o", help="Private key file to create (mode 0600)."),
) -> None:
    """Generate one key file (and <out>.pub for ed25519, x25519 and voprf)."""
    from crypto.keys import generate_key_file

    if kind not in _KINDS:
        typer.echo(
            f"error: unknown key kind {kind!r}; expected one of {', '.join(_KINDS)}", err=True
        )
        raise typer.Exit(2)
    with exit_with():
        info = generate_key_file(kind, out)
    typer.echo(f"key_id: {info.key_id}")
    if info.public_base64 is not None:
        typer.echo(f"public_key: {info.public_base64}")
        typer.echo(f"public_file: {info.public_path}")


@app.command("dev-setup")
def dev_setup(
    directory: Path = typer.Option(
        ..., "--dir", "-d", help="New directory for all keys and certs."
    ),
    dns: list[str] = typer.Option(
        None, "--dns", help="Extra DNS name on every cert (default none; see docs/crypto.md)."
    ),
    ip: list[str] = typer.Option(None, "--ip", help="IP on every cert (default none)."),
) -> None:
    """Create the CA, every component's certificate and key files, manifest.json, a working
    configuration for every component, the officer trust file and a README listing the command
    that starts each component."""
    from crypto.devsetup import MANIFEST
    from crypto.devsetup import dev_setup as _dev_setup
    from samenloop.deploy_configs import README, write_deployment

    with exit_with():
        manifest = _dev_setup(
            directory, dns_names=dns or DEFAULT_DNS, ip_addresses=ip or DEFAULT_IPS
        )
        written = write_deployment(directory, manifest)
    typer.echo(f"development PKI written to {directory} (manifest: {directory / MANIFEST})")
    for name, comp in manifest["components"].items():
        keys = ", ".join(f"{p}={k['key_id']}" for p, k in comp["keys"].items())
        typer.echo(f"  {name:<28} {comp['organisation']}/{comp['role']}  {keys}")
    typer.echo("configuration: " + ", ".join(p.name for p in written if p.name != README))
    typer.echo(f"how to start each component: {directory / README}")


@app.command()
def identity(
    cert: Path = typer.Argument(..., help="A PEM or DER certificate."),
    as_json: bool = json_option(),
) -> None:
    """Print the caller identity (organisation, role, name) the services read from a cert."""
    from crypto.pki import identity_from_certificate

    with exit_with():
        ident = identity_from_certificate(cert.read_bytes())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "organisation": ident.organisation,
                    "organisation_name": ident.organisation_name,
                    "role": ident.role,
                    "common_name": ident.common_name,
                }
            )
        )
    else:
        typer.echo(str(ident))
