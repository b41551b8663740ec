"""Typed settings: the files `pki dev-setup` writes validate, and every mistake an operator can
make in them is one line naming the file, the key and the fix (issue 11)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from samenloop.cli.main import app

runner = CliRunner()


def check(role: str, config: Path, *extra: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, [role, "config-check", str(config), *extra])
    return result.exit_code, result.output.strip().splitlines()


def edit(config: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(config.read_text())
    change(data)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.fixture(autouse=True)
def _clean_environment() -> Iterator[None]:
    """No SAMENLOOP_* override from the outside leaks into these tests."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SAMENLOOP_")}
    for k in saved:
        del os.environ[k]
    yield
    for k in [k for k in os.environ if k.startswith("SAMENLOOP_")]:
        del os.environ[k]
    os.environ.update(saved)


@pytest.mark.parametrize("role", ["pseudonymiser", "matcher"])
def test_generated_configs_validate_and_print_paths_never_secrets(
    deployment: Path, role: str
) -> None:
    code, lines = check(role, deployment / f"{role}.yaml", "--json")
    assert code == 0, lines
    text = "\n".join(lines)
    effective = json.loads(text[: text.rindex("}") + 1])
    assert effective["tls"]["key"] == str(deployment / role / "tls.key")
    assert lines[-1].endswith("configuration OK")
    manifest = json.loads((deployment / "manifest.json").read_text())
    for key in manifest["components"][role]["keys"].values():
        secret = json.loads((deployment / key["file"]).read_text())["secret"]
        assert secret not in text
    assert "PRIVATE KEY" not in text


def test_config_check_prints_yaml_with_defaults_filled_in(deployment: Path) -> None:
    code, lines = check("matcher", deployment / "matcher.yaml")
    assert code == 0
    effective = yaml.safe_load("\n".join(lines[:-1]))
    assert effective["database_url"] == f"sqlite:///{deployment}/matcher-data/matcher.sqlite"
    assert effective["inquiries"] == {"per_minute": 10, "per_day": 200}
    assert effective["controller"] == "gemeente-rotterdam"
    assert effective["max_batch_rows"] == 10_000


def test_config_check_warns_about_a_partner_without_disclosure_key(deployment: Path) -> None:
    """dev-setup registers every gateway's key; one left out is said, the check still passes
    (the partner can send signals, but every sealed disclosure from it is refused)."""
    code, lines = check("matcher", deployment / "matcher.yaml")
    assert code == 0 and not [line for line in lines if line.startswith("warning:")]
    config = edit(deployment / "matcher.yaml",
                  lambda d: d["partners"]["politie-rotterdam"].pop("disclosure_key"))
    code, lines = check("matcher", config)
    assert code == 0, lines
    assert [line for line in lines if line.startswith("warning:")] == [
        f"warning: {config}: partners.politie-rotterdam: no disclosure_key, so every sealed "
        "disclosure from it is refused (FAILED_PRECONDITION, DISCLOSURE_KEY_NOT_REGISTERED); "
        "register the gateway's disclosure.key.pub as partners.politie-rotterdam.disclosure_key"]


