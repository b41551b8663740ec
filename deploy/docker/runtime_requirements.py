"""Print the part of a pip-compile lock file the running services need (standard library only).

`requirements.lock` pins, with hashes, the runtime dependencies and the `dev` extra together
(one lock, so a developer's venv and CI get the versions that were tested). The container image
must hold only the runtime part: no compilers (grpcio-tools carries protoc), linters or test
tools. This keeps every runtime block of the lock verbatim, hashes included:

    python deploy/docker/runtime_requirements.py requirements.lock pyproject.toml > runtime.txt
    pip install --require-hashes -r runtime.txt

The runtime set is `[project] dependencies` from pyproject.toml plus everything the lock says
is there "via" one of them, to a fixed point. pip's hash-checking mode then refuses the install
if the set misses a dependency, so an incomplete set cannot produce an image silently.
`--only NAME …` prints just those blocks (the builder's setuptools).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    """PEP 503: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, tuple[list[str], set[str]]]:
    """name -> (the block's lines, the names it is required "via")."""
    blocks: dict[str, tuple[list[str], set[str]]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = normalise(pin.group(1))
            blocks[current] = ([line], set())
            in_via = False
            continue
        if current is None or not line.startswith(" "):
            current = None if not line.startswith(" ") else current
            continue
        lines, parents = blocks[current]
        lines.append(line)
        comment = line.strip()
        if comment.startswith("# via"):
            rest = comment.removeprefix("# via").strip()
            in_via = not rest
            if rest:
                parents.add(_parent(rest))
        elif in_via and comment.startswith("#   "):
            parents.add(_parent(comment.removeprefix("#").strip()))
        else:
            in_via = False
    return blocks


def _parent(text: str) -> str:
    if text.startswith("-r ") or "(pyproject.toml)" in text:
        return "(project)"
    match = _NAME.match(text)
    return normalise(match.group(1)) if match else text


def runtime_names(pyproject: dict[str, object], blocks: dict[str, tuple[list[str], set[str]]]
                  ) -> set[str]:
    project = pyproject["project"]
    assert isinstance(project, dict)
    roots = {normalise(_NAME.match(dep).group(1))  # type: ignore[union-attr]
             for dep in project.get("dependencies", [])}
    missing = roots - set(blocks)
    if missing:
        raise SystemExit(f"the lock file pins none of {', '.join(sorted(missing))}; "
                         "regenerate it with `make lock`")
    needed = set(roots)
    while True:
        more = {name for name, (_lines, parents) in blocks.items()
                if name not in needed and parents & needed}
        if not more:
            return needed
        needed |= more


def main(argv: list[str]) -> int:
    only = None
    if argv and argv[0] == "--only":
        only = {normalise(n) for n in argv[1:-2]}
        argv = argv[-2:]
    if len(argv) != 2:
        print("usage: runtime_requirements.py [--only NAME …] LOCK PYPROJECT", file=sys.stderr)
        return 2
    blocks = parse_lock(Path(argv[0]).read_text(encoding="utf-8"))
    if only is not None:
        names = only
        unknown = names - set(blocks)
        if unknown:
            print(f"{argv[0]} pins none of {', '.join(sorted(unknown))}", file=sys.stderr)
            return 1
    else:
        names = runtime_names(tomllib.loads(Path(argv[1]).read_text(encoding="utf-8")), blocks)
    for name in sorted(names):
        print("\n".join(blocks[name][0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
