"""ListCost from a vendor's list price: where a mapping names a list-price family (Anthropic's
`anthropic_list_cost_usd_total`), ListCost is that family's amount and BilledCost, ContractedCost
and EffectiveCost the net amount; a day billed at zero but listed above it still has its row; a
revision of the list price alone after the month closed is a Correction row; a target without
the list-price family (Anthropic's legacy API) writes ListCost = BilledCost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exporter.focus.columns import date_text
from exporter.focus.export import FocusExport
from exporter.focus.writers import chunks
from exporter.ledger import Ledger
from exporter.model import Flow, Stream, StreamRead
from exporter.vendors import plugin
from tests.focus_checks import billed, parse_csv, problems
from tests.synthetic_costs import DAY, DEC, NOV, month_text

COSTS = Stream("costs", DAY, 2 * DAY, 40 * DAY, month_origin=True)
NET, LIST = "anthropic_cost_usd_total", "anthropic_list_cost_usd_total"
# workspace, cost_type, token_type, model, service_tier, context_window, api_key_id
TOKENS = ("wrkspc_a", "tokens", "input_no_cache", "claude-x", "standard", "0-200k", "key_1")
SEARCH = ("default", "web_search", "none", "", "", "", "key_1")


def costs(start: int, end: int, net: dict[int, tuple[str, str]]) -> StreamRead:
    """Per day: the token series' net and list amounts; the web search series listed at $0.25
    and billed at nothing (a full discount)."""
    flows = []
    for day in range(start, end, DAY):
        amount, listed = net.get(day, ("0.80", "1.00"))
        flows += [
            Flow(NET, TOKENS, day, day + DAY, float(amount)),
            Flow(LIST, TOKENS, day, day + DAY, float(listed)),
            Flow(LIST, SEARCH, day, day + DAY, 0.25),
        ]
    return StreamRead("costs", start, end, flows)


def export(path: Path, month: int) -> list[dict[str, str]]:
    data = b"".join(
        chunks(
            FocusExport(path, clock=lambda: float(DEC + 3 * DAY)).dataset(month_text(month)), "csv"
        )
    )
    assert problems(data) == []
    return parse_csv(data)


def test_list_cost_is_the_list_price_and_billed_cost_the_net_amount(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    ledger = Ledger(path, clock=lambda: float(DEC + 3 * DAY))
    families = plugin("anthropic").families
    ledger.declare("analytics", families)
    ledger.declare("console", families)
    for day in range(NOV, DEC, DAY):
        ledger.commit(
            "analytics", day + DAY - 600, [(COSTS, costs(max(NOV, day - DAY), day + DAY, {}))]
        )
        read = costs(max(NOV, day - DAY), day + DAY, {})
        legacy = StreamRead(
            "costs", read.start, read.end, [f for f in read.flows if f.family == NET]
        )
        ledger.commit("console", day + DAY - 600, [(COSTS, legacy)])
    # after November closed: its last day's list price revised, its net amount not
    last = DEC - DAY
    revised = {last: ("0.80", "1.10")}
    ledger.commit("analytics", DEC + 3 * DAY, [(COSTS, costs(last, DEC + 3 * DAY, revised))])
    ledger.close()

    days = (DEC - NOV) // DAY
    november = export(path, NOV)
    analytics = [r for r in november if r["BillingAccountId"] == "analytics"]
    assert billed(analytics) == Decimal("0.80") * days
    assert billed(analytics, "ListCost") == Decimal("1.25") * days
    for column in ("ContractedCost", "EffectiveCost"):
        assert billed(analytics, column) == billed(analytics)
    free = [r for r in analytics if r["SubAccountId"] == "default"]
    assert len(free) == days
    assert {(r["BilledCost"], r["ListCost"], r["PricingQuantity"]) for r in free} == {
        ("0.0", "0.25", "0.0")
    }
    console = [r for r in november if r["BillingAccountId"] == "console"]
    assert console and all(r["ListCost"] == r["BilledCost"] for r in console)

    december = export(path, DEC)
    corrections = [r for r in december if r["ChargeClass"] == "Correction"]
    # the difference taken in decimal: 1.10 - 1.00, not the floats' 0.10000000000000009
    assert [(r["ChargePeriodStart"], r["BilledCost"], r["ListCost"]) for r in corrections] == [
        (date_text(last), "0.0", "0.1")
    ]
