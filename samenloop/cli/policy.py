"""`samenloop policy …`: the privacy officer's tools.

Offline (no network): `new`, `lint`, `digest`, `keygen`, `sign`, `verify`, `export`.
Against the matcher, over mTLS with the officer's certificate (role `privacy_officer`):
`simulate`, `publish`, `revoke`, `list`, `fairness`. The matcher logs every one of those calls
in its audit log; this shell only sends the request and prints the answer.

The decisions are made by the pure functions in `policies` (lint, digest, approvals, in-force,
export); this module reads files, calls them, and prints for people.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from samenloop.cli._app import as_of_option, cli_app, confirm_irreversible, yes_option
from samenloop.cli._errors import exit_with
from samenloop.deploy_configs import DEFAULT_OFFICER
from services.matcher.settings import DEFAULT_BIND as MATCHER_ADDRESS

if TYPE_CHECKING:
    import grpc

    from policies.lint import LintReport

app = cli_app(help="Write, lint, sign, simulate and publish purpose-bound policies.")

EXIT_INVALID = 1
DEFAULT_TIMEOUT = 30.0


# --- shared helpers --------------------------------------------------------------------------


def _errors() -> AbstractContextManager[None]:
    """Actionable errors as one line, exit 1; anything else is a bug (traceback)."""
    return exit_with(EXIT_INVALID, peer="the matcher")


def _day(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date written YYYY-MM-DD") from None


def _clock(on: str | None) -> datetime | None:
    """The verification time: now, unless the user evaluates as of another day (`--on`)."""
    return datetime.now(UTC) if on is None else None


def _print_findings(report: LintReport, filename: str) -> None:
    for f in report.findings:
        typer.echo(f.render(filename), err=f.severity.value == "error")


def _lint_or_exit(path: Path, on: date, *, action: str) -> LintReport:
    """Lint `path`; print findings; exit 1 if it has errors (naming the refused `action`)."""
    from policies.lint import lint_file

    report = lint_file(path, today=on)
    _print_findings(report, str(path))
    if not report.ok:
        typer.echo(
            f"{path}: {len(report.errors)} error(s); refusing to {action}. Fix them and run "
            f"`samenloop policy lint {path}`.",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)
    return report


ON_OPTION = as_of_option()


# --- offline commands ------------------------------------------------------------------------


@app.command()
def new(
    out: Path = typer.Argument(None, help="Write the template here (default: print it)."),
    policy_id: str = typer.Option("nieuw-beleid", "--id", help="The policy id."),
    standing: bool = typer.Option(False, "--standing", help="Template for a standing policy."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented policy template to complete."""
    from policies.template import policy_template

    text = policy_template(
        policy_id=policy_id,
        standing=standing,
        today=date.today(),
        filename=str(out) if out else "FILE",
    )
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists() and not force:
        typer.echo(f"error: {out} exists; use --force to overwrite it", err=True)
        raise typer.Exit(EXIT_INVALID)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}; complete it, then run `samenloop policy lint {out}`", err=True)


@app.command()
def lint(
    file: Path = typer.Argument(..., help="The policy YAML file."),
    on: str = ON_OPTION,
) -> None:
    """Check the schema and the semantic rules; exit 1 on any error."""
    from policies.lint import lint_file

    with _errors():
        report = lint_file(file, today=_day(on))
    _print_findings(report, str(file))
    n_err, n_warn = len(report.errors), len(report.warnings)
    if report.ok:
        typer.echo(f"{file}: ok ({n_warn} warning(s))")
        return
    typer.echo(f"{file}: {n_err} error(s), {n_warn} warning(s)", err=True)
    raise typer.Exit(EXIT_INVALID)


@app.command()
def digest(file: Path = typer.Argument(..., help="The policy YAML file.")) -> None:
    """Print the policy digest: SHA-256 of the RFC 8785 form without approvals."""
    from policies.canonical import policy_digest
    from policies.model import load_policy

    with _errors():
        policy = load_policy(file)
    typer.echo(policy_digest(policy))


