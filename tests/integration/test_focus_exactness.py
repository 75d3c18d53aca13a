"""The FOCUS export sums exactly to the simulator's ground truth, per target and month, across
revisions inside the lookback, a month boundary, a restart and a retention boundary; Correction
rows appear for revisions observed after a month closed, and nowhere else.

The simulator runs in its own process on loopback with its clock frozen and moved by the test;
the daemon polls it in this process with the same clock. The twin's costs arrive late (its
late-data model), so a day keeps changing for minutes after it ends: the last day of a month,
read before midnight and again after, is revised after its month closed."""

from __future__ import annotations

import calendar
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon
from exporter.focus.columns import CORRECTION, MonthError
from exporter.focus.writers import chunks
from exporter.upstream import Upstream
from exporter.vendors import anthropic as anthropic_plugin
from exporter.vendors.anthropic.analytics_source import AnalyticsSource
from exporter.vendors.anthropic.config import AnthropicConfig
from tests.focus_checks import billed, parse_csv, problems
from tests.harness import HOST, Process, exporter_argv, free_port, http_json, running

KEY, ORG = "sk-admin-focus-0001", "org-focus"
OCT = calendar.timegm((2026, 10, 1, 0, 0, 0))
NOV = calendar.timegm((2026, 11, 1, 0, 0, 0))
DEC = calendar.timegm((2026, 12, 1, 0, 0, 0))
GROUP_BY = ["project_id", "line_item"]
TOLERANCE = Decimal("1e-6")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Process]:
    port = free_port()
    argv = exporter_argv(
        "simulate",
        "--web.listen-address",
        f"{HOST}:{port}",
        "--seed",
        "11",
        "--usage-start",
        str(OCT - 20 * 86400),
        "--openai-key",
        f"{KEY}={ORG}",
    )
    with running(
        "simulator", argv, tmp_path / "sim.log", f"http://{HOST}:{port}", ready_path="/_sim/clock"
    ) as process:
        yield process


def config(tmp_path: Path, sim_url: str) -> Config:
    return Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "cost_history_months": 1,
            "sources": [
                {
                    "kind": "openai",
                    "name": "fin",
                    "base_url": sim_url,
                    "api_key": KEY,
                    "interval": 60,
                    "endpoints": ["costs"],
                    "backfill": "40d",
                    "group_by": GROUP_BY,
                    "retries": 2,
                }
            ],
        }
    )


def truth(sim_url: str, month: int, end: int) -> Decimal:
    """The twin's cost over [month, end) as it stands at the simulator's now."""

    def since(start: int) -> int:
        query = urllib.parse.urlencode(
            [("org", ORG), ("endpoint", "costs"), ("start", str(start))]
            + [("group_by", k) for k in GROUP_BY]
        )
        rows = http_json(f"{sim_url}/_sim/openai/truth?{query}")["rows"]
        return sum(int(r["values"]["micro_usd"]) for r in rows)

    return Decimal(since(month) - since(end)) / Decimal(1_000_000)


def next_month(start: int) -> int:
    return {OCT: NOV, NOV: DEC}[start]


class Run:
    """A daemon over the simulator with one clock: `at(t)` moves both and polls every target."""

    def __init__(
        self, tmp_path: Path, sim_url: str, make: Callable[[Path, str], Config] = config
    ) -> None:
        self.tmp_path, self.sim_url, self.now, self.make = tmp_path, sim_url, 0.0, make
        self.clock = [0.0]  # for a source that reads the time itself
        self.daemon = self.start()

    def start(self) -> Daemon:
        return Daemon(self.make(self.tmp_path, self.sim_url), clock=lambda: self.now)

    async def restart(self) -> None:
        await self.daemon.aclose()
        self.daemon = self.start()

    async def at(self, t: int) -> None:
        self.now = self.clock[0] = float(t)
        http_json(f"{self.sim_url}/_sim/clock", method="POST", body={"freeze": True, "at": t})
        for target in self.daemon.targets:
            assert await self.daemon.poll(target), target.name

    def rows(self, month: str) -> list[dict[str, str]]:
        focus = self.daemon.state.focus
        assert focus is not None
        data = b"".join(chunks(focus.dataset(month), "csv"))
        assert problems(data) == []
        return parse_csv(data)

    def month_truth(self, month: int) -> Decimal:
        return truth(self.sim_url, month, next_month(month))


