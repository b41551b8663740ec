"""Developer tools of the domain package.

python -m domain catalogue-markdown   # the generated part of docs/catalogue.md
python -m domain catalogue [PATH]     # validate a catalogue file, print version and digest
"""

from __future__ import annotations

import sys

from domain.catalogue import load_catalogue, render_markdown
from domain.errors import CatalogueError


def main(argv: list[str]) -> int:
    if argv[:1] == ["catalogue-markdown"]:
        sys.stdout.write(render_markdown(load_catalogue()))
        return 0
    if argv[:1] == ["catalogue"]:
        try:
            cat = load_catalogue(argv[1] if len(argv) > 1 else None)
        except CatalogueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"catalogue {cat.version}: {len(cat)} types, sha256 {cat.digest}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
