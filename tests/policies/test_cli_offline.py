"""`samenloop policy` offline commands, end to end through the real CLI.

Nothing here pins a date: each test copies a library policy and sets its validity around today
(as an officer adopting it would), signs with the real clock, and verifies as of today.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from policies.canonical import policy_digest
from policies.model import load_policy
from samenloop.cli.main import app

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
TODAY = date.today()
VALID_FROM = TODAY - timedelta(days=30)
VALID_UNTIL = TODAY + timedelta(days=365)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["policy", *args])
    return result.exit_code, result.output


@pytest.fixture
def officers(tmp_path: Path) -> Path:
    """Three officers' keys (two privacy officers, one reviewer) and their trust file."""
    entries = []
    for officer, role in [
        ("po-a", "privacy_officer"),
        ("po-b", "privacy_officer"),
        ("ir-example", "independent_review"),
    ]:
        code, out = run(
            "keygen",
            "--out",
            str(tmp_path / f"{officer}.key"),
            "--officer",
            officer,
            "--organisation",
            "gemeente-voorbeeldstad" if role == "privacy_officer" else "toetsingscommissie",
            "--role",
            role,
        )
        assert code == 0, out
        entries += yaml.safe_load(out[out.index("- officer_id") :])
    trust = tmp_path / "trust.yaml"
    trust.write_text(yaml.safe_dump({"format": "samenloop-officers/v2", "officers": entries}))
    return tmp_path


def policy_copy(tmp_path: Path, name: str) -> Path:
    """A library policy adopted today: valid from a month ago until a year from now."""
    text = (LIBRARY / f"{name}.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^valid_from: .*$", f"valid_from: {VALID_FROM}", text)
    text = re.sub(r"(?m)^valid_until: .*$", f"valid_until: {VALID_UNTIL}", text)
    dest = tmp_path / f"{name}.yaml"
    dest.write_text(text, encoding="utf-8")
    return dest


def sign(path: Path, keys: Path, officer: str, role: str = "privacy_officer") -> tuple[int, str]:
    return run(
        "sign",
        str(path),
        "--key",
        str(keys / f"{officer}.key"),
        "--officer",
        officer,
        "--role",
        role,
        "--officer-trust",
        str(keys / "trust.yaml"),
    )


def test_lint_ok_and_errors_with_lines(tmp_path: Path) -> None:
    good = policy_copy(tmp_path, "wams-overlast-schulden")
    code, out = run("lint", str(good))
    assert code == 0 and "ok (0 warning(s))" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("min_domains: 2", "min_domains: 1"))
    code, out = run("lint", str(bad))
    assert code == 1
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "min_domains" in t)
    assert f"{bad}:{line}: error [trigger.min_domains]:" in out
    assert "1 error(s)" in out


def test_lint_expired_today(tmp_path: Path) -> None:
    good = policy_copy(tmp_path, "wams-overlast-schulden")
    code, out = run("lint", str(good), "--as-of", str(VALID_UNTIL + timedelta(days=1)))
    assert code == 1 and "in the past" in out


# Blanks of the two templates, and what an officer fills in (written here, not taken from the
# template code: a new blank must make these tests fail until it is listed).
BLANKS = {
    "GM<cbs-code>": "GM0599",
    "<naam gemeente>": "Rotterdam",
    "<team-id, e.g. wijkteam-noord>": "wijkteam-noord",
    "<name of the team>": "Wijkteam Noord",
    "<the team's X25519 public key, 44 characters of base64>": (
        "SppXCCvtaoKW9WwMJJ+6rCSPuJY/F39fC3OIoOB8Jlw="
    ),
}
STANDING_BLANKS = {
    "<the provision for standing processing, e.g. Wgs art. 3 lid 3 en art. 5 lid 1>": (
        "Wet gemeentelijke schuldhulpverlening, art. 3 lid 3 en art. 5 lid 1"
    ),
    "<officer id of the independent reviewer>": "ir-example",
    "<the review report, e.g. DPIA vroegsignalering 2026-03>": "DPIA vroegsignalering 2026",
}


def fill(text: str, blanks: dict[str, str]) -> str:
    for blank, value in blanks.items():
        assert blank in text, blank
        text = text.replace(blank, value)
    return text


def error_paths(out: str) -> set[str]:
    return set(re.findall(r"error \[(.+?)\]: ", out))