def in_month(rows: list[dict[str, str]], month: int) -> list[dict[str, str]]:
    start = f"{month_text(month)}-"
    return [r for r in rows if r["ChargePeriodStart"].startswith(start)]


def month_text(month: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(month))


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= TOLERANCE


async def test_billed_cost_sums_to_the_truth_across_months_restarts_and_retention(
    tmp_path: Path, sim: Process
) -> None:
    run = Run(tmp_path, sim.url)
    # October: a first poll (backfill reaches into September), then revisions inside the
    # lookback: yesterday and today keep growing between polls.
    for t in (NOV - 3 * 86400, NOV - 2 * 86400 + 7200, NOV - 86400 + 300, NOV - 3 * 3600):
        await run.at(t)
        october = run.rows("2026-10")
        assert close(billed(october), run.month_truth(OCT)), t
        assert not [r for r in october if r["ChargeClass"]], "a correction inside the month"
    closed_october = run.rows("2026-10")
    at_close = billed(closed_october)

    # November: the last October day, read at 21:00, is read again after midnight (and the
    # late minutes arrive after it): a revision of a closed month.
    await run.at(NOV + 60)
    await run.restart()  # a restart in between changes nothing
    await run.at(NOV + 900)
    await run.at(NOV + 86400 + 600)
    assert run.rows("2026-10") == closed_october, "a closed month's file changed"
    november = run.rows("2026-11")
    corrections = [r for r in november if r["ChargeClass"] == CORRECTION]
    assert corrections, "the revision of 31 October after the month closed is not shown"
    assert {r["ChargePeriodStart"] for r in corrections} == {"2026-10-31T00:00:00Z"}
    assert all(r["BillingPeriodStart"] == "2026-11-01T00:00:00Z" for r in corrections)
    assert all(not r["PricingQuantity"] for r in corrections)
    # October, as billed at close plus what November corrected, is October's truth today;
    # November's own days are November's truth so far.
    assert close(at_close + billed(corrections), run.month_truth(OCT))
    assert not close(at_close, run.month_truth(OCT)), "no revision after close was exercised"
    assert close(billed(in_month(november, NOV)), run.month_truth(NOV))

    # December with one month of retention: October's history is dropped (a clear error, not
    # a partial file); November, now closed, is still exact with its own corrections.
    await run.at(DEC - 2 * 3600)
    november_at_close = run.rows("2026-11")
    await run.restart()
    await run.at(DEC + 3600)
    await run.at(DEC + 86400 + 600)
    with pytest.raises(MonthError) as gone:
        run.rows("2026-10")
    assert gone.value.status == 410
    assert run.rows("2026-11") == november_at_close
    december = run.rows("2026-12")
    late = [r for r in december if r["ChargeClass"] == CORRECTION]
    assert {r["ChargePeriodStart"] for r in late} <= {"2026-11-30T00:00:00Z"}
    assert close(billed(in_month(november_at_close, NOV)) + billed(late), run.month_truth(NOV))
    assert close(billed(in_month(december, DEC)), truth(sim.url, DEC, DEC + 40 * 86400))
    await run.daemon.aclose()


# Anthropic: the legacy Cost API (daily buckets, net cost only: ListCost is BilledCost) and the
# Analytics API (hourly buckets, net and list-price amounts: ListCost is the list price), two
# organizations of one twin, each checked against its own ground truth.
ANTHROPIC = {
    "console": ("sk-ant-admin01-focus-console", "org-focus-console", "admin"),
    "analytics": ("sk-ant-admin01-focus-analytics", "org-focus-analytics", "analytics"),
}


