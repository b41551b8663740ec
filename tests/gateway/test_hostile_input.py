"""Hostile input at the gateway (ADR 0028): reveal requests delivered twice, expired or
malformed (what a compromised matcher could send, signed with the matcher's own key), and
export files over the configured size, a small workbook that unzips to a large one among them.
Each is refused or answered without a second disclosure, and logged with a code."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from crypto.jcs import canonical_bytes
from domain.errors import FileFormatError
from domain.formats import ExportKind, PartnerMapping
from samenloop.v1 import common_pb2, partner_pb2
from services.matcher import reveal
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.disclosure import REFUSE, SEAL
from services.partner_gateway.ingest import ingest_file
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.settings import load_settings
from services.partner_gateway.store import files
from tests.gateway.conftest import Deployment, MatcherProcess, gateway_config
from tests.gateway.test_disclosure import Setup
from tests.hostile.logs import captured


def test_reveal_requests_twice_expired_or_malformed_are_never_a_second_disclosure(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    s = Setup(deployment, matcher, tmp_path)
    try:
        [rr, other] = s.pull()
        log = AuditLog(s.gw.engine)
        logged = structlog.testing.CapturingLogger()  # what the discloser logs, in order
        s.discloser.log = logged
        first = s.discloser.decide(rr)
        assert first.action == SEAL and not first.repeated
        s.discloser.answer(first)
        again = s.discloser.decide(rr)  # a replay, or a redelivery after a lost answer
        assert again.repeated and again.action == SEAL
        assert again.sealed == first.sealed  # the same bytes: nothing new was sealed
        s.discloser.answer(again)  # the matcher keeps the first answer
        [repeated] = [c.kwargs for c in logged.calls
                      if c.args and c.args[0] == "reveal_request_repeated"]
        assert (repeated["request"], repeated["reason_code"]) == (rr.request.name,
                                                                  "already_answered")
        assert [e.request for e in log.entries(events.DISCLOSED)] == [rr.request.name]
        assert [(e.request, e.reason_code) for e in log.entries(events.REPEATED)] == [
            (rr.request.name, "already_answered")]
        disclosures = [d for d in s.alert().disclosures if d.reveal_request == rr.request.name]
        assert len(disclosures) == 1

        # expired: refused with its code, logged, and refused again when it comes again
        late = s.forged(rr, name="revealRequests/te-laat", expire_time="2026-01-01T00:00:00Z")
        decision = s.discloser.decide(late)
        [refused] = [c.kwargs for c in logged.calls
                     if c.args and c.args[0] == "reveal_request_refused"]
        assert (decision.action, decision.reason_code) == (REFUSE, "expired")
        assert (refused["request"], refused["reason_code"]) == ("revealRequests/te-laat",
                                                                "expired")
        assert s.discloser.decide(late).reason_code == "expired"

        # signed by the matcher's key, but not a well-formed reveal request: refused, no crash
        doc = json.loads(other.signed.payload)
        for change in ({"fields": "geslachtsnaam"}, {"policy_version": "1"},
                       {"expire_time": "morgen"}, {"name": None}):
            broken = {k: v for k, v in {**doc, **change}.items() if v is not None}
            signed = reveal.sign(broken, s.matcher_key)
            assert canonical_bytes(broken) == signed.payload
            decision = s.discloser.decide(partner_pb2.SignedRevealRequest(
                request=partner_pb2.RevealRequest(name=other.request.name),
                signed=common_pb2.SignedPayload(payload=signed.payload,
                                                signature=signed.signature,
                                                key_id=signed.key_id)))
            assert (decision.action, decision.reason_code) == (REFUSE, "malformed_request"), (
                change)
        assert s.discloser.decide(other).action == SEAL  # the real one is still answered
        assert [e.request for e in log.entries(events.DISCLOSED)] == [rr.request.name,
                                                                      other.request.name]
    finally:
        s.close()


def _gateway(deployment: Deployment, tmp_path: Path, limit: int) -> Gateway:
    config = gateway_config(deployment, tmp_path / "gw", "housing", "127.0.0.1:1",
                            mapping=None, max_file_bytes=limit)
    return Gateway(load_settings(config))


def test_an_export_over_max_file_bytes_is_refused_before_a_row_is_read(
        deployment: Deployment, tmp_path: Path) -> None:
    gw = _gateway(deployment, tmp_path, 4096)
    try:
        export = tmp_path / "signals.csv"
        export.write_text("signal_id,signal_type\n" + "A-1,huurachterstand\n" * 400)
        with captured("gateway") as logged, pytest.raises(FileFormatError) as err:
            ingest_file(gw, export, ExportKind.SIGNALS, PartnerMapping())
        size = export.stat().st_size
        message = str(err.value)
        assert f"{size:,} bytes, more than this gateway's max_file_bytes (4,096)" in message
        assert str(export) in message and "\n" not in message
        [refused] = logged.named("file_refused")
        assert (refused["reason"], refused["size"], refused["limit"]) == ("too_large", size, 4096)
        with gw.engine.connect() as conn:  # the file was never started
            assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar() == 0

        # a workbook of a few kB that unzips to 1 MiB: its unzipped size counts
        book = tmp_path / "signals.xlsx"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/worksheets/sheet1.xml", b" " * (1024 * 1024))
        book.write_bytes(buffer.getvalue())
        assert book.stat().st_size < 4096
        with pytest.raises(FileFormatError, match=r"1,048,576 bytes unzipped, more than"):
            ingest_file(gw, book, ExportKind.SIGNALS, PartnerMapping())
    finally:
        gw.close()
