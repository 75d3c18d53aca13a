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
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon
from exporter.focus.columns import CORRECTION, MonthError
from exporter.focus.writers import chunks
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
    """A daemon over the simulator with one clock: `at(t)` moves both and polls."""

    def __init__(self, tmp_path: Path, sim_url: str) -> None:
        self.tmp_path, self.sim_url, self.now = tmp_path, sim_url, 0.0
        self.daemon = self.start()

    def start(self) -> Daemon:
        return Daemon(config(self.tmp_path, self.sim_url), clock=lambda: self.now)

    async def restart(self) -> None:
        await self.daemon.aclose()
        self.daemon = self.start()

    async def at(self, t: int) -> None:
        self.now = float(t)
        http_json(f"{self.sim_url}/_sim/clock", method="POST", body={"freeze": True, "at": t})
        assert await self.daemon.poll(self.daemon.targets[0])

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
