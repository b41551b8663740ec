"""The inbox's typed settings, on the shared base of every service (services/common/settings.py).

A YAML file overridden by `SAMENLOOP_INBOX__*` variables; unknown keys refused with a "did you
mean", `host:port` and files typed, private key files only the owner may read, every problem one
line naming the file, the key and the fix (ADR 0014). docs/inbox.md explains every key:

    team: wijkteam-feijenoord
    matcher: 127.0.0.1:7402
    tls: {ca: pki/ca/ca.crt, cert: pki/wijkteam-feijenoord/tls.crt,
          key: pki/wijkteam-feijenoord/tls.key}
    inbox_key: pki/wijkteam-feijenoord/inbox.key
    partner_keys:
      woonstad-rotterdam: pki/gateway-woonstad-rotterdam/disclosure.key.pub
    bind: 127.0.0.1:8470
    users_file: inbox-users.json
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from services.common.settings import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Address,
    BindAddress,
    FilePath,
    MessageBytes,
    OrganisationId,
    PositiveInt,
    PrivateKeyFile,
    ReadableFile,
    Section,
    ServiceSettings,
    TlsFiles,
    load_settings,
)

DEFAULT_BIND = "127.0.0.1:8470"
"""Loopback: the inbox shows identities, so it is reachable from this machine unless told."""


class AuthSettings(Section):
    """How team members log in: local accounts, or a header set by a trusted reverse proxy."""

    mode: Literal["local", "proxy"] = Field(
        default="local", description="`local` accounts (argon2id) or the reverse `proxy` header")
    proxy_header: str = Field(default="X-Remote-User", min_length=1,
                              description="the header naming the member's team-local id")
    trusted_proxies: tuple[str, ...] = Field(
        default=("127.0.0.1", "::1"),
        description="only requests from these addresses may carry the proxy header")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        return value


class LoginSettings(Section):
    """Login throttling: after `max_failures` wrong passwords, wait `lockout_seconds`."""

    max_failures: PositiveInt = 5
    lockout_seconds: PositiveInt = 300


class InboxSettings(ServiceSettings):
    """Everything `samenloop inbox serve` and the inbox CLI need."""

    SERVICE: ClassVar[str] = "inbox"

    team: OrganisationId = Field(
        description="the team's organisation id, as in its certificate and policies' recipient")
    matcher: Address = Field(default="127.0.0.1:7402", description="the matcher's host:port")
    tls: TlsFiles = Field(description="`{ca, cert, key}`: the team's mTLS files")
    max_message_bytes: MessageBytes = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES, description="the largest gRPC message the inbox "
        "sends or accepts from the matcher (ADR 0028)")
    inbox_key: PrivateKeyFile = Field(
        description="the team's X25519 private key that opens disclosures (chmod 600)")
    partner_keys: dict[OrganisationId, ReadableFile] = Field(
        default_factory=dict,
        description="each partner's published Ed25519 disclosure key (.pub file)")
    bind: BindAddress = Field(default=DEFAULT_BIND, description="where the web app listens")
    users_file: FilePath = Field(default=Path("inbox-users.json"),
                                 description="local accounts (argon2id hashes, written 0600)")
    auth: AuthSettings = AuthSettings()
    login: LoginSettings = LoginSettings()
    session_idle_minutes: PositiveInt = 30
    language: Literal["nl", "en"] = "nl"

    @property
    def bind_host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    @property
    def on_loopback(self) -> bool:
        """Served on loopback only: plain HTTP is acceptable, so cookies cannot be `Secure`."""
        if self.bind_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind_host).is_loopback
        except ValueError:
            return False


def load_inbox_settings(path: Path) -> InboxSettings:
    """Read `path`, apply `SAMENLOOP_INBOX__*`, validate; one line per problem (ConfigError)."""
    return load_settings(InboxSettings, Path(path))