@pytest.fixture
def anthropic_sim(tmp_path: Path) -> Iterator[Process]:
    port = free_port()
    keys = [a for key, org, _ in ANTHROPIC.values() for a in ("--anthropic-key", f"{key}={org}")]
    argv = exporter_argv(
        "simulate",
        "--web.listen-address",
        f"{HOST}:{port}",
        "--seed",
        "13",
        "--usage-start",
        str(OCT - 20 * 86400),
        *keys,
    )
    with running(
        "simulator", argv, tmp_path / "sim.log", f"http://{HOST}:{port}", ready_path="/_sim/clock"
    ) as process:
        yield process


def anthropic_config(tmp_path: Path, sim_url: str) -> Config:
    cost_group_by = {
        "admin": ["workspace_id", "description"],
        "analytics": ["workspace_id", "api_key_id", "model", "cost_type", "token_type"],
    }
    return Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "cost_history_months": 1,
            "sources": [
                {
                    "kind": "anthropic",
                    "name": name,
                    "base_url": sim_url,
                    "api_key": key,
                    "api": api,
                    "interval": 60,
                    "endpoints": ["costs"],
                    "bucket_width": "1h",
                    "backfill": "40d",
                    "cost_group_by": cost_group_by[api],
                    "resources": {"api_keys": False, "users": False},
                    "retries": 2,
                }
                for name, (key, _, api) in ANTHROPIC.items()
            ],
        }
    )


def anthropic_truth(sim_url: str, name: str, month: int, end: int) -> tuple[Decimal, Decimal]:
    """The twin's net and list-price cost of target `name` over [month, end), in USD."""
    _, org, api = ANTHROPIC[name]

    def since(start: int) -> tuple[Decimal, Decimal]:
        query = urllib.parse.urlencode(
            {
                "org": org,
                "endpoint": "costs",
                "api": api,
                "start": start,
                "group_by": "workspace_id",
            }
        )
        rows = http_json(f"{sim_url}/_sim/anthropic/truth?{query}")["rows"]
        net = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
        listed = sum((Decimal(r["list_amount"]) for r in rows), Decimal(0))
        return net, listed

    (net_a, list_a), (net_b, list_b) = since(month), since(end)
    return (net_a - net_b) / 100, (list_a - list_b) / 100


def workspace_names(sim_url: str, name: str) -> dict[str, str]:
    """The twin's workspaces by id, the default one also as `default` (its null in reports)."""
    _, org, _ = ANTHROPIC[name]
    names = http_json(f"{sim_url}/_sim/anthropic/names?{urllib.parse.urlencode({'org': org})}")
    found = {w["id"]: w["name"] for w in names["workspaces"]}
    return {**found, "default": found[names["default_workspace_id"]]}


def check_anthropic(run: Run, rows: list[dict[str, str]], month: int, end: int) -> None:
    """Per target: BilledCost sums to the twin's net cost, ListCost to its list-price cost (the
    legacy API has none: the net cost); every row's columns as the mapping says."""
    for name, (_, _, api) in ANTHROPIC.items():
        own = [r for r in rows if r["BillingAccountId"] == name]
        assert own, f"no {name} rows"
        net, listed = anthropic_truth(run.sim_url, name, month, end)
        assert net > 0 and listed > net, "the twin's list price is above its net price"
        assert close(billed(own), net), (name, billed(own), net)
        assert close(billed(own, "ListCost"), listed if api == "analytics" else net), name
        workspaces = workspace_names(run.sim_url, name)
        accounts = {r["SubAccountId"] for r in own}
        assert "default" in accounts and len(accounts) > 1, accounts
        for row in own:
            # the workspace's name from the listing; the null workspace is `default`, named
            assert row["SubAccountName"] == workspaces[row["SubAccountId"]], row
            assert row["ProviderName"] == row["InvoiceIssuerName"] == "Anthropic"
            assert row["ServiceName"] == "Claude API"
            assert row["SubAccountId"] and row["x_CostType"], row
            assert row["SkuId"] == "/".join(
                v for v in (row["x_Model"], row["x_CostType"], row["x_TokenType"]) if v
            )
            if row["ChargeClass"] != CORRECTION:
                # no billed quantity in the cost report: the amount billed, in USD
                assert (row["PricingQuantity"], row["PricingUnit"]) == (row["BilledCost"], "USD")


