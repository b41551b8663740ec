"""Configuration of the pseudonymiser (YAML), validated with errors that name the setting.

```yaml
bind: 127.0.0.1:7401
tls: {ca: pki/ca.crt, cert: pki/pseudonymiser.crt, key: pki/pseudonymiser.key}
voprf_key: pki/pseudonymiser.voprf.key
max_batch_size: 1000              # elements per BlindEvaluate
max_request_bytes: 1048576        # gRPC message limit
deny_list: revoked.txt            # optional: revoked certificate serials / fingerprints
organisations:                    # the only organisations served, each with its own quota
  gemeente-rotterdam: {daily_elements: 5000000, rate_per_second: 50000, burst: 50000}
  woonstad-rotterdam: {daily_elements: 200000, rate_per_second: 5000, burst: 5000}
```
Relative paths are relative to the configuration file. Organisations are named by the id their
certificate carries (the OIN for a PKIoverheid certificate, the slug for the dev CA; ADR 0003).
There is no default quota: an organisation that is not listed is refused (ADR 0006).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.config import ConfigError, load_yaml_config, require, resolve_path
from services.common.tls import TlsMaterial
from services.pseudonymiser.quota import QuotaLimits


@dataclass(frozen=True)
class PseudonymiserConfig:
    bind: str
    tls: TlsMaterial
    voprf_key: Path
    organisations: dict[str, QuotaLimits]
    max_batch_size: int = 1000
    max_request_bytes: int = 1024 * 1024
    deny_list: Path | None = None


def _limits(raw: Any, where: str, source: Path, max_batch: int) -> QuotaLimits:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: `{where}` must be a mapping with daily_elements, "
                          "rate_per_second and burst")
    try:
        limits = QuotaLimits(
            daily_elements=int(raw["daily_elements"]),
            rate_per_second=float(raw["rate_per_second"]),
            burst=int(raw["burst"] if "burst" in raw else raw["rate_per_second"]),
        )
    except KeyError as missing:
        raise ConfigError(f"{source}: `{where}` lacks {missing}") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: `{where}` values must be numbers") from None
    if limits.daily_elements < 0 or limits.rate_per_second <= 0:
        raise ConfigError(f"{source}: `{where}` needs daily_elements >= 0 and "
                          "rate_per_second > 0")
    if limits.burst < max_batch:
        raise ConfigError(f"{source}: `{where}.burst` ({limits.burst}) is below max_batch_size "
                          f"({max_batch}), so a full batch could never pass")
    return limits


def load_config(path: Path) -> PseudonymiserConfig:
    data = load_yaml_config(path)
    tls = require(data, "tls", path, dict)
    try:
        material = TlsMaterial(
            ca_cert=resolve_path(tls["ca"], path),
            cert=resolve_path(tls["cert"], path),
            key=resolve_path(tls["key"], path),
        )
    except KeyError as missing:
        raise ConfigError(f"{path}: `tls` lacks {missing} (needs ca, cert and key)") from None
    max_batch = int(data.get("max_batch_size", 1000))
    if not 1 <= max_batch <= 65535:
        raise ConfigError(f"{path}: `max_batch_size` must be between 1 and 65535")
    if "quota" in data:
        raise ConfigError(f"{path}: `quota` is gone: list each organisation served under "
                          "`organisations: {<org>: {daily_elements, rate_per_second, burst}}`; "
                          "there is no default quota")
    raw_orgs = data.get("organisations")
    if not isinstance(raw_orgs, dict) or not raw_orgs:
        raise ConfigError(f"{path}: `organisations` must list every organisation this "
                          "pseudonymiser serves, as `<org>: {daily_elements, rate_per_second, "
                          "burst}`")
    organisations = {
        str(org): _limits(raw, f"organisations.{org}", path, max_batch)
        for org, raw in raw_orgs.items()
    }
    deny_list = data.get("deny_list")
    return PseudonymiserConfig(
        bind=require(data, "bind", path),
        tls=material,
        voprf_key=resolve_path(require(data, "voprf_key", path), path),
        organisations=organisations,
        max_batch_size=max_batch,
        max_request_bytes=int(data.get("max_request_bytes", 1024 * 1024)),
        deny_list=resolve_path(str(deny_list), path) if deny_list else None,
    )
