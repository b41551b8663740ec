"""Shared helpers for the inbox tests: a config file on the dev PKI, a web client, forms."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

TEAM = "wijkteam-feijenoord"
PASSWORD = "correct horse battery staple"


def write_config(directory: Path, pki_dir: Path, *, team: str = TEAM, matcher: str = "127.0.0.1:1",
                 partner_keys: dict[str, Path] | None = None, **extra: Any) -> Path:
    """An inbox config on the dev PKI's files (as `samenloop pki dev-setup` writes them)."""
    doc: dict[str, Any] = {
        "team": team,
        "matcher": matcher,
        "tls": {"ca": str(pki_dir / "ca" / "ca.crt"), "cert": str(pki_dir / team / "tls.crt"),
                "key": str(pki_dir / team / "tls.key")},
        "inbox_key": str(pki_dir / team / "inbox.key"),
        "partner_keys": {k: str(v) for k, v in (partner_keys or {}).items()},
        "users_file": str(directory / f"{team}-users.json"),
    }
    doc.update(extra)
    path = directory / f"{team}-inbox.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)
