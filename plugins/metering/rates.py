"""A model's catalogue prices as plain data, without genai-prices.

The gateway process never imports the catalogue (:mod:`plugins.metering.catalogue`, ~11 MB with
its snapshot): a helper process reads it (:mod:`plugins.metering.price_helper`) and answers with
these, as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: gateway provider type -> catalogue provider id (``openai_compatible``: by URL only)
PROVIDER_OF_TYPE = {"openai": "openai", "azure_openai": "azure", "anthropic": "anthropic",
                    "gemini": "google", "vertex": "google"}


@dataclass(frozen=True)
class CataloguePrice:
    """One model's prices: base rates, and the rates above each input-token threshold."""

    provider: str                                   # catalogue provider id
    model: str                                      # catalogue model id
    rates: dict[str, float]                         # kind -> USD per million tokens
    tiers: tuple[tuple[int, dict[str, float]], ...] = ()    # (above N input tokens, rates), ascending
    priced: frozenset[str] = frozenset()            # kinds the catalogue prices on their own

    def rates_for(self, input_tokens: int) -> dict[str, float]:
        """The rates a call with *input_tokens* (cache reads and writes included) pays: a tier
        applies to every token once the prompt is above its threshold."""
        chosen = self.rates
        for start, rates in self.tiers:
            if input_tokens > start:
                chosen = rates
        return chosen

    def to_json(self) -> dict[str, Any]:
        # floats survive JSON exactly (repr round-trips), so the helper's answer is the catalogue's
        return {"provider": self.provider, "model": self.model, "rates": self.rates,
                "tiers": [[start, rates] for start, rates in self.tiers], "priced": sorted(self.priced)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CataloguePrice:
        return cls(data["provider"], data["model"], dict(data["rates"]),
                   tuple((int(start), dict(rates)) for start, rates in data["tiers"]), frozenset(data["priced"]))
