"""Reading a small text file people hand us (YAML, JSON): bounded in size, UTF-8, and when it
is not UTF-8, an error that says on which line and column the first bad byte is (ADR 0028).

Python's "'utf-8' codec can't decode byte 0xe9 in position 4711" names a byte offset nobody
can find in an editor; a line and column can be.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TextInputError", "decode_utf8", "read_utf8"]


class TextInputError(ValueError):
    """The file is too large or not UTF-8 text. `line` is 1-based, or None for the whole file.

    The message names neither the file (the caller adds it) nor any of its content.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


def decode_utf8(data: bytes) -> str:
    """`data` as text; `TextInputError` naming the line and column of the first invalid byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TextInputError(
            f"not UTF-8 text: the byte 0x{data[exc.start]:02x} on line {line}, column {column} "
            "is not valid UTF-8; save the file as UTF-8", line) from None


def read_utf8(path: Path | str, *, max_bytes: int) -> str:
    """Read at most `max_bytes` of `path` as UTF-8 text.

    Raises `TextInputError` when the file is larger or not UTF-8, and OSError when it cannot
    be read (missing, a directory, no permission).
    """
    with Path(path).open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TextInputError(f"the file is larger than {max_bytes // 1024} KiB; this is not a "
                             "file of this kind, or it must be split")
    return decode_utf8(data)
