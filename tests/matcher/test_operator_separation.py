"""The matcher refuses to run for an organisation that is also one of its partners (ADR 0010).

A partner that also held the matcher's HMAC key could map stored pseudonyms back: the
municipality pseudonymises the whole BRP, so for it that is every pseudonym in the store.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from services.common.db import create_engine, migrate
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.server import OperatorIsPartner, serve
from services.matcher.settings import PartnerEntry
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import PARTNERS, settings_for
from tests.matcher.helpers import WAMS, Pki, build_matcher_for_test
from tests.support.services import matcher_files

OPERATOR = "samenloop-verwerker"  # the matcher certificate's organisation in dev-setup


def test_serve_refuses_when_the_operator_is_also_a_partner(
    pki: Pki, pseudonymiser: Pseudonymiser, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    migrate(MIGRATIONS, url)
    engine = create_engine(url)
    partners = {**PARTNERS, OPERATOR: PartnerEntry(OPERATOR, "municipality", frozenset({WAMS}))}
    settings = replace(settings_for(pki, pseudonymiser), partners=partners)
    matcher = build_matcher_for_test(engine, pki, settings, SettableClock(SystemClock().now()))
    try:
        with pytest.raises(OperatorIsPartner) as excinfo:
            serve(matcher, bind="127.0.0.1:0", tls=pki.tls("matcher"))
        assert str(excinfo.value) == (
            f"the matcher's certificate belongs to {OPERATOR}, which is also a partner in its "
            "configuration; the matcher must be run by another organisation (a processor, see "
            "docs/decisions/0010-matcher-operator-separation.md)")
        # The municipality's own certificate as the matcher's: refused the same way.
        with pytest.raises(OperatorIsPartner, match="belongs to gemeente-rotterdam"):
            serve(build_matcher_for_test(engine, pki, settings_for(pki, pseudonymiser),
                                         SettableClock(SystemClock().now())),
                  bind="127.0.0.1:0", tls=pki.tls("gateway-gemeente-rotterdam"))
        # Its own organisation, not among the partners: it starts.
        server = serve(build_matcher_for_test(engine, pki, settings_for(pki, pseudonymiser),
                                              SettableClock(SystemClock().now())),
                       bind="127.0.0.1:0", tls=pki.tls("matcher"))
        server.stop(0)
    finally:
        engine.dispose()


def test_the_cli_says_it_in_one_line(pki: Pki, pseudonymiser: Pseudonymiser,
                                     tmp_path: Path) -> None:
    config = tmp_path / "matcher.yaml"
    partners = {org: {"kind": p.kind, "purposes": sorted(p.purposes)}
                for org, p in PARTNERS.items()}
    partners[OPERATOR] = {"kind": "housing", "purposes": [WAMS]}
    config.write_text(yaml.safe_dump({
        "bind": "127.0.0.1:0", "data_dir": str(tmp_path / "data"), **matcher_files(pki.dir),
        "controller": "gemeente-rotterdam",
        "officer_trust": str(pki.trust), "pseudonymiser_key_ids": [pseudonymiser.key_id],
        "partners": partners, "municipality": "GM0599",
    }))
    run = [sys.executable, "-m", "samenloop.cli.main", "matcher"]
    subprocess.run([*run, "migrate", "--config", str(config)], check=True, capture_output=True,
                   timeout=120)
    result = subprocess.run([*run, "serve", "--config", str(config)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert lines == [f"error: the matcher's certificate belongs to {OPERATOR}, which is also a "
                     "partner in its configuration; the matcher must be run by another "
                     "organisation (a processor, see "
                     "docs/decisions/0010-matcher-operator-separation.md)"]
