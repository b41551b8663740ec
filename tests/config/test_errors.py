"""Operator mistakes end in one line saying what is wrong and what to do, with a non-zero exit
and no traceback (issue 11): port in use, database unreachable, unsupported database URL,
missing or unreadable key or certificate, expired certificate."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from typer.testing import CliRunner

from crypto.devsetup import load_ca
from samenloop.cli.main import app


def run(*args: str, **env: str) -> tuple[int, list[str]]:
    """`samenloop ARGS` in this process (fast): exit code and output lines."""
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.output.strip().splitlines()


def run_process(*args: str, **env: str) -> tuple[int, list[str]]:
    """`samenloop ARGS` as its own process (as an operator runs it); exit code, stderr lines.
    Used where something other than our code could write to stderr (gRPC's C core)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAMENLOOP_")}
    environment.update(env)
    done = subprocess.run([sys.executable, "-m", "samenloop.cli.main", *args], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stderr.strip().splitlines()


def assert_one_line(code: int, lines: list[str], *expected: str) -> None:
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_pseudonymiser_port_in_use(deployment: Path, busy_port: int) -> None:
    code, lines = run_process(
        "pseudonymiser", "serve", "--config", str(deployment / "pseudonymiser.yaml"),
        SAMENLOOP_PSEUDONYMISER__BIND=f"127.0.0.1:{busy_port}")
    assert_one_line(code, lines, f"cannot listen on 127.0.0.1:{busy_port}: the address is in "
                    "use; stop what listens there or choose another `bind`")


def test_matcher_port_in_use(deployment: Path, busy_port: int) -> None:
    config = str(deployment / "matcher.yaml")
    assert run("matcher", "migrate", "--config", config)[0] == 0
    code, lines = run_process("matcher", "serve", "--config", config, "--bind",
                              f"localhost:{busy_port}")
    assert_one_line(code, lines, f"cannot listen on localhost:{busy_port}: the address is in use")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_postgresql_unreachable(deployment: Path, command: str) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/samenloop"
    code, lines = run_process("matcher", command, "--config", str(deployment / "matcher.yaml"),
                              SAMENLOOP_MATCHER__DATABASE_URL=url)
    assert_one_line(code, lines, f"cannot connect to the database {url} (",
                    "check that the database server runs and that `database_url` names it")


@pytest.mark.parametrize("command", ["migrate", "serve", "purge"])
def test_unsupported_database_url(deployment: Path, command: str) -> None:
    extra = ["--yes"] if command == "purge" else []
    code, lines = run("matcher", command, "--config", str(deployment / "matcher.yaml"), *extra,
                      SAMENLOOP_MATCHER__DATABASE_URL="mysql://samenloop@db/samenloop")
    assert_one_line(code, lines, "`database_url` (environment variable "
                    "SAMENLOOP_MATCHER__DATABASE_URL): unsupported database 'mysql'; use "
                    "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB")


@pytest.mark.parametrize(("role", "file", "key"), [
    ("pseudonymiser", "pseudonymiser/voprf.key", "voprf_key"),
    ("pseudonymiser", "pseudonymiser/tls.crt", "tls.cert"),
    ("matcher", "matcher/hmac.key", "hmac_key"),
    ("matcher", "ca/ca.crt", "tls.ca"),
])
def test_missing_key_or_certificate(deployment: Path, role: str, file: str, key: str) -> None:
    (deployment / file).unlink()
    code, lines = run(role, "serve", "--config", str(deployment / f"{role}.yaml"))
    assert_one_line(code, lines, f"{role}.yaml", f"`{key}`: {deployment / file} does not exist;"
                    " create it or correct the path")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_certificate(deployment: Path) -> None:
    (deployment / "pseudonymiser" / "tls.crt").chmod(0)
    code, lines = run("pseudonymiser", "serve", "--config", str(deployment / "pseudonymiser.yaml"))
    assert_one_line(code, lines, "cannot be read by this user")


def test_a_file_that_is_not_a_certificate(deployment: Path) -> None:
    (deployment / "matcher" / "tls.crt").write_text("not a certificate\n")
    code, lines = run("matcher", "config-check", str(deployment / "matcher.yaml"))
    assert_one_line(code, lines, f"`tls`: the certificate {deployment}/matcher/tls.crt is not a "
                    "PEM certificate")


def test_a_key_that_belongs_to_another_certificate(deployment: Path) -> None:
    os.replace(deployment / "matcher" / "tls.key", deployment / "pseudonymiser" / "other.key")
    (deployment / "pseudonymiser" / "tls.key").rename(deployment / "matcher" / "tls.key")
    code, lines = run("matcher", "config-check", str(deployment / "matcher.yaml"))
    assert_one_line(code, lines, f"the TLS private key {deployment}/matcher/tls.key does not "
                    f"belong to the certificate {deployment}/matcher/tls.crt")


def _expire(deployment: Path, component: str) -> str:
    """Re-issue the component's certificate (same key, same subject) with a past validity."""
    ca = load_ca(deployment)
    cert_path = deployment / component / "tls.crt"
    current = x509.load_pem_x509_certificate(cert_path.read_bytes())
    until = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(current.subject).issuer_name(ca.certificate.subject)
               .public_key(current.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(until - dt.timedelta(days=30)).not_valid_after(until))
    for extension in current.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    expired = builder.sign(ca.key, hashes.SHA256())
    cert_path.write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    return f"the certificate {cert_path} expired on 2024-03-01 12:00 UTC; issue a new one"


@pytest.mark.parametrize("command", ["config-check", "serve"])
def test_expired_certificate(deployment: Path, command: str) -> None:
    expected = _expire(deployment, "pseudonymiser")
    config = str(deployment / "pseudonymiser.yaml")
    args = [command, config] if command == "config-check" else [command, "--config", config]
    code, lines = run("pseudonymiser", *args)
    assert_one_line(code, lines, expected)


def test_an_expired_client_certificate_is_said_before_any_connection(deployment: Path) -> None:
    expected = _expire(deployment, "fg-gemeente-rotterdam")
    code, lines = run("policy", "list", "--tls-dir", str(deployment),
                      "--matcher", f"127.0.0.1:{_closed_port()}")
    assert_one_line(code, lines, expected)


def test_a_world_readable_tls_key_is_refused_when_serving(deployment: Path) -> None:
    key = deployment / "pseudonymiser" / "tls.key"
    key.chmod(0o644)
    code, lines = run("pseudonymiser", "serve", "--config", str(deployment / "pseudonymiser.yaml"))
    assert_one_line(code, lines, f"run: chmod 600 {key}")
