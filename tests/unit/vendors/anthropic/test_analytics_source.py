"""The Anthropic Analytics API source (`api: analytics`): its sweep plan, its row parser, and
the source read against the Analytics twin in process (httpx.ASGITransport) into the real
ledger, counters compared with the twin's ground truth (`usage_twin.AnthropicUsage`, summed here
independently of the source's code): a normal poll reads only the recent reach, a sweep every
`sweep_interval` (and the first read of a process, so after a restart) catches a revision days
old, and a read cut short by its request budget goes on where it stopped."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from exporter.daemon.windows import next_window
from exporter.ledger import Ledger
from exporter.model import Kind, Source, Stream, StreamRead, Window
from exporter.simulator.faults import FaultInjector
from exporter.simulator.twin import Frame
from exporter.upstream import Upstream, UpstreamError
from exporter.vendors.anthropic import (
    PLUGIN,
    analytics_query_twin,
    analytics_routes,
    analytics_source,
    twin,
    usage_twin,
)
from exporter.vendors.anthropic.analytics_rows import RowParser
from exporter.vendors.anthropic.analytics_source import AnalyticsSource
from exporter.vendors.anthropic.analytics_sweep import (
    Plan,
    SweepState,
    finished,
    plan,
    request_budget,
    spans,
)
from exporter.vendors.anthropic.config import AnthropicConfig
from exporter.vendors.anthropic.expected import REQUESTS as REQUESTS_FAMILY
from exporter.vendors.anthropic.expected import TOKENS
from exporter.vendors.anthropic.families import FAMILIES
from tests.fakes import Answers, make_source

H, D = 3600, 86400
KEY, ORG, TARGET = "sk-ant-admin01-analytics-test", "org-analytics", "acme"
T0 = 1_796_000_400  # 2026-11-30T01:00:00Z


# --- the plan ------------------------------------------------------------------------------


def test_the_first_read_of_a_process_sweeps_the_whole_window() -> None:
    window = Window(T0 - 30 * D, T0 + H)
    assert plan(window, T0, H, 3 * H, 6 * H, SweepState()) == Plan(T0 - 30 * D, sweep=True)


def test_between_sweeps_a_read_covers_only_the_recent_reach() -> None:
    state = SweepState(swept=T0, read_to=T0 + H)
    window = Window(T0 - 30 * D, T0 + 2 * H)
    chosen = plan(window, T0 + 600, H, 3 * H, 6 * H, state)
    assert chosen == Plan(T0 - T0 % H - 3 * H, sweep=False)


def test_a_sweep_is_due_every_sweep_interval() -> None:
    state = SweepState(swept=T0, read_to=T0 + H)
    window = Window(T0 - 30 * D, T0 + 7 * H)
    assert plan(window, T0 + 6 * H, H, 3 * H, 6 * H, state).sweep
    assert not plan(window, T0 + 6 * H - 1, H, 3 * H, 6 * H, state).sweep


def test_a_read_reaches_back_over_a_gap_since_the_last_one() -> None:
    state = SweepState(swept=T0, read_to=T0 - 5 * H)  # an outage of hours
    chosen = plan(Window(T0 - 30 * D, T0 + H), T0 + 60, H, 3 * H, 6 * H, state)
    assert chosen == Plan(T0 - 5 * H, sweep=False)


def test_a_catch_up_window_before_the_recent_reach_is_read_whole() -> None:
    state = SweepState(swept=T0, read_to=T0)
    window = Window(T0 - 40 * D, T0 - 9 * D)  # the planner's catch-up after a long outage
    assert plan(window, T0 + 60, H, 3 * H, 6 * H, state).start == T0 - 40 * D


def test_a_cut_read_goes_on_where_it_stopped_and_a_sweep_ends_at_the_open_bucket() -> None:
    state = SweepState()
    window = Window(T0 - 30 * D, T0 + H)
    first = plan(window, T0, H, 3 * H, 6 * H, state)
    finished(state, first, window, T0 - 20 * D, T0)  # cut by the budget
    assert (state.resume, state.sweeping, state.swept) == (T0 - 20 * D, True, None)
    second = plan(window, T0 + 60, H, 3 * H, 6 * H, state)
    assert second == Plan(T0 - 20 * D, sweep=True)
    finished(state, second, window, window.end, T0 + 60)
    assert (state.resume, state.swept, state.read_to) == (None, T0 + 60, window.end)


def test_an_empty_window_does_not_count_as_a_sweep() -> None:
    state = SweepState()
    window = Window(T0 + H, T0 + H)  # a hand-over's boundary not reached yet
    chosen = plan(window, T0, H, 3 * H, 6 * H, state)
    finished(state, chosen, window, window.end, T0)
    assert (
        state.swept is None and plan(Window(T0, T0 + 2 * H), T0 + H, H, 3 * H, 6 * H, state).sweep
    )


def test_spans_cut_a_range_on_bucket_bounds_within_the_apis_limit() -> None:
    assert spans(0, 40 * D, H, 31 * D) == [(0, 31 * D), (31 * D, 40 * D)]
    assert spans(0, 2 * D + 60, 60, D) == [(0, D), (D, 2 * D), (2 * D, 2 * D + 60)]
    assert spans(5, 5, H, 31 * D) == []


def test_a_poll_spends_at_most_one_minute_of_the_rate_limit() -> None:
    assert request_budget(300, 2) == 30
    assert request_budget(60, 1) == 60
    assert request_budget(10, 2) == 5
    assert request_budget(1, 4) == 1


# --- the parser ----------------------------------------------------------------------------


def usage_row(**group: Any) -> dict[str, Any]:
    return {
        "starting_at": "2026-11-30T00:00:00Z",
        "ending_at": "2026-11-30T01:00:00Z",
        "group": {**dict.fromkeys(analytics_query_twin.GROUP_KEYS), **group},
        "usage": {
            "uncached_input_tokens": 10,
            "cache_creation": {"ephemeral_1h_input_tokens": 1, "ephemeral_5m_input_tokens": 2},
            "cache_read_input_tokens": 30,
            "output_tokens": 40,
            "server_tool_use": {"web_search_requests": 3},
            "total_tokens": 83,
            "requests": 7,
        },
    }


def cost_row(amount: Any, list_amount: Any = "0", **group: Any) -> dict[str, Any]:
    return {
        "starting_at": "2026-11-30T00:00:00Z",
        "ending_at": "2026-12-01T00:00:00Z",
        "group": {
            **dict.fromkeys((*analytics_query_twin.GROUP_KEYS, "cost_type", "token_type")),
            **group,
        },
        "cost": {"amount": amount, "list_amount": list_amount, "currency": "USD", "requests": None},
    }


def parsed(parser: RowParser, *rows: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], float]:
    parser.add_all([parser.row(r) for r in rows])
    return {(f.family, f.labels): f.value for f in parser.flows()}


def test_usage_rows_become_one_flow_per_count_with_nulls_mapped_to_fixed_labels() -> None:
    parser = RowParser("messages", ("workspace_id", "api_key_id", "model", "product"))
    got = parsed(parser, usage_row(workspace_id=None, api_key_id=None, model="m", product=None))
    labels = ("default", "console", "m", "", "", "", "", "", "", "none")
    assert got == {
        ("anthropic_input_uncached_tokens_total", labels): 10,
        ("anthropic_input_cache_read_tokens_total", labels): 30,
        ("anthropic_input_cache_write_5m_tokens_total", labels): 2,
        ("anthropic_input_cache_write_1h_tokens_total", labels): 1,
        ("anthropic_output_tokens_total", labels): 40,
        ("anthropic_web_search_requests_total", labels): 3,
        ("anthropic_requests_total", labels): 7,
    }
    assert (parser.unknown, parser.inconsistencies) == (set(), 0)


def test_usage_drift_and_a_total_that_does_not_add_up_are_counted() -> None:
    row = usage_row(model="m")
    row["usage"]["total_tokens"] = 84
    row["usage"]["thinking_tokens"] = 5
    row["group"]["team"] = None
    parser = RowParser("messages", ("model",))
    parsed(parser, row)
    assert parser.unknown == {"usage.thinking_tokens", "group.team"}
    assert parser.inconsistencies == 1


def test_cents_are_summed_exactly_and_converted_to_dollars_once() -> None:
    parser = RowParser("costs", ("workspace_id", "cost_type", "token_type"))
    rows = [
        cost_row("0.1", "0.1", workspace_id="w", cost_type="tokens", token_type="output_tokens"),
        cost_row("0.2", "0.3", workspace_id="w", cost_type="tokens", token_type="output_tokens"),
        cost_row("41280.000000", "41280", workspace_id=None, cost_type="web_search"),
    ]
    got = parsed(parser, *rows)
    tokens = ("w", "tokens", "output_tokens", "", "", "", "")
    search = ("default", "web_search", "none", "", "", "", "")
    assert got[("anthropic_cost_usd_total", tokens)] == float(Decimal("0.003"))  # not 0.1+0.2
    assert got[("anthropic_list_cost_usd_total", tokens)] == float(Decimal("0.004"))
    assert got[("anthropic_cost_usd_total", search)] == 412.8


@pytest.mark.parametrize("amount", [12.5, "-1", "NaN", "12 cents", None])
def test_an_amount_that_is_not_a_decimal_string_of_cents_fails_the_read(amount: Any) -> None:
    with pytest.raises(UpstreamError):
        RowParser("costs", ()).row(cost_row(amount))


def test_costs_in_another_currency_are_skipped_not_counted() -> None:
    row = cost_row("100")
    row["cost"]["currency"] = "EUR"
    parser = RowParser("costs", ())
    assert parsed(parser, row) == {}
    assert parser.non_usd == {"EUR"}


# --- the source, against the twin, into the ledger -----------------------------------------


def analytics(
    answers: Answers,
    clock: Callable[[], float] = lambda: T0,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **keys: Any,
) -> Source:
    """The Analytics source alone (not the names read beside it) of target `acme`, on `clock`."""

    def build(config: AnthropicConfig, upstream: Upstream) -> Source:
        return AnalyticsSource(config, upstream, clock)

    return make_source(
        PLUGIN, answers, build, sleep=sleep, name=TARGET, api_key=KEY, api="analytics", **keys
    )


class World:
    """The twin, a clock shared by twin, source and ledger, and polls as the daemon runs them."""

    def __init__(self, tmp: Path, **keys: Any) -> None:
        self.now = T0
        self.truth = usage_twin.AnthropicUsage(5, T0 - 4 * D, 120)
        frame = Frame(
            seed=5,
            start=T0 - 4 * D,
            late_seconds=120,
            max_page_buckets=None,
            keys={KEY: ORG},
            faults=FaultInjector(),
            now=lambda: self.now,
        )
        self.app = Starlette(routes=analytics_routes.routes(frame, self.truth))
        self.asked: list[httpx.URL] = []
        self.answered: list[int] = []
        self.slept: list[float] = []
        self.path = tmp / "state.db"
        self.keys = {"backfill": "5d", "revision_window": "3d", "sweep_interval": "6h", **keys}
        self.ledger = self.open_ledger()
        self.source = self.new_source()

    def open_ledger(self) -> Ledger:
        ledger = Ledger(self.path, clock=lambda: self.now)
        ledger.declare(TARGET, FAMILIES)
        return ledger

    def new_source(self) -> Source:
        asgi = httpx.ASGITransport(app=self.app)

        async def record(request: httpx.Request) -> httpx.Response:
            self.asked.append(request.url)
            response = await asgi.handle_async_request(request)
            self.answered.append(response.status_code)
            return response

        async def sleep(seconds: float) -> None:  # the upstream's wait (Retry-After): time passes
            self.slept.append(seconds)
            self.now += math.ceil(seconds)

        # each request handed to the twin, recorded
        return analytics(record, lambda: self.now, sleep, retries=2, **self.keys)

    def restart(self) -> None:
        self.ledger.close()
        self.ledger = self.open_ledger()
        self.source = self.new_source()

    def poll(self) -> list[tuple[Stream, StreamRead]]:
        async def run() -> list[tuple[Stream, StreamRead]]:
            out = []
            for stream in await self.source.streams():
                window = next_window(stream, self.now, self.ledger.cursor(TARGET, stream.name))
                out.append((stream, await self.source.read(stream, window)))
            return out

        self.asked.clear()
        reads = asyncio.run(run())
        self.ledger.commit(TARGET, self.now, reads)
        return reads

    def counters(self) -> dict[tuple[str, tuple[str, ...]], float]:
        return {
            (fs.family.name, s.labels): s.value
            for fs in self.ledger.samples(TARGET)
            if fs.family.kind is Kind.COUNTER
            for s in fs.samples
        }

    def expected(self) -> dict[tuple[str, tuple[str, ...]], float]:
        """The twin's truth since usage began, written out from `usage_twin.AnthropicUsage` (the
        default grouping: usage by workspace, key and model; cost by workspace, model, cost
        type and token type)."""
        end = self.now + D
        out: dict[tuple[str, tuple[str, ...]], float] = {}
        families = {**TOKENS, twin.REQUESTS: REQUESTS_FAMILY}
        for row in twin.ROWS:
            d = row.dims
            usage_labels = (
                d["workspace_id"] or "default",
                d["api_key_id"] or "console",
                d["model"] or "none",
                *[""] * 7,
            )
            for field, family in families.items():
                value = self.truth.value(ORG, row, field, 0, end, self.now)
                out[(family, usage_labels)] = out.get((family, usage_labels), 0) + value
        dims = ["workspace_id", "model", "cost_type", "token_type"]
        for group, sums in self.truth.cost(ORG, 0, end, self.now, dims, legacy=False).items():
            ws, model, cost_type, token_type = (
                v or n for v, n in zip(group, ("default", "none", "none", "none"), strict=True)
            )
            labels = (ws, cost_type, token_type, model, "", "", "")
            out[("anthropic_cost_usd_total", labels)] = float(sums.amount / 100)
            out[("anthropic_list_cost_usd_total", labels)] = float(sums.list_amount / 100)
        return {k: v for k, v in out.items() if v}

    def wrong(self) -> list[str]:
        got, want = self.counters(), self.expected()
        out = [
            f"{k}: exporter {got.get(k)}, truth {v}"
            for k, v in want.items()
            if not math.isclose(got.get(k, -1.0), v, rel_tol=1e-12, abs_tol=1e-6)
        ]
        return out + [f"{k}: extra {v}" for k, v in got.items() if k not in want and v]

    def control(self, **body: Any) -> Any:
        async def call() -> Any:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://twin") as client:
                response = await client.post("/_sim/anthropic/analytics", json=body)
                return response.json()

        return asyncio.run(call())

    def revise(self, age: int, delta: int, row: int = 0, field: str = "output_tokens") -> None:
        self.truth.revisions.add((ORG, row, field), (self.now - age) // 60 * 60, delta)


def starting_at(url: httpx.URL) -> int:
    value = url.params["starting_at"]
    return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def output_of_row0(world: World) -> float:
    labels = (twin.PROD, twin.K_BACKEND, twin.SONNET, *[""] * 7)
    return world.counters()[("anthropic_output_tokens_total", labels)]


def test_a_sweep_catches_an_old_revision_a_normal_poll_does_not_reread(tmp_path: Path) -> None:
    world = World(tmp_path)
    first = world.poll()
    assert world.wrong() == []
    assert all(read.start == next_window(s, T0, None).start for s, read in first)
    before = output_of_row0(world)

    world.now += 600
    world.revise(age=2 * D + 12 * H, delta=1000)  # inside the revision window (3d)
    reads = world.poll()
    recent = dict((s.name, r) for s, r in reads)
    assert recent["messages"].start == world.now - world.now % H - 3 * H  # not 3 days back
    oldest = min(starting_at(url) for url in world.asked)
    assert oldest >= world.now - 2 * D - H  # costs reach back cost_lookback (2d), no further
    assert output_of_row0(world) < before + 1000  # the old revision is not seen yet
    assert world.wrong() != []

    world.now += 6 * H  # sweep_interval
    world.poll()
    assert world.wrong() == []
    assert output_of_row0(world) >= before + 1000


def test_after_a_restart_the_first_read_sweeps_and_the_counters_stay_exact(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.poll()
    world.now += 900
    world.poll()
    world.revise(age=D + 3 * H, delta=777, row=2, field="uncached_input_tokens")
    world.now += 600
    world.restart()
    windows = {
        s.name: next_window(s, world.now, world.ledger.cursor(TARGET, s.name))
        for s in asyncio.run(world.source.streams())
    }
    reads = world.poll()
    assert all(r.start == windows[s.name].start for s, r in reads)  # a sweep: the whole window
    assert world.wrong() == []


def test_a_read_cut_by_its_request_budget_goes_on_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytics_source, "PAGE_ROWS", 100)  # pages end inside a bucket
    world = World(tmp_path, interval="2s")  # one request a read
    ends = []
    for _ in range(40):
        reads = world.poll()
        assert len(world.asked) == len(reads)  # never more than the budget
        ends.append(min(r.end for _, r in reads))
        if not world.wrong():
            break
        world.now += 2
    assert world.wrong() == []
    assert len(ends) > 2 and ends == sorted(ends)  # several polls, each further on


def test_levels_data_refreshed_and_budget(tmp_path: Path) -> None:
    world = World(tmp_path, monthly_budget_usd=250)
    reads = dict((s.name, r) for s, r in world.poll())
    levels = [*reads["messages"].levels, *reads["costs"].levels]
    refreshed = {lv.labels: lv.value for lv in levels}
    expected = float((T0 - 120) // 60 * 60)
    assert refreshed[("usage",)] == expected and refreshed[("cost",)] == expected
    assert refreshed[()] == 250.0


def test_429_with_retry_after_is_waited_out_and_the_counts_stay_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytics_source, "PAGE_ROWS", 200)  # several pages a read
    world = World(tmp_path)
    world.control(action="rate_limit", per_minute=3)
    world.poll()
    assert 429 in world.answered  # the twin's limit was hit ...
    assert world.slept and all(0 < s <= 60 for s in world.slept)  # ... and Retry-After obeyed
    world.control(action="rate_limit", per_minute=0)
    world.poll()  # the recent buckets again, at one time
    assert world.wrong() == []


def test_a_missing_count_fails_the_read() -> None:
    row = usage_row()
    del row["usage"]["cache_creation"]["ephemeral_1h_input_tokens"]
    with pytest.raises(UpstreamError, match="ephemeral_1h_input_tokens"):
        RowParser("messages", ()).row(row)


def test_more_rows_without_a_cursor_fail_the_read_rather_than_zero_the_rest() -> None:
    """`has_more: true` with no `next_page`: the rows after the last one received cannot be
    read, so the read must not claim the range (that would zero every later bucket)."""
    page = {"data": [usage_row()], "has_more": True, "next_page": None}

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**page, "data_refreshed_at": "2026-11-30T01:00:00Z"})

    source = analytics(answer)

    async def read() -> StreamRead:
        stream = next(s for s in await source.streams() if s.name == "messages")
        return await source.read(stream, Window(T0 - 3 * 3600, T0 + 3600))

    with pytest.raises(UpstreamError, match="has_more without a next_page"):
        asyncio.run(read())


def test_a_page_without_data_refreshed_at_keeps_the_last_one() -> None:
    """The lag alert reads `anthropic_data_refreshed_timestamp_seconds`: an answer without the
    field must not drop the gauge (a firing alert would resolve itself)."""
    stamps = ["2026-11-30T00:30:00Z", None]

    async def answer(request: httpx.Request) -> httpx.Response:
        page: dict[str, Any] = {"data": [usage_row()], "has_more": False, "next_page": None}
        stamp = stamps[0] if len(stamps) == 2 else stamps[-1]
        if stamp is not None:
            page["data_refreshed_at"] = stamp
        return httpx.Response(200, json=page)

    source = analytics(answer)

    async def refreshed() -> list[float]:
        stream = next(s for s in await source.streams() if s.name == "messages")
        read = await source.read(stream, Window(T0 - 3 * 3600, T0 + 3600))
        return [lv.value for lv in read.levels if lv.labels == ("usage",)]

    first = asyncio.run(refreshed())
    stamps.pop(0)
    assert first == asyncio.run(refreshed()) == [float(T0 - 1800)]