def test_new_template_fails_lint_until_every_blank_is_filled(tmp_path: Path) -> None:
    out_file = tmp_path / "p.yaml"
    code, _ = run("new", str(out_file), "--id", "mijn-beleid")
    assert code == 0
    code, out = run("lint", str(out_file))
    assert code == 1
    assert error_paths(out) == {
        "processing_activity_id",
        "controller",
        "recipient.team_id",
        "recipient.name",
        "recipient.public_key",
        "scope.municipality",
    }
    assert "is a blank from the template: fill it in" in out
    template = out_file.read_text()
    out_file.write_text(fill(template, BLANKS))
    code, out = run("lint", str(out_file))
    assert code == 0 and "ok (0 warning(s))" in out, out
    for blank in BLANKS:  # each blank alone keeps the policy from linting
        out_file.write_text(fill(template, {b: v for b, v in BLANKS.items() if b != blank}))
        assert run("lint", str(out_file))[0] == 1, blank
    code, _ = run("new", str(out_file))
    assert code == 1  # refuses to overwrite


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("GM0599", "GM0000", "GM0000 is the template's blank"),
        ("gemeente Rotterdam", "gemeente ...", "`...` is a blank"),
        ("Wijkteam Noord", "Wijkteam …", "`…` is a blank"),
    ],
)
def test_the_older_templates_blanks_fail_lint(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    out_file = tmp_path / "p.yaml"
    run("new", str(out_file))
    out_file.write_text(fill(out_file.read_text(), BLANKS).replace(old, new))
    code, out = run("lint", str(out_file))
    assert code == 1 and says in out


def test_the_standing_template_filled_in_is_lint_clean_and_explains_the_basis(
    tmp_path: Path,
) -> None:
    out_file = tmp_path / "s.yaml"
    code, _ = run("new", str(out_file), "--standing")
    assert code == 0
    template = out_file.read_text()
    assert "mode: standing" in template and "independent_review:" in template
    assert "standing: true" in template
    assert "statutory provision that itself provides for such standing processing" in template
    assert "Wams is case-based" in template and "independent review" in template
    code, out = run("lint", str(out_file))
    assert code == 1
    assert {
        "legal_basis[0].citation",
        "independent_review.reviewer",
        "independent_review.report",
    } <= error_paths(out)
    out_file.write_text(fill(template, {**BLANKS, **STANDING_BLANKS}))
    code, out = run("lint", str(out_file))
    assert code == 0 and "ok (0 warning(s))" in out, out
    wams = fill(template, {**BLANKS, **STANDING_BLANKS}).replace(
        "Wet gemeentelijke schuldhulpverlening", "Wet aanpak meervoudige problematiek (Wams)"
    )
    out_file.write_text(wams)
    code, out = run("lint", str(out_file))
    assert code == 1 and "the Wams is case-based" in out


def test_digest(tmp_path: Path) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    code, out = run("digest", str(p))
    assert code == 0 and out.strip() == policy_digest(load_policy(p))


def test_sign_verify_publishable(tmp_path: Path, officers: Path) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    original = p.read_text()
    code, out = sign(p, officers, "po-a")
    assert code == 0, out
    assert p.read_text().startswith(original)  # comments and layout kept; approval appended
    code, out = run("verify", str(p), "--officer-trust", str(officers / "trust.yaml"))
    assert code == 1 and "NOT IN FORCE" in out and "has 1 (po-a)" in out
    before = p.read_text()
    code, out = sign(p, officers, "po-a")
    assert code == 1 and "still holds; one officer counts once, nothing was written" in out
    assert p.read_text() == before
    code, out = sign(p, officers, "po-b")
    assert code == 0 and "2 approval(s)" in out
    code, out = run("verify", str(p), "--officer-trust", str(officers / "trust.yaml"))
    assert code == 0 and f"IN FORCE on {TODAY}" in out
    assert out.count(" valid") >= 2
    code, out = run(
        "verify",
        str(p),
        "--officer-trust",
        str(officers / "trust.yaml"),
        "--revoked",
        "wams-overlast-schulden",
    )
    assert code == 1 and "revoked" in out
    after = str(VALID_UNTIL + timedelta(days=1))
    code, out = run("verify", str(p), "--officer-trust", str(officers / "trust.yaml"),
                    "--as-of", after)
    assert code == 1 and f"expired on {VALID_UNTIL}" in out


def test_changed_character_after_signing_is_refused(tmp_path: Path, officers: Path) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    assert sign(p, officers, "po-a")[0] == 0
    assert sign(p, officers, "po-b")[0] == 0
    p.write_text(p.read_text().replace("window_days: 180", "window_days: 181"))
    code, out = run("verify", str(p), "--officer-trust", str(officers / "trust.yaml"))
    assert code == 1
    assert out.count("NOT VALID: signature does not verify") == 2


def test_sign_refuses_an_invalid_policy(tmp_path: Path, officers: Path) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    p.write_text(p.read_text().replace("min_signals: 2", "min_signals: 1"))
    before = p.read_text()
    code, out = sign(p, officers, "po-a")
    assert code == 1 and "refusing to sign it" in out and "single signal" in out
    assert p.read_text() == before


def test_sign_refuses_a_key_registered_to_someone_else(tmp_path: Path, officers: Path) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    code, out = run(
        "sign",
        str(p),
        "--key",
        str(officers / "po-a.key"),
        "--officer",
        "po-b",
        "--officer-trust",
        str(officers / "trust.yaml"),
    )
    assert code == 1 and "registered for po-a" in out


def test_standing_needs_the_reviewer(tmp_path: Path, officers: Path) -> None:
    p = policy_copy(tmp_path, "wgs-vroegsignalering-wonen")
    trust = str(officers / "trust.yaml")
    assert sign(p, officers, "po-a")[0] == 0
    assert sign(p, officers, "po-b")[0] == 0
    code, out = run("verify", str(p), "--officer-trust", trust)
    assert code == 1 and "independent_review approval by ir-example" in out
    code, out = sign(p, officers, "ir-example", "independent_review")
    assert code == 0, out
    code, out = run("verify", str(p), "--officer-trust", trust)
    assert code == 0, out


def test_export(tmp_path: Path) -> None:
    p = policy_copy(tmp_path, "wgs-vroegsignalering-wonen")
    code, out = run(
        "export",
        str(p),
        "--format",
        "algoritmeregister",
        "--contact",
        "fg@voorbeeldstad.nl",
    )
    assert code == 0
    entry = json.loads(out)
    assert entry["contact_email"] == "fg@voorbeeldstad.nl"
    assert entry["samenloop"]["trigger"]["window_days"] == 120
    md = tmp_path / "register.md"
    code, out = run(
        "export", str(p), "--format", "algoritmeregister", "--markdown", "--out", str(md)
    )
    assert code == 0 and "--contact" in out
    assert md.read_text().startswith("# Vroegsignalering schulden met huurachterstand")
    code, _ = run("export", str(p), "--format", "csv")
    assert code != 0


def test_remote_commands_need_tls_files(tmp_path: Path) -> None:
    # --matcher defaults to the matcher's default address; the TLS files have no default
    code, out = run("list")
    assert code != 0 and "--tls-dir" in out
    code, out = run("list", "--matcher", "localhost:1")
    assert code != 0 and "--tls-dir" in out


def test_signing_a_changed_policy_replaces_your_stale_approval(
    tmp_path: Path, officers: Path
) -> None:
    trust = str(officers / "trust.yaml")
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    assert sign(p, officers, "po-a")[0] == 0
    assert sign(p, officers, "po-b")[0] == 0
    changed = p.read_text().replace("window_days: 180", "window_days: 150")
    p.write_text(changed)
    assert run("verify", str(p), "--officer-trust", trust)[0] == 1

    code, out = sign(p, officers, "po-a")
    assert code == 0, out
    assert "note: your approval of " in out
    assert "was stale (the policy was changed after it was signed)" in out
    assert "it is replaced by this one" in out
    assert "note: the approval by po-b (privacy_officer, " in out and "Ask them to sign" in out
    assert "the file now has 2 approval(s)" in out
    text = p.read_text()
    assert text[: text.index("approvals:")] == changed[: changed.index("approvals:")]
    approvals = yaml.safe_load(text)["approvals"]
    assert [a["officer_id"] for a in approvals] == ["po-a", "po-b"]  # replaced in place
    code, out = run("verify", str(p), "--officer-trust", trust)
    assert code == 1 and "has 1 (po-a)" in out

    code, out = sign(p, officers, "po-b")
    assert code == 0 and "was stale" in out and "does not count" not in out
    code, out = run("verify", str(p), "--officer-trust", trust)
    assert code == 0 and f"IN FORCE on {TODAY}" in out
    assert load_policy(p).trigger.window_days == 150


def test_a_stale_approval_is_judged_by_the_key_alone_without_a_trust_file(
    tmp_path: Path, officers: Path
) -> None:
    p = policy_copy(tmp_path, "wams-overlast-schulden")
    key = ["--key", str(officers / "po-a.key"), "--officer", "po-a"]
    assert run("sign", str(p), *key)[0] == 0
    code, out = run("sign", str(p), *key)
    assert code == 1 and "still holds" in out
    p.write_text(p.read_text().replace("min_signals: 2", "min_signals: 3"))
    code, out = run("sign", str(p), *key)
    assert code == 0 and "was stale" in out
    assert len(yaml.safe_load(p.read_text())["approvals"]) == 1