@app.command()
def keygen(
    out: Path = typer.Option(..., "--out", help="Write the private key here (mode 0600)."),
    officer: str = typer.Option(..., "--officer", help="Your officer id, as in the trust file."),
    organisation: str = typer.Option(
        ..., "--organisation", help="Your organisation id (the O of your certificate)."
    ),
    role: str = typer.Option(
        "privacy_officer", "--role", help="privacy_officer or independent_review."
    ),
) -> None:
    """Create an Ed25519 signing key; print the entry to add to the officer trust file."""
    import yaml

    from crypto.keys import KeyKind, generate_key_file
    from policies.model import ApprovalRole

    try:
        approval_role = ApprovalRole(role)
    except ValueError:
        raise typer.BadParameter("role must be privacy_officer or independent_review") from None
    with _errors():
        info = generate_key_file(KeyKind.ED25519, out)
    entry = {
        "officer_id": officer,
        "organisation": organisation,
        "role": approval_role.value,
        "public_key": info.public_base64,
        "key_id": info.key_id,
    }
    typer.echo(f"wrote {out} (keep it private) and {info.public_path}", err=True)
    typer.echo("# add to the officer trust file under `officers:`")
    typer.echo(yaml.safe_dump([entry], sort_keys=False), nl=False)


@app.command()
def sign(
    file: Path = typer.Argument(..., help="The policy YAML file; the approval is appended to it."),
    key: Path = typer.Option(..., "--key", help="Your Ed25519 key file."),
    officer: str = typer.Option(..., "--officer", help="Your officer id, as in the trust file."),
    role: str = typer.Option(
        "privacy_officer", "--role", help="privacy_officer or independent_review."
    ),
    trust_file: Path = typer.Option(
        None, "--officer-trust",
        help="Officer trust file; checks your key is registered for you."
    ),
    on: str = ON_OPTION,
) -> None:
    """Add your approval (Ed25519 over the digest). Refuses a policy that does not lint.

    If your earlier approval no longer matches (the policy changed since you signed it), it is
    stale: it is replaced by the new one, with a notice.
    """
    from policies.approvals import check_approvals, prior_approval, sign_policy
    from policies.canonical import policy_digest
    from policies.model import ApprovalRole, load_policy
    from policies.trust import load_trust
    from policies.yamledit import append_approval, replace_approval

    try:
        approval_role = ApprovalRole(role)
    except ValueError:
        raise typer.BadParameter("role must be privacy_officer or independent_review") from None
    day = _day(on)
    now = datetime.now(UTC)
    with _errors():
        _lint_or_exit(file, day, action="sign it")
        policy = load_policy(file)
        signing_key = _load_signing_key(key)
        trust = load_trust(trust_file) if trust_file else None
        if trust is not None:
            _check_registered(trust, trust_file, signing_key.key_id, officer, approval_role)
        prior = prior_approval(
            policy, officer_id=officer, role=approval_role, key=signing_key, trust=trust, now=now
        )
        if prior is not None and not prior.stale:
            typer.echo(
                f"error: {officer} already approved this version of {policy.ref} as "
                f"{approval_role.value} (at {prior.approval.signed_at}) and that approval still "
                "holds; one officer counts once, nothing was written",
                err=True,
            )
            raise typer.Exit(EXIT_INVALID)
        approval = sign_policy(
            policy,
            signing_key,
            officer_id=officer,
            role=approval_role,
            now=now,
            replaces=prior.index if prior else None,
        )
        text = file.read_text(encoding="utf-8")
        new_text = (
            replace_approval(text, prior.index, approval)
            if prior
            else append_approval(text, approval)
        )
        signed_policy = _load_policy_text(new_text)
        checks = check_approvals(signed_policy, trust, now=now) if trust is not None else ()
        mine = prior.index if prior else len(signed_policy.approvals) - 1
        if checks and not checks[mine].valid:  # pragma: no cover - would be a bug in sign_policy
            typer.echo(f"error: the new approval does not verify: {checks[mine].reason}", err=True)
            raise typer.Exit(EXIT_INVALID)
        file.write_text(new_text, encoding="utf-8")
    if prior is not None:
        typer.echo(
            f"note: your approval of {prior.approval.signed_at} was stale ({prior.reason}); "
            "it is replaced by this one. You approve the policy as it is now: review what "
            "changed since then.",
            err=True,
        )
    for i, check in enumerate(checks):
        if i != mine and not check.valid:
            typer.echo(
                f"note: the approval by {check.approval.officer_id} "
                f"({check.approval.role.value}, {check.approval.signed_at}) does not count: "
                f"{check.reason}. Ask them to sign again.",
                err=True,
            )
    typer.echo(
        f"signed {policy.ref} digest {policy_digest(policy)} as {officer} "
        f"({approval_role.value}); the file now has {len(signed_policy.approvals)} approval(s)"
    )
    if trust is None:
        typer.echo(
            "note: no --officer-trust given; whether this approval counts depends on the trust "
            "file the matcher and gateways use (check with `samenloop policy verify "
            "--officer-trust`).",
            err=True,
        )


