"""``metrics:`` (declared by plugins.metrics.prometheus)."""

from __future__ import annotations

from pydantic import Field

from proxy.config import ConfigModel


class MetricsConfig(ConfigModel):
    #: distinct ``model`` label values one endpoint keeps; later models are counted as "other" (a wildcard
    #: endpoint serves whatever model name a client sends: this bounds the series it can create)
    max_models_per_endpoint: int = Field(50, ge=1)
    #: label the prompt-cache series (the cache hit ratio) by gateway key; off, metrics never name a key
    #: (key names often name people) and the series are by agent kind only (``key=""``)
    prompt_cache_by_key: bool = False
    #: distinct ``key`` label values of the prompt-cache series; later keys are counted as "other"
    max_keys: int = Field(200, ge=1)
