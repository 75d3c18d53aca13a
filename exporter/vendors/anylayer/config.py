"""An Anylayer developer account's configuration (`kind: anylayer`) and the API's timeframes
and granularities.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from exporter.config.source import BaseSource

AnylayerTimeframe = Literal["1h", "24h", "7d", "30d", "90d", "1y", "all"]
AnylayerGranularity = Literal["minute", "hour", "day", "week", "month"]
ANYLAYER_TIMEFRAME_SECONDS = {
    "1h": 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
    "1y": 365 * 86400,
    "all": 0,
}
ANYLAYER_GRANULARITY_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 31 * 86400,
}


class AnylayerConfig(BaseSource):
    """An Anylayer (formerly ZKScore) developer account, read through "Get Usage"."""

    kind: Literal["anylayer"]
    path_prefix: Literal["/v1", "/api/v1"] = "/v1"
    timeframe: AnylayerTimeframe = "24h"
    granularity: AnylayerGranularity = "hour"
    key_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = None

    @model_validator(mode="after")
    def _window_fits(self) -> AnylayerConfig:
        span = ANYLAYER_TIMEFRAME_SECONDS[self.timeframe]
        width = ANYLAYER_GRANULARITY_SECONDS[self.granularity]
        if span and width >= span:
            raise ValueError(
                f"granularity {self.granularity!r} is not finer than timeframe {self.timeframe!r}"
            )
        if span and self.lookback is not None and self.lookback + 2 * width > span:
            raise ValueError(
                f"lookback ({self.lookback}s) plus two {self.granularity} buckets must fit in "
                f"the timeframe {self.timeframe!r}: what the API no longer returns is not re-read"
            )
        return self