# Each row: the service, a change to its generated config, the line the operator must see.
MISTAKES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("pseudonymiser", lambda d: d.update(max_batch_sise=10),
     ":{line}: `max_batch_sise`: unknown setting; did you mean `max_batch_size`?"),
    ("pseudonymiser", lambda d: d.update(quota={"defualt": {"daily_elements": 1}}),
     "`quota`: unknown setting; per-partner limits are now `organisations: {ORG: "),
    ("pseudonymiser", lambda d: d.update(organisaties={"x": {}}),
     "`organisaties`: unknown setting; did you mean `organisations`?"),
    ("pseudonymiser",
     lambda d: d["organisations"]["woonstad-rotterdam"].update(daily_element=5),
     "`organisations.woonstad-rotterdam.daily_element`: unknown setting; did you mean "
     "`daily_elements`?"),
    ("matcher", lambda d: d.update(inquiries={"per_minut": 5}),
     "`inquiries.per_minut`: unknown setting; did you mean `per_minute`?"),
    ("matcher", lambda d: d["tls"].update(ca_cert=d["tls"].pop("ca")),
     "`tls.ca_cert`: unknown setting; did you mean `ca`?"),
    ("pseudonymiser", lambda d: d.update(bind="localhost"),
     "`bind`: 'localhost' has no port; write HOST:PORT, e.g. localhost:7401"),
    ("pseudonymiser", lambda d: d.update(bind="127.0.0.1:99999"),
     "`bind`: port '99999' in '127.0.0.1:99999' is not a number from 0 (any free port) to 65535"),
    ("matcher", lambda d: d.update(bind=":7000"),
     "`bind`: ':7000' has no port; write HOST:PORT"),
    ("matcher", lambda d: d.update(municipality="0599"),
     "`municipality`: '0599' is not a CBS municipality code; write GM and four digits"),
    ("pseudonymiser", lambda d: d.update(max_batch_size=0),
     "`max_batch_size`: must be at least 1, got 0"),
    ("pseudonymiser",
     lambda d: d["organisations"]["woonstad-rotterdam"].update(daily_elements=0),
     "`organisations.woonstad-rotterdam.daily_elements`: must be greater than 0, got 0"),
    ("pseudonymiser",
     lambda d: d["organisations"]["woonstad-rotterdam"].update(burst=10),
     "`organisations.woonstad-rotterdam.burst` (10) is below `max_batch_size` (1000)"),
    ("pseudonymiser", lambda d: d.update(organisations={}),
     "`organisations`: must not be empty"),
    ("pseudonymiser", lambda d: d.update(voprf_key="nowhere/voprf.key"),
     "`voprf_key`: {dir}/nowhere/voprf.key does not exist; create it or correct the path"),
    ("matcher", lambda d: d.update(max_workers="many"),
     "`max_workers`: must be a whole number, got 'many'"),
    ("matcher", lambda d: d["partners"]["ggz-delfland"].update(kind="hospital"),
     "`partners.ggz-delfland.kind`: must be one of 'housing', 'police', 'mental_health' or "
     "'municipality', got 'hospital'"),
    ("matcher", lambda d: d.pop("controller"),
     "`controller`: missing required setting (the organisation id of the municipality whose "
     "college of B&W is the controller; its officers publish and revoke policies); add it"),
    ("matcher", lambda d: d.update(database_url="mysql://user@db/samenloop"),
     "`database_url`: unsupported database 'mysql'; use sqlite:///PATH or "
     "postgresql+psycopg://USER@HOST:PORT/DB"),
    ("matcher", lambda d: d.update(database_url="postgresql://app:hunter2@db/samenloop"),
     "`database_url`: the database URL holds a password; secrets come only from files"),
    ("matcher", lambda d: d.update(pseudonymiser_key_ids=["voprf:xyz"]),
     "`pseudonymiser_key_ids.0`: 'voprf:xyz' is not a pseudonymiser key id"),
    ("matcher", lambda d: d.update(officer_trust="officers.yml"),
     "`officer_trust`: {dir}/officers.yml does not exist"),
    ("matcher", lambda d: d.update(logboek={
        "processing_activity_uri": "https://register.example.nl/verwerkingsactiviteiten/"}),
     "`logboek.processing_activity_uri`: 'https://register.example.nl/verwerkingsactiviteiten/' "
     "must contain {id} exactly once"),
    ("matcher", lambda d: d.update(logboek={"organisation_uri": "register/{organisation}"}),
     "`logboek.organisation_uri`: 'register/{organisation}' is not an absolute http(s) URI"),
    ("matcher", lambda d: d.update(logboek={"export": {"endpoint": "logboek:4317",
                                                       "ca": "ca/ca.crt",
                                                       "cert": "matcher/tls.crt"}}),
     "`logboek.export`: give both `cert` and `key` for a client certificate, or neither"),
]


@pytest.mark.parametrize(("role", "change", "expected"), MISTAKES,
                         ids=[m[2][:40] for m in MISTAKES])