def _check_registered(
    trust: Any, trust_file: Path, key_id: str, officer: str, role: Any
) -> None:
    """Exit 1 unless `key_id` is registered in the trust file for `officer` in `role`."""
    registered = trust.by_key_id(key_id)
    if registered is None:
        typer.echo(
            f"error: key {key_id} is not in {trust_file}; an approval with it would not count. "
            "Register the key first (samenloop policy keygen prints the entry).",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)
    if registered.officer_id != officer or registered.role is not role:
        typer.echo(
            f"error: key {key_id} is registered for {registered.officer_id} "
            f"as {registered.role.value}, not {officer} as {role.value}",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)


def _load_signing_key(path: Path) -> Any:
    from crypto.keys import load_signing_key

    return load_signing_key(path)


def _load_policy_text(text: str) -> Any:
    from policies.model import parse_policy
    from policies.source import parse_yaml

    source = parse_yaml(text)
    return parse_policy(source.document, source)


@app.command()
def verify(
    file: Path = typer.Argument(..., help="The signed policy YAML file."),
    trust_file: Path = typer.Option(..., "--officer-trust", help="Officer trust file."),
    revoked: list[str] = typer.Option(
        [], "--revoked", help="A revoked policy id, id@version or digest (repeatable)."
    ),
    on: str = ON_OPTION,
) -> None:
    """Show who signed what and whether the policy is in force; exit 1 if it is not."""
    from policies.in_force import in_force
    from policies.model import load_policy
    from policies.trust import load_trust

    day = _day(on)
    with _errors():
        policy = load_policy(file)
        trust = load_trust(trust_file)
    # Without --on the approvals are checked against this workstation's clock; with it, against
    # the end of that day (a policy is not in force on a day before it was approved).
    verdict = in_force(policy, trust, day, revoked=set(revoked), now=_clock(on))
    typer.echo(f"policy   {policy.ref} ({policy.mode.value})")
    typer.echo(f"digest   {verdict.digest}")
    typer.echo(f"validity {policy.valid_from} .. {policy.valid_until}")
    if not verdict.approvals:
        typer.echo("approvals: none")
    for check in verdict.approvals:
        a = check.approval
        state = "valid" if check.valid else f"NOT VALID: {check.reason}"
        typer.echo(f"  {a.officer_id:<20} {a.role.value:<18} {a.signed_at}  {a.key_id}  {state}")
    if verdict.in_force:
        typer.echo(f"IN FORCE on {day}")
        return
    typer.echo(f"NOT IN FORCE on {day}:")
    for reason in verdict.reasons:
        typer.echo(f"  - {reason}")
    raise typer.Exit(EXIT_INVALID)


@app.command()
def export(
    file: Path = typer.Argument(..., help="The policy YAML file."),
    fmt: str = typer.Option(..., "--format", help="Only `algoritmeregister`."),
    markdown: bool = typer.Option(
        False, "--markdown", help="Write Markdown for people instead of the register's JSON."
    ),
    contact: str = typer.Option(
        "", "--contact", help="Contact e-mail or URL for the register (required there)."
    ),
    out: Path = typer.Option(None, "--out", help="Write here (default: print)."),
    on: str = ON_OPTION,
) -> None:
    """The public description of a policy, fit for the national Algoritmeregister."""
    from policies.export import algoritmeregister, to_markdown
    from policies.model import load_policy

    if fmt != "algoritmeregister":
        raise typer.BadParameter("the only export format is algoritmeregister")
    with _errors():
        policy = load_policy(file)
    entry = algoritmeregister(policy, today=_day(on), contact=contact)
    text = (
        json.dumps(entry, ensure_ascii=False, indent=2) + "\n"
        if not markdown
        else to_markdown(entry)
    )
    if not contact:
        typer.echo(
            "note: the register requires contact details; pass --contact (left empty).", err=True
        )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


