"""The Docker build context holds what the image needs, and the Dockerfile follows issue 16.

There is no Docker engine here, so nothing is built: these checks read the Dockerfile and the
.dockerignore as the builder would, against the files a fresh clone has (`git ls-files`).
Build for real with `docker build -t samenloop .` where an engine exists.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from setuptools import find_packages

from tests.deploy.dockerfile import DockerIgnore, copy_sources, parse_dockerfile

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
STAGES = parse_dockerfile(ROOT / "Dockerfile")
FINAL = STAGES[-1]
IGNORE = DockerIgnore((ROOT / ".dockerignore").read_text(encoding="utf-8"))

# Tools that belong to development and CI, never to the running image.
DEV_ONLY = {"grpcio-tools", "mypy", "mypy-protobuf", "pytest", "pytest-timeout", "hypothesis",
            "ruff", "pip-tools", "voprf", "psutil", "build"}


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
    files = [f for f in out.stdout.decode().split("\0") if f]
    return [f for f in files if (ROOT / f).exists()]


TRACKED = _tracked()
CONTEXT = {f for f in TRACKED if not IGNORE.excluded(f)}


def _copied() -> list[str]:
    """Context files some COPY in the build stages brings into the image."""
    sources = [s for stage in STAGES for i in stage.all("COPY")
               for s, origin in [(s, copy_sources(i)[1]) for s in copy_sources(i)[0]]
               if origin is None]
    out = []
    for f in CONTEXT:
        for source in sources:
            src = source.rstrip("/").removeprefix("./")
            if f == src or f.startswith(src + "/"):
                out.append(f)
                break
    return out


COPIED = set(_copied())


def test_the_ignore_rules_behave_as_docker_reads_them() -> None:
    rules = DockerIgnore("*\n!services/\n**/__pycache__\n!keep.txt\n**/*.key\n")
    table = {
        "README.md": True,
        "services/common/x.py": False,
        "services/common/__pycache__/x.pyc": True,
        "keep.txt": False,
        "services/pki/tls.key": True,
        "tests/test_x.py": True,
    }
    assert {path: rules.excluded(path) for path in table} == table


@pytest.mark.parametrize("instruction", [i for s in STAGES for i in s.all("COPY")],
                         ids=lambda i: i.arguments)
def test_every_copy_source_is_in_the_context(instruction: object) -> None:
    sources, origin = copy_sources(instruction)  # type: ignore[arg-type]
    if origin is not None:
        assert origin in {s.name for s in STAGES[:-1]}, f"COPY --from={origin}: no such stage"
        return
    for source in sources:
        src = source.rstrip("/").removeprefix("./")
        assert (ROOT / src).exists(), f"COPY {source}: not in the repository"
        assert any(f == src or f.startswith(src + "/") for f in CONTEXT), \
            f"COPY {source}: excluded by .dockerignore"


def test_every_package_pyproject_lists_is_copied_whole() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    top = {p.split(".")[0] for p in packages}
    assert top == {"samenloop", "crypto", "domain", "policies", "services"}
    data_suffixes = (".py", ".yaml", ".json", ".ini", ".mako", "py.typed")
    for package in packages:
        folder = package.replace(".", "/")
        wanted = [f for f in TRACKED if f.startswith(folder + "/") and "/" not in
                  f.removeprefix(folder + "/") and f.endswith(data_suffixes)]
        missing = sorted(set(wanted) - COPIED)
        assert not missing, f"{package}: not copied into the image: {missing}"


def test_project_metadata_files_are_in_the_context() -> None:
    readme = PYPROJECT["project"]["readme"]
    assert readme in COPIED, "pyproject's readme is needed to build the wheel"
    assert "pyproject.toml" in COPIED


def test_the_lock_file_is_referenced_present_and_in_the_context() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes" in text and "requirements.lock" in text
    assert LOCK.exists(), "the Dockerfile installs from requirements.lock; it is missing"
    assert "requirements.lock" in COPIED


def _runtime_lock() -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "deploy/docker/runtime_requirements.py"), str(LOCK),
         str(ROOT / "pyproject.toml")], check=True, capture_output=True, text=True)
    return out.stdout


def _pinned(text: str) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", m.group(1)).lower(): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", text,
                                 re.MULTILINE)}


def test_the_image_installs_every_runtime_dependency_and_no_dev_tool() -> None:
    runtime = _pinned(_runtime_lock())
    for dep in PYPROJECT["project"]["dependencies"]:
        name = re.sub(r"[-_.]+", "-", Requirement(dep).name).lower()
        assert name in runtime, f"{dep}: not in the image's requirements"
    assert not DEV_ONLY & set(runtime), f"dev tools in the image: {DEV_ONLY & set(runtime)}"
    # Every block keeps its hashes (pip --require-hashes refuses anything else).
    blocks = re.split(r"\n(?=\S)", _runtime_lock().strip())
    assert len(blocks) == len(runtime)
    assert all("--hash=sha256:" in block for block in blocks)


def test_the_runtime_set_is_closed_under_the_installed_packages_requirements() -> None:
    """Independent oracle: the metadata of the packages installed in this venv."""
    runtime = _pinned(_runtime_lock())
    for name in sorted(runtime):
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # pinned for another platform; pip checks it when building
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = re.sub(r"[-_.]+", "-", req.name).lower()
            assert dep in runtime, f"{name} needs {dep}, which the image would not install"


def test_nothing_secret_or_local_is_in_the_context() -> None:
    # Files a developer may have lying around untracked never reach the builder either.
    for local in ("pki/matcher/tls.key", "dev/gateway/vault.key", "matcher-data/matcher.sqlite",
                  "services/x/__pycache__/y.cpython-311.pyc", ".venv/bin/python", ".git/config",
                  "tests/matcher/test_x.py", "officers.yaml", "services/matcher/hmac.key",
                  "crypto/leftover.pem",
                  "services/matcher-data/matcher.sqlite-wal"):
        assert IGNORE.excluded(local), local
    for f in CONTEXT:
        assert not f.startswith(("tests/", ".git", ".venv", "examples/", "bench/")), f
        assert not f.endswith((".key", ".pem", ".sqlite")), f


# What issue 16 asks of the image, checked against the Dockerfile's final stage.
def test_multi_stage_on_slim_python_311() -> None:
    assert len(STAGES) >= 2
    for stage in STAGES:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.base), \
            stage.base


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = FINAL.all("USER")
    assert users, "no USER in the final stage"
    uid = users[-1].arguments.split(":")[0].strip()
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root uid (runAsNonRoot)"


def test_final_stage_has_no_build_tools() -> None:
    runs = " ".join(i.arguments for i in FINAL.all("RUN"))
    for tool in ("apt-get install", "apk add", "gcc", "build-essential", "make ", "pip install",
                 "-dev "):
        assert tool not in runs, f"final stage: {tool!r}"
    copies = [copy_sources(i) for i in FINAL.all("COPY")]
    assert copies == [(["/opt/venv"], "build")], "the final stage takes only the built venv"


def test_writable_paths_are_volumes_and_there_is_a_healthcheck() -> None:
    volumes = " ".join(" ".join(i.words()) for i in FINAL.all("VOLUME"))
    assert "/data" in volumes and "/tmp" in volumes
    health = FINAL.all("HEALTHCHECK")
    assert health and "services.common.health_probe" in health[-1].arguments
    assert "services/common/health_probe.py" in COPIED
    env = " ".join(i.arguments for i in FINAL.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing tries to write .pyc to a read-only root


def test_the_role_is_chosen_by_command() -> None:
    entry = FINAL.all("ENTRYPOINT")
    assert entry and entry[-1].words() == ["samenloop"]