def test_each_mistake_is_one_line_naming_file_key_and_fix(
    deployment: Path, role: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    config = edit(deployment / f"{role}.yaml", change)
    code, lines = check(role, config)
    assert code == 1
    assert len(lines) == 1, lines
    expected = expected.replace("{dir}", str(deployment)).replace(
        "{line}", str(_line_of(config, "max_batch_sise")))
    assert lines[0].startswith(f"error: {config}")
    assert expected in lines[0], lines[0]
    assert "hunter2" not in lines[0]


def _line_of(config: Path, key: str) -> int:
    for number, line in enumerate(config.read_text().splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return 0


def test_several_mistakes_are_one_line_each(deployment: Path) -> None:
    config = edit(deployment / "pseudonymiser.yaml",
                  lambda d: d.update(max_batch_sise=10, bind="localhost"))
    code, lines = check("pseudonymiser", config)
    assert code == 1 and len(lines) == 2
    assert all(line.startswith(f"error: {config}:") for line in lines)


def test_a_key_set_twice_is_refused(deployment: Path) -> None:
    config = deployment / "pseudonymiser.yaml"
    config.write_text(config.read_text() + "max_batch_size: 10\nmax_batch_size: 20\n")
    code, lines = check("pseudonymiser", config)
    assert code == 1 and len(lines) == 1
    assert "`max_batch_size` is set twice; keep one" in lines[0]


# ---------------------------------------------------------------------------------------------
# Environment overrides


def test_the_environment_overrides_the_file_nested_with_double_underscores(
    deployment: Path
) -> None:
    os.environ["SAMENLOOP_MATCHER__DATABASE_URL"] = "postgresql://app@db.example:5432/samenloop"
    os.environ["SAMENLOOP_MATCHER__INQUIRIES__PER_DAY"] = "50"
    os.environ["SAMENLOOP_MATCHER__TLS__CERT"] = str(deployment / "matcher" / "tls.crt")
    code, lines = check("matcher", deployment / "matcher.yaml", "--json")
    assert code == 0, lines
    effective = json.loads("\n".join(lines[:-1]))
    assert effective["database_url"] == "postgresql+psycopg://app@db.example:5432/samenloop"
    assert effective["inquiries"] == {"per_minute": 10, "per_day": 50}
    assert effective["tls"]["ca"] == str(deployment / "ca" / "ca.crt")  # rest of tls kept


def test_a_bad_environment_value_names_the_variable(deployment: Path) -> None:
    os.environ["SAMENLOOP_PSEUDONYMISER__MAX_BATCH_SIZE"] = "lots"
    code, lines = check("pseudonymiser", deployment / "pseudonymiser.yaml")
    assert code == 1 and len(lines) == 1
    assert ("`max_batch_size` (environment variable SAMENLOOP_PSEUDONYMISER__MAX_BATCH_SIZE): "
            "must be a whole number, got 'lots'") in lines[0]


def test_an_unknown_environment_variable_gets_a_suggestion(deployment: Path) -> None:
    os.environ["SAMENLOOP_MATCHER__DATABSE_URL"] = "sqlite:///x.sqlite"
    code, lines = check("matcher", deployment / "matcher.yaml")
    assert code == 1 and len(lines) == 1
    assert ("environment variable SAMENLOOP_MATCHER__DATABSE_URL: `databse_url` is not a "
            "setting; did you mean `database_url`?") in lines[0]


@pytest.mark.parametrize("variable", ["SAMENLOOP_MATCHER__HMAC_KEY",
                                      "SAMENLOOP_MATCHER__TLS__KEY"])
def test_key_material_in_the_environment_is_refused(deployment: Path, variable: str) -> None:
    secret = (deployment / "matcher" / "hmac.key").read_text()
    os.environ[variable] = secret
    code, lines = check("matcher", deployment / "matcher.yaml")
    assert code == 1 and len(lines) == 1
    assert f"environment variable {variable} holds key material; secrets come only from files"\
        in lines[0]
    assert json.loads(secret)["secret"] not in lines[0]


def test_a_key_path_in_the_environment_is_fine(deployment: Path) -> None:
    moved = deployment / "elsewhere.key"
    (deployment / "matcher" / "hmac.key").rename(moved)
    os.environ["SAMENLOOP_MATCHER__HMAC_KEY"] = str(moved)
    code, lines = check("matcher", deployment / "matcher.yaml", "--json")
    assert code == 0, lines
    assert json.loads("\n".join(lines[:-1]))["hmac_key"] == str(moved)


# ---------------------------------------------------------------------------------------------
# Private keys: one permission rule for every kind, TLS keys included


@pytest.mark.parametrize(("role", "key"), [
    ("pseudonymiser", "pseudonymiser/tls.key"),
    ("pseudonymiser", "pseudonymiser/voprf.key"),
    ("matcher", "matcher/tls.key"),
    ("matcher", "matcher/hmac.key"),
    ("matcher", "matcher/signing.key"),
])
@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_private_key_readable_by_group_or_others_is_refused(
    deployment: Path, role: str, key: str, mode: int
) -> None:
    path = deployment / key
    path.chmod(mode)
    code, lines = check(role, deployment / f"{role}.yaml")
    assert code == 1 and len(lines) == 1
    assert f"is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}" \
        in lines[0]

