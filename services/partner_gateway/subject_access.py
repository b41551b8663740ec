"""Subject access (AVG art. 15) at a gateway: every central audit entry about one person or
household, within the asking officer's scope (ADR 0024).

Two certificates, each doing what only it may:

- the gateway's own (role `gateway`) pseudonymises the BSN or address at the pseudonymiser,
  exactly as ingest does, charged to the partner's quota — the pseudonymiser evaluates for
  gateways only, and the matcher never sees the identity;
- the privacy officer's (role `privacy_officer`, of this gateway's organisation) asks the
  matcher's `LookupSubject`, which returns what that officer may see
  (services/matcher/visibility.py) and logs the lookup in the central log.

The officer's organisation must be the gateway's: an officer of another organisation would
otherwise turn this partner's pseudonymiser quota into their own dictionary. The lookup is
also written to the gateway's local audit log (officer id, subject kind, count; never the
identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crypto.pki import identity_from_certificate
from crypto.pseudonyms import voprf_input
from domain.identifiers.bsn import parse_bsn
from samenloop.v1 import audit_pb2, audit_pb2_grpc, common_pb2
from services.common.config import ConfigError
from services.common.logging import get_logger
from services.common.tls import TlsMaterial, secure_channel
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.connections import call_with_retry
from services.partner_gateway.inquiry import parse_address_option
from services.partner_gateway.runtime import Gateway

PRIVACY_OFFICER = "privacy_officer"
PERSON, HOUSEHOLD = "person", "household"
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Subject:
    """A data subject as the gateway pseudonymises it; the input never leaves this process."""

    kind: str  # person | household
    voprf_input: bytes


def subject_from_bsn(text: str) -> Subject:
    return Subject(PERSON, voprf_input("person", parse_bsn(text).value))


def subject_from_address(text: str) -> Subject:
    return Subject(HOUSEHOLD, voprf_input("household", parse_address_option(text).canonical()))


@dataclass(frozen=True)
class Officer:
    """The asking privacy officer: their certificate files and who the certificate says."""

    tls: TlsMaterial
    organisation: str
    officer_id: str


def officer_for(gw: Gateway, tls: TlsMaterial) -> Officer:
    """The officer behind `tls`; refused unless a privacy officer of this gateway's
    organisation (one line saying whose certificate it is)."""
    tls.check()
    who = identity_from_certificate(Path(tls.cert).read_bytes())
    if who.role != PRIVACY_OFFICER:
        raise ConfigError(f"{tls.cert}: a subject lookup needs a privacy officer's certificate; "
                          f"this one is {who.role} of {who.organisation}")
    if who.organisation != gw.settings.organisation:
        raise ConfigError(f"{tls.cert}: the officer is of {who.organisation}, this gateway of "
                          f"{gw.settings.organisation}; ask at your own organisation's gateway")
    return Officer(tls, who.organisation, who.common_name)


def pseudonymise(gw: Gateway, subject: Subject, request_id: str) -> common_pb2.Pseudonym:
    [output] = gw.pseudonymiser.evaluate_all([subject.voprf_input], request_id=request_id)
    return common_pb2.Pseudonym(voprf_output=output, key_id=gw.settings.pseudonymiser_key_id)


def lookup(gw: Gateway, officer: Officer, subject: Subject,
           request_id: str) -> list[audit_pb2.AuditEntry]:
    """Every entry about `subject` the officer may see, oldest first (all pages)."""
    pseudonym = pseudonymise(gw, subject, request_id)
    channel = secure_channel(gw.settings.matcher, officer.tls, server_role="matcher")
    try:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        entries: list[audit_pb2.AuditEntry] = []
        token = ""
        while True:
            page = _page(gw, stub, audit_pb2.LookupSubjectRequest(
                subject=pseudonym, subject_type=subject.kind, page_size=PAGE_SIZE,
                page_token=token))
            entries.extend(page.entries)
            token = page.next_page_token
            if not token:
                break
    finally:
        channel.close()
    AuditLog(gw.engine).append(events.SUBJECT_LOOKED_UP, actor=officer.officer_id,
                               fields=[f"subject_type={subject.kind}",
                                       f"entries={len(entries)}"])
    get_logger().info("subject_looked_up", officer=officer.officer_id,
                      subject_type=subject.kind, entries=len(entries))
    return entries


def _page(gw: Gateway, stub: audit_pb2_grpc.AuditServiceStub,
          request: audit_pb2.LookupSubjectRequest) -> audit_pb2.ListAuditEntriesResponse:
    return call_with_retry(
        "the matcher", gw.settings.matcher,
        lambda: stub.LookupSubject(request, timeout=gw.retry.timeout_seconds), gw.retry)
