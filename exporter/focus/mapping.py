"""What a vendor declares next to its cost family so the core can write it as FOCUS rows.

The core names no vendor: everything vendor-specific in a FOCUS row (provider, service, SKU,
sub-account, billed quantity, list price, extra columns) comes from a `CostMapping` on the
vendor's `Plugin.focus`. The families it names must be declared with `history=True`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Names:
    """Where a sub-account's display name comes from: a gauge family of the same target (an
    `*_info` family) whose `key` label holds the sub-account id and `name` label its name."""

    family: str
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Quantity:
    """The vendor's billed quantity of a cost series: a counter family (with history) whose
    labels are the cost family's labels followed by `unit`, the label naming its unit.
    `units` translates a vendor unit into FOCUS's unit format (`1000_tokens` -> `1000 Tokens`);
    a unit not in it is translated word by word (underscores to spaces, capitalised)."""

    family: str
    unit: str
    units: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CostMapping:
    """How one cost counter family (a currency amount, daily buckets, `history=True`) becomes
    FOCUS CostAndUsage rows: one per UTC day and series.

    `provider` is ProviderName, PublisherName and InvoiceIssuerName; `service` ServiceName (one
    ServiceCategory each: `AI and Machine Learning`, subcategory `Generative AI`); `sku` the
    labels whose values, joined by `/`, are SkuId and ChargeDescription; `sub_account` the label
    holding SubAccountId (a project, a workspace), named through `names`; `quantity` the billed
    quantity (PricingQuantity, PricingUnit) where the vendor gives one; `list_cost` a counter
    family (with history and the cost family's labels) holding the cost at the vendor's list
    price where it gives one: ListCost (otherwise ListCost is BilledCost); `extra` the `x_`
    columns (column name -> label) for what FOCUS has no column for; `absent` the label values
    that stand for "not applicable" (a model on a web-search cost), written as empty, never as
    a literal value."""

    family: str
    provider: str
    service: str
    currency: str = "USD"
    sku: tuple[str, ...] = ()
    sub_account: str = ""
    names: Names | None = None
    quantity: Quantity | None = None
    list_cost: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
