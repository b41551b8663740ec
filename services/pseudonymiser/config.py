"""The pseudonymiser's settings (YAML, `SAMENLOOP_PSEUDONYMISER__*` overrides; ADR 0014).

```yaml
bind: 127.0.0.1:7401
tls: {ca: pki/ca/ca.crt, cert: pki/pseudonymiser/tls.crt, key: pki/pseudonymiser/tls.key}
voprf_key: pki/pseudonymiser/voprf.key
max_batch_size: 1000              # elements per BlindEvaluate
max_request_bytes: 1048576        # gRPC message limit
organisations:                    # the only organisations served, each with its own quota
  woonstad-rotterdam: {daily_elements: 2000000, rate_per_second: 20000, burst: 20000}
deny_list: null                   # optional: revoked certificate serials / fingerprints
```
Relative paths are relative to the configuration file. There is no default quota: a gateway
whose organisation is not listed is not served (the quota is the defence against a dictionary
run over all BSNs, so it is a deliberate number per partner).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from services.common.settings import (
    BindAddress,
    OrganisationId,
    PositiveFloat,
    PositiveInt,
    PrivateKeyFile,
    Section,
    ServiceSettings,
    TlsFiles,
    load_settings,
)
from services.common.tls import TlsMaterial
from services.pseudonymiser.quota import QuotaLimits

DEFAULT_BIND = "127.0.0.1:7401"


class OrganisationQuota(Section):
    """One partner's limits, counted in elements (one request may carry a whole batch)."""

    daily_elements: PositiveInt = Field(description="evaluations per UTC day")
    rate_per_second: PositiveFloat = Field(description="sustained evaluations per second")
    burst: PositiveInt | None = Field(
        default=None, description="largest burst (token bucket); default: rate_per_second")

    @model_validator(mode="after")
    def _default_burst(self) -> OrganisationQuota:
        if self.burst is None:
            object.__setattr__(self, "burst", max(1, int(self.rate_per_second)))
        return self

    def limits(self) -> QuotaLimits:
        return QuotaLimits(self.daily_elements, self.rate_per_second, self.burst or 1)


class PseudonymiserConfig(ServiceSettings):
    SERVICE: ClassVar[str] = "pseudonymiser"

    bind: BindAddress = DEFAULT_BIND
    tls: TlsFiles = Field(description="`{ca, cert, key}`: the mTLS files")
    voprf_key: PrivateKeyFile = Field(description="the VOPRF private key file (chmod 600)")
    max_batch_size: int = Field(default=1000, ge=1, le=65535)
    max_request_bytes: PositiveInt = 1024 * 1024
    organisations: dict[OrganisationId, OrganisationQuota] = Field(
        min_length=1,
        description="the partner organisations served, each with "
                    "{daily_elements, rate_per_second, burst}")

    @model_validator(mode="after")
    def _bursts_fit_a_batch(self) -> PseudonymiserConfig:
        for org, quota in self.organisations.items():
            burst = quota.limits().burst
            if burst < self.max_batch_size:
                raise ValueError(
                    f"`organisations.{org}.burst` ({burst}) is below `max_batch_size` "
                    f"({self.max_batch_size}), so a full batch could never pass; raise the burst "
                    "or lower max_batch_size")
        return self

    @property
    def tls_material(self) -> TlsMaterial:
        return self.tls.material()

    def quota_limits(self) -> dict[str, QuotaLimits]:
        return {org: quota.limits() for org, quota in self.organisations.items()}


def load_config(path: Path) -> PseudonymiserConfig:
    """Read and validate the pseudonymiser configuration; `ConfigError` says what is wrong."""
    return load_settings(PseudonymiserConfig, path)
