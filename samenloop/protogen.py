"""Generate the Python gRPC code in `samenloop/v1` from `proto/samenloop/v1/*.proto`.

The generated modules are committed (so an install needs no protoc) and CI checks them for
drift: `python -m samenloop.protogen --check` regenerates into a temporary folder and fails if
anything differs. Generation is reproducible because grpcio-tools and mypy-protobuf are pinned
exactly in pyproject.toml. See docs/decisions/0001-generated-code-committed.md.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO_ROOT / "proto"
API_PACKAGE = Path("samenloop") / "v1"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / API_PACKAGE).glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) into `out_dir`; return the generated files."""
    from grpc_tools import protoc  # dev dependency: only needed to generate

    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--plugin=protoc-gen-mypy={Path(sys.executable).parent / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={Path(sys.executable).parent / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    package = out_dir / API_PACKAGE
    (package / "__init__.py").write_text(
        '"""Generated from proto/samenloop/v1 by `make proto`. Do not edit."""\n'
    )
    return sorted(p for p in package.iterdir() if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code drifted")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate(Path(tmp))
        target = REPO_ROOT / API_PACKAGE
        if args.check:
            names = {p.name for p in generated}
            committed = {p.name for p in target.iterdir() if p.is_file() and p.suffix != ".pyc"}
            drift = sorted(names ^ committed)
            drift += [p.name for p in generated if p.name in committed
                      and not filecmp.cmp(p, target / p.name, shallow=False)]
            if drift:
                print(f"samenloop/v1 is out of date with proto/ ({', '.join(sorted(set(drift)))}); "
                      "run `make proto` and commit the result", file=sys.stderr)
                return 1
            print(f"samenloop/v1 matches proto/ ({len(generated)} files)")
            return 0
        for stale in target.glob("*_pb2*"):
            stale.unlink()
        for path in generated:
            shutil.copyfile(path, target / path.name)
        print(f"generated {len(generated)} files into {API_PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
