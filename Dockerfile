# syntax=docker/dockerfile:1
# samenloop: one image for every role; the command picks it.
#
#   docker build -t samenloop:0.1.0 .
#   docker run --read-only -v samenloop-data:/data --tmpfs /tmp \
#       -v "$PWD/config:/config:ro" samenloop:0.1.0 matcher serve --config /config/matcher.yaml
#
# Dependencies come from requirements.lock (hash-checked, runtime part only, binary wheels
# only), the final stage has no compiler, no pip and no package manager cache, runs as uid
# 10001 and writes only to the volumes /data and /tmp. HEALTHCHECK asks the plaintext health
# port (`health: {bind: "0.0.0.0:8081"}` in the service's configuration). See
# deploy/helm/samenloop/README.md and docs/operations.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment with the locked runtime dependencies and samenloop --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

COPY requirements.lock pyproject.toml README.md ./
COPY deploy/docker/runtime_requirements.py deploy/docker/
RUN python deploy/docker/runtime_requirements.py requirements.lock pyproject.toml > /tmp/runtime.txt \
 && python deploy/docker/runtime_requirements.py --only setuptools requirements.lock pyproject.toml > /tmp/build.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/runtime.txt \
 && python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --only-binary=:all: --no-deps -r /tmp/build.txt

COPY samenloop/ samenloop/
COPY crypto/ crypto/
COPY domain/ domain/
COPY policies/ policies/
COPY services/ services/
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
 && /opt/venv/bin/pip install --no-deps --no-index /tmp/wheels/samenloop-*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv \
 && /opt/venv/bin/pip uninstall --yes pip

# ---- runtime: the venv on a clean slim base, non-root, read-only root filesystem ------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="samenloop" \
      org.opencontainers.image.description="Privacy-preserving signal matching (Wams): matcher, pseudonymiser, gateway, inbox" \
      org.opencontainers.image.licenses="EUPL-1.2"

# The base image's own pip and setuptools are not needed to run and are one more thing to
# patch; the user owns only the volumes.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 samenloop \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin samenloop \
 && mkdir -p /data /config \
 && chown 10001:10001 /data

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    TMPDIR=/tmp \
    SAMENLOOP_HEALTH_PORT=8081

USER 10001:10001
WORKDIR /data
VOLUME ["/data", "/tmp"]
EXPOSE 8081

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "services.common.health_probe"]

ENTRYPOINT ["samenloop"]
CMD ["--help"]