# --- commands that talk to the matcher -------------------------------------------------------

MATCHER_OPTION = typer.Option(
    MATCHER_ADDRESS,
    "--matcher",
    envvar="SAMENLOOP_MATCHER",
    help="The matcher's address HOST:PORT (or $SAMENLOOP_MATCHER); default: the matcher's "
    "default `bind`.",
)
TLS_DIR_OPTION = typer.Option(
    None,
    "--tls-dir",
    envvar="SAMENLOOP_TLS_DIR",
    help="A `pki dev-setup` style folder: ca/ca.crt, NAME/tls.crt, NAME/tls.key.",
)
TLS_NAME_OPTION = typer.Option(
    DEFAULT_OFFICER,
    "--tls-name",
    envvar="SAMENLOOP_TLS_NAME",
    help="Your certificate's name (file or component folder) in --tls-dir.",
)
CA_OPTION = typer.Option(None, "--ca", help="CA certificate (instead of --tls-dir).")
CERT_OPTION = typer.Option(None, "--cert", help="Your client certificate (role privacy_officer).")
KEY_OPTION = typer.Option(None, "--tls-key", help="Your client certificate's private key.")
SERVER_NAME_OPTION = typer.Option(
    None,
    "--server-name",
    help="DNS name to check in the matcher's certificate (default matcher.samenloop.internal).",
)


class _Remote:
    def __init__(
        self,
        matcher: str | None,
        tls_dir: Path | None,
        tls_name: str,
        ca: Path | None,
        cert: Path | None,
        key: Path | None,
        server_name: str | None,
    ) -> None:
        from services.common.tls import TlsMaterial

        if not matcher:
            raise typer.BadParameter("give the matcher's address with --matcher HOST:PORT")
        if ca and cert and key:
            self.material = TlsMaterial(ca_cert=ca, cert=cert, key=key)
        elif tls_dir:
            self.material = TlsMaterial.from_dir(tls_dir, tls_name)
        else:
            raise typer.BadParameter(
                "give your TLS files with --tls-dir DIR (or --ca, --cert and --tls-key)"
            )
        self.target = matcher
        self.server_name = server_name

    @contextmanager
    def stub(self) -> Iterator[Any]:
        from samenloop.v1 import policy_pb2_grpc
        from services.common.tls import secure_channel

        channel: grpc.Channel = secure_channel(
            self.target, self.material, server_role="matcher", server_name=self.server_name
        )
        try:
            yield policy_pb2_grpc.PolicyServiceStub(channel)
        finally:
            channel.close()


def _remote(
    matcher: str | None,
    tls_dir: Path | None,
    tls_name: str,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    server_name: str | None,
) -> _Remote:
    return _Remote(matcher, tls_dir, tls_name, ca, cert, key, server_name)


def _state_name(state: Any) -> str:
    from samenloop.v1 import policy_pb2

    name: str = policy_pb2.PolicyState.Name(state)
    return name.removeprefix("POLICY_STATE_").lower()


def _print_published(p: Any) -> None:
    typer.echo(f"policy   {p.policy_id}@{p.version}  ({p.name})")
    typer.echo(f"state    {_state_name(p.state)}")
    if p.state_reason:
        typer.echo(f"why      {p.state_reason}")
    typer.echo(f"digest   {p.digest}")
    if p.HasField("publish_time"):
        typer.echo(f"published {p.publish_time.ToDatetime(tzinfo=UTC).isoformat()}")
    if p.revoke_reason:
        typer.echo(
            f"revoked  {p.revoke_time.ToDatetime(tzinfo=UTC).isoformat()}: {p.revoke_reason}"
        )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@app.command()
