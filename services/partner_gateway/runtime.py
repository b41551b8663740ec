"""What every gateway command needs, built once from the settings: database, vault, peers.

Connections are opened lazily, so `approvals list` works without the matcher, and an
unreachable peer is reported by the command that needed it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property

import grpc
from sqlalchemy.engine import Engine

from crypto.checkpoint import NoteVerifier
from crypto.cosignature import Cosigner
from crypto.keys import load_signing_key, load_vault_key, load_verify_key, load_voprf_public_key
from crypto.oprf import public_key_id
from crypto.signing import SigningKey, VerifyKey
from domain.catalogue import Catalogue, load_catalogue
from samenloop.v1 import (
    audit_pb2_grpc,
    partner_pb2_grpc,
    policy_pb2_grpc,
    pseudonymiser_pb2,
    pseudonymiser_pb2_grpc,
)
from services.partner_gateway.connections import (
    GatewayConnectionError,
    RetryingPseudonymiserClient,
    RetryPolicy,
    call_with_retry,
    channel,
)
from services.partner_gateway.settings import GatewaySettings
from services.partner_gateway.store import open_store
from services.partner_gateway.vault import Vault


@dataclass
class Gateway:
    settings: GatewaySettings

    @cached_property
    def retry(self) -> RetryPolicy:
        r = self.settings.retry
        return RetryPolicy(r.attempts, r.base_seconds, r.max_seconds, r.timeout_seconds)

    @cached_property
    def engine(self) -> Engine:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return open_store(self.settings.db_url)

    @cached_property
    def vault_key(self) -> bytes:
        return load_vault_key(self.settings.vault_key)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.engine, self.vault_key)

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue()

    @cached_property
    def disclosure_key(self) -> SigningKey:
        return load_signing_key(self.settings.disclosure_key)

    @cached_property
    def matcher_key(self) -> VerifyKey:
        return load_verify_key(self.settings.matcher_public_key)

    @cached_property
    def link_id_key(self) -> bytes:
        """A key derived from the vault key that names household links without revealing them."""
        return hmac.new(self.vault_key, b"samenloop:gateway:link-id:v1", hashlib.sha256).digest()

    def link_id(self, canonical: str) -> str:
        return "link-" + hmac.new(self.link_id_key, canonical.encode(), "sha256").hexdigest()[:32]

    # peers -------------------------------------------------------------------------------
    @cached_property
    def matcher_channel(self) -> grpc.Channel:
        return channel(self.settings.matcher, self.settings.tls.material(), "matcher",
                       self.settings.max_message_bytes)

    @cached_property
    def partner_stub(self) -> partner_pb2_grpc.PartnerServiceStub:
        return partner_pb2_grpc.PartnerServiceStub(self.matcher_channel)

    @cached_property
    def policy_stub(self) -> policy_pb2_grpc.PolicyServiceStub:
        return policy_pb2_grpc.PolicyServiceStub(self.matcher_channel)

    @cached_property
    def audit_stub(self) -> audit_pb2_grpc.AuditServiceStub:
        return audit_pb2_grpc.AuditServiceStub(self.matcher_channel)

    @cached_property
    def checkpoint_verifier(self) -> NoteVerifier | None:
        """The matcher's pinned checkpoint key; None: this gateway does not witness."""
        vkey = self.settings.checkpoint_vkey
        return None if vkey is None else NoteVerifier.from_vkey(vkey)

    @cached_property
    def cosigner(self) -> Cosigner | None:
        """This gateway's witness key, named by its organisation; None: it does not cosign."""
        path = self.settings.witness_key
        return None if path is None else Cosigner(self.settings.organisation,
                                                  load_signing_key(path))

    @cached_property
    def pseudonymiser(self) -> RetryingPseudonymiserClient:
        target = self.settings.pseudonymiser
        ch = channel(target, self.settings.tls.material(), "pseudonymiser",
                     self.settings.max_message_bytes)
        pinned = self._pinned_pseudonymiser_key(ch)
        client = RetryingPseudonymiserClient(ch, pinned, target, self.retry)
        try:
            client.check_key()
        except GatewayConnectionError:
            raise
        except Exception as exc:  # PinnedKeyMismatch and friends carry a one-line message
            raise GatewayConnectionError(str(exc)) from None
        return client

    def _pinned_pseudonymiser_key(self, ch: grpc.Channel) -> bytes:
        """The pinned key: from its file when configured, else the served key if its id matches."""
        pinned_id = self.settings.pseudonymiser_key_id
        if self.settings.pseudonymiser_public_key is not None:
            raw = load_voprf_public_key(self.settings.pseudonymiser_public_key).to_bytes()
        else:
            stub = pseudonymiser_pb2_grpc.PseudonymiserStub(ch)
            info = call_with_retry(
                "the pseudonymiser", self.settings.pseudonymiser,
                lambda: stub.GetPublicKey(pseudonymiser_pb2.GetPublicKeyRequest(),
                                          timeout=self.retry.timeout_seconds), self.retry)
            raw = bytes(info.public_key)
        if public_key_id(raw) != pinned_id:
            raise GatewayConnectionError(
                f"the pseudonymiser key {public_key_id(raw)} is not the pinned "
                f"pseudonymiser_key_id {pinned_id}; nothing was pseudonymised. If the key was "
                "rotated on purpose, update pseudonymiser_key_id (and pseudonymiser_public_key)"
            )
        return raw

    def close(self) -> None:
        for name in ("matcher_channel",):
            ch = self.__dict__.get(name)
            if ch is not None:
                ch.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