@dataclass
class Booked:
    """What the Anthropic run's datasets held: the Correction rows of each month's file while it
    was the current month (none may be there: its own days are simply revised) and November's
    (only 31 October, revised after October closed, may be there)."""

    open_corrections: list[dict[str, str]]
    november_corrections: list[dict[str, str]]


async def anthropic_months(tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch) -> Booked:
    """October and November polled, restarted, swept; every sum checked against the truth."""
    clock = [0.0]

    def analytics(config: AnthropicConfig, upstream: Upstream) -> AnalyticsSource:
        # the daemon hands its clock to the ledger, not to a source: the Analytics source
        # plans its reads (recent reach, sweeps) by the clock, so it gets the test's too
        return AnalyticsSource(config, upstream, lambda: clock[0])

    monkeypatch.setattr(anthropic_plugin, "AnalyticsSource", analytics)
    run = Run(tmp_path, sim_url, anthropic_config)
    run.clock = clock
    open_corrections: list[dict[str, str]] = []
    # October: a first poll (backfill into September), then polls whose lookback (and the
    # Analytics sweep) re-reads days that have grown since, and days of closed September.
    for t in (NOV - 3 * 86400, NOV - 86400 + 300, NOV - 3 * 3600):
        await run.at(t)
        if t == NOV - 3 * 86400:  # the workspaces listing, on its own schedule
            for target in run.daemon.targets:
                await run.daemon.poll_resources(target, force=True)
        october = run.rows("2026-10")
        check_anthropic(run, in_month(october, OCT), OCT, NOV)
        open_corrections += [r for r in october if r["ChargeClass"]]
    closed_october = run.rows("2026-10")

    # November: 31 October, read at 21:00, is read again after midnight and after a restart
    # (the Analytics API's first read of a process sweeps its revision window).
    await run.at(NOV + 60)
    await run.restart()
    await run.at(NOV + 900)
    await run.at(NOV + 86400 + 600)
    assert run.rows("2026-10") == closed_october, "a closed month's file changed"
    november = run.rows("2026-11")
    corrections = [r for r in november if r["ChargeClass"] == CORRECTION]
    revised = [r for r in corrections if r["ChargePeriodStart"] == "2026-10-31T00:00:00Z"]
    assert {r["BillingAccountId"] for r in revised} == set(ANTHROPIC), "no revision seen"
    assert all(r["BillingPeriodStart"] == "2026-11-01T00:00:00Z" for r in corrections)
    assert all(not r["PricingQuantity"] and not r["PricingUnit"] for r in corrections)
    # October as closed, plus November's corrections of it, is October's truth today
    check_anthropic(run, closed_october + in_month(corrections, OCT), OCT, NOV)
    check_anthropic(run, in_month(november, NOV), NOV, DEC)
    await run.daemon.aclose()
    return Booked(open_corrections, corrections)


async def test_anthropic_costs_and_list_prices_sum_to_the_truth_across_months_and_restarts(
    tmp_path: Path, anthropic_sim: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    await anthropic_months(tmp_path, anthropic_sim.url, monkeypatch)


async def test_anthropic_corrections_only_for_revisions_after_a_month_closed(
    tmp_path: Path, anthropic_sim: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = await anthropic_months(tmp_path, anthropic_sim.url, monkeypatch)
    assert booked.open_corrections == [], "a correction of a day that did not change"
    days = {r["ChargePeriodStart"] for r in booked.november_corrections}
    assert days == {"2026-10-31T00:00:00Z"}, "a correction of a day that did not change"