def simulate(
    file: Path = typer.Argument(..., help="The policy YAML file (signatures not needed)."),
    on: str = ON_OPTION,
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """Preview on today's pseudonymous data: flagged households by domains and area (<5 hidden)."""
    from samenloop.v1 import policy_pb2

    day = _day(on)
    remote = _remote(matcher, tls_dir, tls_name, ca, cert, key, server_name)
    with _errors():
        _lint_or_exit(file, day, action="simulate it")
        request = policy_pb2.SimulatePolicyRequest(
            document=file.read_bytes(), evaluate_on=day.isoformat() if on else ""
        )
        with remote.stub() as stub:
            resp = stub.SimulatePolicy(request, timeout=DEFAULT_TIMEOUT)
    typer.echo(f"simulation of {resp.policy_id} on {resp.evaluate_on} (no alerts were created)")
    typer.echo(f"households evaluated: {resp.households_evaluated.display}")
    typer.echo(f"households flagged:   {resp.households_flagged.display}")
    typer.echo("")
    typer.echo("by combination of life domains")
    _table(
        ["life domains", "households"],
        [[" + ".join(c.domains), c.households.display] for c in resp.by_domains],
    )
    typer.echo("")
    typer.echo("by area")
    _table(["area", "households"], [[c.area_code, c.households.display] for c in resp.by_area])
    typer.echo("")
    typer.echo("counts below 5 are shown as <5, and so are cells that would reveal one.")


@app.command()
def publish(
    file: Path = typer.Argument(..., help="The signed policy YAML file."),
    trust_file: Path = typer.Option(
        None, "--officer-trust", help="Check locally that it is in force before sending."
    ),
    on: str = ON_OPTION,
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """Publish a signed policy; the matcher verifies it itself and refuses one not in force."""
    from policies.canonical import policy_digest
    from policies.in_force import in_force
    from policies.model import load_policy
    from policies.trust import load_trust
    from samenloop.v1 import policy_pb2

    day = _day(on)
    remote = _remote(matcher, tls_dir, tls_name, ca, cert, key, server_name)
    with _errors():
        _lint_or_exit(file, day, action="publish it")
        policy = load_policy(file)
        local_digest = policy_digest(policy)
        if trust_file is not None:
            verdict = in_force(policy, load_trust(trust_file), day, now=_clock(on))
            if not verdict.in_force:
                typer.echo(
                    "error: not in force, so the matcher would refuse it: "
                    + "; ".join(verdict.reasons),
                    err=True,
                )
                raise typer.Exit(EXIT_INVALID)
        with remote.stub() as stub:
            published = stub.PublishPolicy(
                policy_pb2.PublishPolicyRequest(document=file.read_bytes()),
                timeout=DEFAULT_TIMEOUT,
            )
    _print_published(published)
    if published.digest != local_digest:
        typer.echo(
            f"error: the matcher reports digest {published.digest}, but this file's digest is "
            f"{local_digest}; do not rely on this publication and tell the matcher operator.",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)


def _revocation_reasons() -> list[str]:
    from policies.revocation import revocation_reasons

    return list(revocation_reasons())


@app.command()
def revoke(
    policy_id: str = typer.Argument(..., help="The policy id."),
    reason: str = typer.Option(
        ..., "--reason", help="A reason code: " + ", ".join(_revocation_reasons()) + "."
    ),
    signing_key: Path = typer.Option(..., "--key", help="Your Ed25519 key file (as for sign)."),
    officer: str = typer.Option(..., "--officer", help="Your officer id, as in the trust file."),
    digest: str = typer.Option(
        None, "--digest", help="Revoke only if the published document has this digest."
    ),
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    tls_key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
    yes: bool = yes_option(),
) -> None:
    """Revoke a policy with your signed statement: matching under it stops at once; open
    alerts stay for the team. Only a privacy officer of the controller can; one suffices."""
    import base64

    from policies.revocation import sign_revocation
    from samenloop.v1 import policy_pb2

    if reason not in _revocation_reasons():
        raise typer.BadParameter(
            f"{reason!r} is not a reason code; use one of: {', '.join(_revocation_reasons())}"
        )
    confirm_irreversible(
        f"Revoke policy {policy_id}? Matching under it stops at once; this cannot be undone.",
        yes=yes,
        command="policy revoke",
    )
    remote = _remote(matcher, tls_dir, tls_name, ca, cert, tls_key, server_name)
    with _errors():
        key = _load_signing_key(signing_key)
        with remote.stub() as stub:
            current = stub.GetPolicy(
                policy_pb2.GetPolicyRequest(name=f"policies/{policy_id}"), timeout=DEFAULT_TIMEOUT
            )
            if digest is not None and digest != current.digest:
                typer.echo(
                    f"error: the published {current.policy_id}@{current.version} has digest "
                    f"{current.digest}, not {digest}; nothing was revoked",
                    err=True,
                )
                raise typer.Exit(EXIT_INVALID)
            statement = sign_revocation(
                policy_id=current.policy_id,
                version=current.version,
                digest=current.digest,
                reason=reason,
                key=key,
                officer_id=officer,
                now=datetime.now(UTC),
            )
            revoked = stub.RevokePolicy(
                policy_pb2.RevokePolicyRequest(
                    name=f"policies/{policy_id}",
                    revocation=policy_pb2.PolicyRevocation(
                        **{k: v for k, v in statement.to_document().items() if k != "signature"},
                        signature=base64.b64decode(statement.signature),
                    ),
                ),
                timeout=DEFAULT_TIMEOUT,
            )
    _print_published(revoked)
    if revoked.HasField("revocation"):
        r = revoked.revocation
        typer.echo(f"signed by {r.officer_id} ({r.key_id}) at {r.revoked_at}")



@app.command("list")
def list_(
    include_inactive: bool = typer.Option(
        False, "--all", help="Include revoked and out-of-validity policies."
    ),
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """List published policies."""
    from samenloop.v1 import policy_pb2

    remote = _remote(matcher, tls_dir, tls_name, ca, cert, key, server_name)
    rows: list[list[str]] = []
    with _errors(), remote.stub() as stub:
        token = ""
        while True:
            resp = stub.ListPolicies(
                policy_pb2.ListPoliciesRequest(
                    page_size=100, page_token=token, include_inactive=include_inactive
                ),
                timeout=DEFAULT_TIMEOUT,
            )
            for p in resp.policies:
                published = (
                    p.publish_time.ToDatetime(tzinfo=UTC).date().isoformat()
                    if p.HasField("publish_time")
                    else ""
                )
                rows.append(
                    [p.policy_id, str(p.version), _state_name(p.state), p.digest[:16], published]
                )
            token = resp.next_page_token
            if not token:
                break
    if not rows:
        typer.echo("no published policies" + ("" if include_inactive else " in force (try --all)"))
        return
    _table(["policy", "version", "state", "digest", "published"], rows)


@app.command()
def fairness(
    policy_id: str = typer.Argument(..., help="The policy id."),
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """Alerts per area against signals per area, so disproportion shows (<5 hidden)."""
    from policies.fairness import DISPROPORTION_THRESHOLD
    from samenloop.v1 import policy_pb2

    remote = _remote(matcher, tls_dir, tls_name, ca, cert, key, server_name)
    with _errors(), remote.stub() as stub:
        report = stub.GetFairnessReport(
            policy_pb2.GetFairnessReportRequest(name=f"policies/{policy_id}"),
            timeout=DEFAULT_TIMEOUT,
        )
    rows = []
    for r in report.rows:
        shown = not (r.signals.suppressed or r.alerts.suppressed) and r.relative_rate > 0
        rate = f"{r.relative_rate:.2f}" if shown else "-"
        mark = (
            "  <- out of proportion?"
            if shown and r.relative_rate >= DISPROPORTION_THRESHOLD
            else ""
        )
        rows.append([r.area_code, r.signals.display, r.alerts.display, rate + mark])
    typer.echo(f"fairness of {report.policy_id}: alerts per signal in an area / overall")
    if not rows:
        typer.echo("no areas with signals yet")
        return
    _table(["area", "signals", "alerts", "relative rate"], rows)
    typer.echo(
        f"counts below 5 are shown as <5 (and cells that would reveal one); a rate of "
        f"{DISPROPORTION_THRESHOLD} or more is marked for a closer look, not a verdict."
    )
