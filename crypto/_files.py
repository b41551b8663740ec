"""Private-file primitives shared by every key type: create 0600, refuse to read if exposed.

A secret key that other local users can read is a leaked key. Writing goes through
`os.open(..., O_CREAT | O_EXCL, 0o600)` so the file never exists with wider permissions, not
even for a moment; reading checks the mode first and refuses with the command that fixes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crypto.errors import KeyFileError

PRIVATE_MODE = 0o600


def write_private_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Create `path` with mode 0600 and write `data`. Refuses to replace a file unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, PRIVATE_MODE)
    except OSError as exc:
        raise KeyFileError(f"cannot create {tmp}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, PRIVATE_MODE)  # umask cannot widen it, but be explicit
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_private_file(path: Path) -> None:
    """The one permission check for every secret file (key files, TLS keys, the CA key).

    Refuses a missing file, a non-regular file and a file that group or others may access,
    naming the `chmod` that fixes it.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot stat key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"key file {path} is accessible by group or others"
            f" (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )


def read_private_file(path: Path) -> bytes:
    """Read a secret file, refusing it if group or others have any access to it."""
    path = Path(path)
    check_private_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None


def write_public_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write a public file (certificate, public key), mode 0644."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; refusing to overwrite")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


KEY_FORMAT = "samenloop-key/v1"


def encode_key_document(
    kind: str, key_id: str, *, secret: bytes | None, public: bytes | None
) -> bytes:
    """The on-disk JSON of a key: self-describing, so a key of one kind never loads as another."""
    import base64
    import json

    doc: dict[str, str] = {"format": KEY_FORMAT, "kind": kind, "key_id": key_id}
    if public is not None:
        doc["public"] = base64.b64encode(public).decode("ascii")
    if secret is not None:
        doc["secret"] = base64.b64encode(secret).decode("ascii")
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")


def decode_key_document(path: Path, data: bytes, kind: str, field: str) -> bytes:
    """Return the base64-decoded `field` ("secret" or "public") of a key document of `kind`."""
    import base64
    import binascii
    import json

    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"key file {path} is not a samenloop key document (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise KeyFileError(f"key file {path} is not a {KEY_FORMAT} document")
    if doc.get("kind") != kind:
        raise KeyFileError(
            f"key file {path} holds a {doc.get('kind')!r} key, expected {str(kind)!r}"
        )
    value = doc.get(field)
    if not isinstance(value, str):
        raise KeyFileError(f"key file {path} has no {field} part")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"key file {path}: {field} part is not valid base64") from None
