"""``metrics:`` (declared by plugins.metrics.prometheus)."""

from __future__ import annotations

from pydantic import Field

from proxy.config import ConfigModel


class MetricsConfig(ConfigModel):
    #: distinct ``model`` label values one endpoint keeps; later models are counted as "other" (a wildcard
    #: endpoint serves whatever model name a client sends: this bounds the series it can create)
    max_models_per_endpoint: int = Field(50, ge=1)
    #: distinct ``key`` label values of the prompt-cache series (the per-key cache hit ratio); later keys
    #: are counted as "other"
    max_keys: int = Field(200, ge=1)
