"""The OpenAI Admin API's amounts (spend limits, thresholds) come in cents: a whole number of
them becomes the exact dollars, anything else fails the read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exporter.upstream import UpstreamError
from exporter.vendors.openai.resources import dollars


def test_cents_become_the_exact_decimal_dollars() -> None:
    for cents in [*range(0, 200_001), 12_345, 99_999, 40_001, 10**12 + 1, 7 * 10**11 + 3]:
        assert Decimal(repr(dollars(cents, "e", "f"))) == Decimal(cents) / 100, cents
    assert dollars(150_000.0, "e", "f") == 1500.0  # a whole float is still cents


@pytest.mark.parametrize("bad", [12.5, "100", True, None, -1, [100]])
def test_what_is_not_a_whole_number_of_cents_is_refused(bad: Any) -> None:
    with pytest.raises(UpstreamError):
        dollars(bad, "spend_limit", "threshold_amount")
