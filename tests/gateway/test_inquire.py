"""`samenloop gateway inquire`: one household, one coded reason, a one-bit answer."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.gateway.conftest import Deployment, MatcherProcess, gateway_config, run_cli
from tests.gateway.test_disclosure import publish_on_request

INDICATED = "coordinated approach indicated; the team will contact you\n"
NOT_INDICATED = "not indicated\n"


def test_inquiries_print_only_the_one_bit_answer(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    publish_on_request(deployment, matcher, "op-verzoek")
    day = (date.today() - timedelta(days=4)).isoformat()
    export = tmp_path / "export.csv"
    export.write_text(
        "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer\n"
        f"i-1,huurachterstand,{day},wams-gecoordineerde-aanpak,999990007,3072AB,14\n"
        f"i-2,woonoverlast_melding,{day},wams-gecoordineerde-aanpak,,3072AB,14\n")
    housing = gateway_config(deployment, tmp_path / "housing", "housing", matcher.target,
                             mapping=None)
    assert run_cli("gateway", "ingest", str(export), "--config", str(housing)).returncode == 0

    def ask(config: Path, *subject: str, reason: str = "multiple_problems_suspected") -> Any:
        return run_cli("gateway", "inquire", *subject, "--reason", reason, "--role",
                       "housing_officer", "--policy", "op-verzoek", "--config", str(config))

    done = ask(housing, "--address", "3072 ab 14")
    assert (done.returncode, done.stdout) == (0, INDICATED), done.stderr
    done = ask(housing, "--bsn", "999990007")  # found through the gateway's own signal
    assert (done.returncode, done.stdout) == (0, INDICATED), done.stderr
    done = ask(housing, "--address", "9999ZZ 1")
    assert (done.returncode, done.stdout) == (1, NOT_INDICATED), done.stderr
    # an uninvolved partner learns nothing: the same "not indicated"
    police = gateway_config(deployment, tmp_path / "police", "police", matcher.target,
                            mapping=None)
    done = run_cli("gateway", "inquire", "--address", "3072AB 14", "--reason",
                   "repeated_incidents", "--role", "community_police_officer", "--policy",
                   "op-verzoek", "--config", str(police))
    assert (done.returncode, done.stdout) == (1, NOT_INDICATED), done.stderr
    # free text never leaves the gateway
    done = ask(housing, "--address", "3072AB 14", reason="buurman belt over Jansen")
    assert done.returncode == 2 and done.stdout == ""
    assert "Jansen" not in done.stderr and "--reason" in done.stderr
    done = ask(housing, "--bsn", "999990019")
    assert done.returncode == 2 and "ask with --address" in done.stderr

