"""A small test client standing in for a partner gateway until the gateway exists.

It normalises BSNs and addresses with `domain.identifiers`, pseudonymises them through the real
pseudonymiser service (VOPRF, batch proof verified against the pinned key), submits through the
matcher's PartnerService, verifies reveal requests with the matcher's public key, and seals
disclosures to the recipient key with `crypto.sealing`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from crypto.keys import load_signing_key
from crypto.pseudonyms import voprf_input
from crypto.sealing import seal
from crypto.signing import SigningKey, VerifyKey
from domain.identifiers.address import parse_address
from domain.identifiers.bsn import parse_bsn
from samenloop.v1 import common_pb2, partner_pb2, partner_pb2_grpc, policy_pb2_grpc
from services.common.disclosure import statement
from services.common.tls import secure_channel
from services.matcher import reveal
from services.pseudonymiser.client import PseudonymiserClient
from tests.matcher.helpers import WAMS, Pki


class Pseudonymiser:
    """The running pseudonymiser and a session-wide cache of its (deterministic) outputs."""

    def __init__(self, port: int, public_key: bytes, key_id: str) -> None:
        self.port = port
        self.public_key = public_key
        self.key_id = key_id
        self._cache: dict[bytes, bytes] = {}
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[grpc.Channel, PseudonymiserClient]] = {}

    def evaluate(self, pki: Pki, component: str, inputs: Sequence[bytes]) -> list[bytes]:
        with self._lock:
            missing = [i for i in dict.fromkeys(inputs) if i not in self._cache]
            if missing:
                if component not in self._clients:
                    ch = secure_channel(f"127.0.0.1:{self.port}", pki.tls(component),
                                        server_role="pseudonymiser")
                    self._clients[component] = (ch, PseudonymiserClient(ch, self.public_key))
                outputs = self._clients[component][1].evaluate(missing)
                self._cache.update(zip(missing, outputs, strict=True))
            return [self._cache[i] for i in inputs]

    def close(self) -> None:
        for ch, _ in self._clients.values():
            ch.close()


def address_input(address: str) -> bytes:
    """`"3071AB 12"` (postcode, huisnummer with optional letter) -> the VOPRF input."""
    postcode, number = address.rsplit(" ", 1)
    return voprf_input("household", parse_address(postcode, number).canonical())


def person_input(bsn: str) -> bytes:
    return voprf_input("person", parse_bsn(bsn).value)


class GatewayTestClient:
    def __init__(self, channel: grpc.Channel, pseudonymiser: Pseudonymiser, pki: Pki,
                 matcher_key: VerifyKey, component: str = "gateway-gemeente-rotterdam") -> None:
        self.channel = channel
        self.stub = partner_pb2_grpc.PartnerServiceStub(channel)
        self.policies = policy_pb2_grpc.PolicyServiceStub(channel)
        self.pseudonymiser = pseudonymiser
        self.pki = pki
        self.matcher_key = matcher_key
        self.component = component

    # pseudonyms --------------------------------------------------------------------------
    def _pseudonym(self, data: bytes) -> common_pb2.Pseudonym:
        [out] = self.pseudonymiser.evaluate(self.pki, self.component, [data])
        return common_pb2.Pseudonym(voprf_output=out, key_id=self.pseudonymiser.key_id)

    def household(self, address: str) -> common_pb2.Pseudonym:
        return self._pseudonym(address_input(address))

    def person(self, bsn: str) -> common_pb2.Pseudonym:
        return self._pseudonym(person_input(bsn))

    def warm(self, addresses: Sequence[str] = (), bsns: Sequence[str] = ()) -> None:
        """Pseudonymise many identifiers in one batch (faster than one by one)."""
        inputs = [address_input(a) for a in addresses] + [person_input(b) for b in bsns]
        self.pseudonymiser.evaluate(self.pki, self.component, inputs)

    # signals ------------------------------------------------------------------------------
    def signal(
        self,
        signal_id: str,
        signal_type: str,
        *,
        household: str | None = None,
        person: str | None = None,
        observed_on: date | None = None,
        days_ago: int = 1,
        purpose: str = WAMS,
        escalated: bool = False,
        area_code: str = "3071",
    ) -> partner_pb2.Signal:
        on = observed_on or (date.today() - timedelta(days=days_ago))
        s = partner_pb2.Signal(signal_id=signal_id, signal_type=signal_type,
                               observed_on=on.isoformat(), purpose=purpose, escalated=escalated,
                               area_code=area_code, catalogue_version="2025.1")
        if household is not None:
            s.household.CopyFrom(self.household(household))
        if person is not None:
            s.person.CopyFrom(self.person(person))
        return s

    def submit(self, *signals: partner_pb2.Signal, batch_id: str | None = None,
               timeout: float = 30) -> partner_pb2.SubmitSignalsResponse:
        return self.stub.SubmitSignals(
            partner_pb2.SubmitSignalsRequest(batch_id=batch_id or uuid.uuid4().hex,
                                             signals=list(signals)), timeout=timeout)

    def withdraw(self, *signal_ids: str) -> partner_pb2.WithdrawSignalsResponse:
        return self.stub.WithdrawSignals(partner_pb2.WithdrawSignalsRequest(
            batch_id=uuid.uuid4().hex,
            withdrawals=[partner_pb2.Withdrawal(signal_id=s, reason_code="resolved")
                         for s in signal_ids]), timeout=30)

    def link(self, link_id: str, bsn: str, address: str, valid_from: date,
             area_code: str = "3071") -> partner_pb2.HouseholdLink:
        return partner_pb2.HouseholdLink(link_id=link_id, person=self.person(bsn),
                                         household=self.household(address),
                                         valid_from=valid_from.isoformat(), area_code=area_code)

    def submit_links(self, *links: partner_pb2.HouseholdLink
                     ) -> partner_pb2.SubmitHouseholdLinksResponse:
        return self.stub.SubmitHouseholdLinks(partner_pb2.SubmitHouseholdLinksRequest(
            batch_id=uuid.uuid4().hex, links=list(links)), timeout=30)

    def inquire(self, policy_id: str, address: str, *,
                reason: str = "multiple_problems_suspected",
                requester_role: str = "community_police_officer",
                request_id: str | None = None) -> partner_pb2.Inquiry:
        return self.stub.CreateInquiry(partner_pb2.CreateInquiryRequest(inquiry=partner_pb2.Inquiry(
            policy=f"policies/{policy_id}", household=self.household(address),
            requester_role=requester_role, reason=reason,
            request_id=request_id or uuid.uuid4().hex)), timeout=30)

    # reveal protocol ----------------------------------------------------------------------
    def pull(self, wait: float = 0.0, max_requests: int = 100
             ) -> list[partner_pb2.SignedRevealRequest]:
        req = partner_pb2.PullRevealRequestsRequest(max_requests=max_requests)
        if wait:
            req.wait.CopyFrom(Duration(seconds=int(wait), nanos=int((wait % 1) * 1e9)))
        return list(self.stub.PullRevealRequests(req, timeout=wait + 30).reveal_requests)

    def verify(self, signed: partner_pb2.SignedRevealRequest) -> dict[str, Any]:
        """What a gateway does first: check the matcher's signature over the exact bytes."""
        return reveal.verify(
            reveal.SignedRequest(signed.signed.payload, signed.signed.signature,
                                 signed.signed.key_id), self.matcher_key)

    def disclose(self, signed: partner_pb2.SignedRevealRequest, values: dict[str, str]
                 ) -> partner_pb2.SubmitDisclosureResponse:
        doc = self.verify(signed)
        box = seal(doc["recipient_public_key"], json.dumps(values).encode("utf-8"))
        key = self.disclosure_key
        return self.stub.SubmitDisclosure(partner_pb2.SubmitDisclosureRequest(
            reveal_request=doc["name"],
            sealed=common_pb2.SealedBox(ciphertext=box,
                                        recipient_public_key=doc["recipient_public_key"]),
            disclosure_signature=key.sign_bytes(statement(doc["name"], box, doc["partner"])),
            disclosure_key_id=key.key_id),
            timeout=30)

    @property
    def disclosure_key(self) -> SigningKey:
        """This gateway's disclosure key from the dev PKI (registered with the matcher)."""
        return load_signing_key(self.pki.key_file(self.component, "disclosure"))

    def refuse(self, signed: partner_pb2.SignedRevealRequest,
               reason: int = partner_pb2.REFUSAL_REASON_SIGNAL_NOT_LIVE
               ) -> partner_pb2.SubmitDisclosureResponse:
        doc = self.verify(signed)
        return self.stub.SubmitDisclosure(partner_pb2.SubmitDisclosureRequest(
            reveal_request=doc["name"],
            refusal=partner_pb2.Refusal(reason=reason, detail="signal no longer live")),  # type: ignore[arg-type]
            timeout=30)
