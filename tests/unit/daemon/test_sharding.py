"""Sharding (`--shard`, `--total-shards`, `--shard.from-hostname`) and the fixed origin
(`count_from`): which shard owns a target, what a shard exports, the command line's errors, and
that counters with a fixed origin are a function of the upstream alone (the same whatever the
start time, and a long catch-up converges over a few polls)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

import exporter.cli.main as cli
from exporter.config.load import Config, ConfigError, load_config
from exporter.daemon import Daemon
from exporter.daemon.sharding import Shard, ShardError, ordinal_from_hostname, resolve, shard_of
from exporter.daemon.windows import WindowPlanner, fixed_origin
from exporter.http.server import create_app
from exporter.http.state import ServerState, TargetStatus
from exporter.model import Flow, Stream, StreamRead, Window
from tests.harness import parse_samples

NAMES = [f"target-{i}" for i in range(1000)]
DAY = 86400
NOW = 1_767_225_600 + 40 * DAY + 3 * 3600 + 600  # 2026-02-10 03:10 UTC


def test_shard_of_is_the_documented_sha256_function() -> None:
    for name in ("acme-prod", "storage-eu", "zkscore-api", "é-ünïcode"):
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
        assert shard_of(name, 7) == int(digest[:16], 16) % 7
    # Pinned: a change of the function would move every operator's targets.
    assert [shard_of("acme-prod", m) for m in (1, 2, 3, 4)] == [0, 0, 1, 2]
    assert [shard_of("guardrails", m) for m in (2, 3, 4, 5)] == [0, 0, 2, 0]


def test_every_target_has_one_shard_and_adding_one_moves_none() -> None:
    for total in (1, 2, 3, 4, 7):
        owners = {name: [s for s in range(total) if Shard(s, total).owns(name)] for name in NAMES}
        assert all(len(shards) == 1 for shards in owners.values())
        counts = [sum(1 for s in owners.values() if s == [k]) for k in range(total)]
        assert min(counts) > 0.8 * len(NAMES) / total  # spread evenly
    before = {name: shard_of(name, 4) for name in NAMES[:500]}
    after = {name: shard_of(name, 4) for name in NAMES}  # 500 targets added
    assert all(after[name] == shard for name, shard in before.items())


def test_ordinal_from_hostname() -> None:
    assert ordinal_from_hostname("usage-exporter-2") == 2
    assert ordinal_from_hostname("prod-usage-exporter-13\n") == 13
    for bad in ("usage-exporter", "usage-exporter-", "", "web-7f9c-x"):
        with pytest.raises(ShardError, match="does not end in -<ordinal>"):
            ordinal_from_hostname(bad)


def test_resolve_and_its_errors() -> None:
    assert resolve(None, None, False, env={}) == Shard(0, 1)
    assert resolve(2, 3, False, env={}) == Shard(2, 3)
    assert resolve(1, None, False, env={"USAGE_EXPORTER_TOTAL_SHARDS": "2"}) == Shard(1, 2)
    pod = {"HOSTNAME": "usage-exporter-2", "USAGE_EXPORTER_TOTAL_SHARDS": "3"}
    assert resolve(None, None, True, env=pod) == Shard(2, 3)
    cases: list[tuple[tuple[int | None, int | None, bool, dict[str, str]], str]] = [
        ((3, 3, False, {}), "out of range"),
        ((0, 0, False, {}), "at least 1"),
        ((1, None, False, {}), "--shard needs --total-shards"),
        ((None, None, True, {"HOSTNAME": "usage-exporter-0"}), "needs --total-shards"),
        ((None, 2, True, {"HOSTNAME": "usage-exporter-2"}), "pod ordinal 2 is not below"),
        ((None, 2, True, {"HOSTNAME": "laptop"}), "does not end in -<ordinal>"),
        ((1, 2, True, {"HOSTNAME": "x-1"}), "not both"),
        ((None, None, False, {"USAGE_EXPORTER_TOTAL_SHARDS": "three"}), "not a number"),
    ]
    for args, message in cases:
        with pytest.raises(ShardError, match=message):
            resolve(*args[:3], env=args[3])


def config_file(tmp_path: Path, names: Sequence[str], extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    sources = "".join(
        f"  - kind: arthur\n    name: {name}\n    api_key: k-{name}\n"
        f"    base_url: http://127.0.0.1:1\n"
        for name in names
    )
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{extra}sources:\n{sources}")
    return path


def test_command_line_errors_exit_2_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, ["a"])
    for argv, message in (
        (["--shard", "3", "--total-shards", "3"], "--shard 3 is out of range"),
        (["--total-shards", "0"], "at least 1"),
        (["--shard", "-1", "--total-shards", "2"], "not a whole number"),
    ):
        for command in ("run", "once"):
            try:
                code = cli.main([command, "--config", str(config), *argv])
            except SystemExit as exit:  # argparse's own errors
                code = int(exit.code or 0)
            assert code == 2
            err = capsys.readouterr().err
            assert message in err and err.startswith("usage-exporter: error:"), err
    assert not (tmp_path / "state").exists()  # refused before the state was opened


def test_check_config_prints_the_assignment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["acme-prod", "guardrails", "storage-eu"]
    assert cli.main(["check-config", str(config_file(tmp_path, names)), "--total-shards", "3"]) == 0
    out = capsys.readouterr().out
    for name in names:
        assert f"{name}: shard {shard_of(name, 3)}\n" in out


def test_a_shard_exports_only_its_targets_and_its_shard_info(tmp_path: Path) -> None:
    names = [f"engine-{i}" for i in range(8)]
    config = load_config(config_file(tmp_path, names), env={})
    seen: list[str] = []
    for index in range(3):
        daemon = Daemon(config, shard=Shard(index, 3))
        assert daemon.state.exposition is not None
        samples = parse_samples(daemon.state.exposition.text.decode())
        exported = {
            dict(labels)["target"] for name, labels in samples if name == "usage_exporter_up"
        }
        assert exported == {n for n in names if shard_of(n, 3) == index}
        info = frozenset({("shard", str(index)), ("total_shards", "3")})
        assert samples[("usage_exporter_shard_info", info)] == 1
        assert samples[("usage_exporter_total_shards", frozenset())] == 3
        assert [n for n, _ in samples if n == "usage_exporter_shard_info"] == [
            "usage_exporter_shard_info"
        ]
        assert daemon.state.shard_text() == f"shard {index} of 3"
        seen += exported
        daemon.ledger.close()
    assert sorted(seen) == sorted(names)  # each exactly once
    unsharded = Daemon(config)
    assert unsharded.state.exposition is not None
    samples = parse_samples(unsharded.state.exposition.text.decode())
    unsharded_info = frozenset({("shard", "0"), ("total_shards", "1")})
    assert samples[("usage_exporter_shard_info", unsharded_info)] == 1
    unsharded.ledger.close()


# -- count_from -------------------------------------------------------------------------------


def test_count_from_parsing_global_and_per_source(tmp_path: Path) -> None:
    path = config_file(tmp_path, ["a", "b"], "count_from: 2026-01-01\n")
    text = path.read_text().replace(
        "    name: b\n", "    name: b\n    count_from: '2026-01-15T06:30:00Z'\n"
    )
    path.write_text(text)
    config = load_config(path, env={})
    assert config.sources[0].count_from == 1_767_225_600  # 2026-01-01T00:00:00Z
    assert config.sources[1].count_from == 1_767_225_600 + 14 * DAY + 6 * 3600 + 1800
    assert load_config(config_file(tmp_path, ["a"]), env={}).sources[0].count_from is None
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    for value, message in ((future, "is in the future"), ("'soon'", "invalid date")):
        with pytest.raises(ConfigError, match=f"count_from: .*{message}"):
            load_config(config_file(tmp_path, ["a"], f"count_from: {value}\n"), env={})


def test_fixed_origin_does_not_depend_on_the_start_time(tmp_path: Path) -> None:
    count_from = 1_767_225_600 + 9 * DAY + 5400  # 2026-01-10 01:30
    hourly = Stream("h", 3600, 3 * 3600, 7 * DAY)
    costs = Stream("costs", DAY, 2 * DAY, 7 * DAY, month_origin=True)
    assert fixed_origin(hourly, count_from) == count_from - 1800
    assert fixed_origin(costs, count_from) == 1_767_225_600  # the month's first day
    windows = set()
    for now in (NOW, NOW + 3 * DAY + 777, NOW + 20 * DAY):
        planner = WindowPlanner()
        planner.declare("t", count_from)
        first = (planner.window("t", hourly, now, None), planner.window("t", costs, now, None))
        windows.add((first[0].start, first[1].start))
        planner.declare("t", None)  # without count_from: backfill before now
        assert planner.window("t", hourly, now, None).start == now - now % 3600 - 7 * DAY
    assert windows == {(count_from - 1800, 1_767_225_600)}


class SlowForLongWindows:
    """A source whose reads of more than `limit` seconds run out of time; one unit per hour."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stream = Stream("api:b", 3600, 2 * 3600, 7 * DAY)
        self.reads: list[Window] = []

    async def streams(self) -> Sequence[Stream]:
        return [self.stream]

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        self.reads.append(window)
        if window.end - window.start > self.limit:
            await asyncio.sleep(30)  # past the poll's deadline
        flows = [
            Flow("telnyx_storage_operations_total", ("b", "get_obj"), t, t + 3600, 1.0)
            for t in range(window.start, min(window.end, NOW - NOW % 3600 + 3600), 3600)
        ]
        return StreamRead(stream.name, window.start, window.end, flows)


def telnyx_config(tmp_path: Path, state: str, count_from: str | None) -> Config:
    source: dict[str, Any] = {
        "kind": "telnyx",
        "name": "store",
        "api_key": "KEY-1234",
        "interval": 2,
        "timeout": 1,
        "buckets": ["b"],
        "base_url": "http://127.0.0.1:1",
    }
    top: dict[str, Any] = {"state_dir": str(tmp_path / state), "sources": [source]}
    if count_from is not None:
        top["count_from"] = count_from
    return Config.model_validate(top)


def counter(daemon: Daemon) -> float:
    assert daemon.state.exposition is not None
    samples = parse_samples(daemon.state.exposition.text.decode())
    labels = frozenset({("target", "store"), ("bucket", "b"), ("category", "get_obj")})
    return samples.get(("telnyx_storage_operations_total", labels), 0.0)


async def test_a_long_catch_up_from_count_from_converges(tmp_path: Path) -> None:
    """count_from 40 days back, reads longer than 25 days time out: the first poll times out,
    the next reads 20 days, the third the rest; the counter is then the upstream's total, the
    same for a replica started 3 days later (its own catch-up) - a function of the upstream."""
    start = "2026-01-01"
    hours = (NOW - NOW % 3600 + 3600 - 1_767_225_600) // 3600  # every bucket up to the open one
    totals = []
    for name, now in (("first", NOW), ("later", NOW + 3 * DAY)):
        source = SlowForLongWindows(limit=25 * DAY)
        daemon = Daemon(telnyx_config(tmp_path, name, start), clock=functools.partial(float, now))
        target = daemon.targets[0]
        target.source = source
        results = [await daemon.poll(target) for _ in range(4)]
        assert results[0] is False and results[2:] == [True, True], results
        assert source.reads[0].start == 1_767_225_600  # from count_from, not from backfill
        assert counter(daemon) == hours
        totals.append(counter(daemon))
        await daemon.aclose()
    assert totals[0] == totals[1]


async def test_count_from_on_an_existing_state_keeps_its_origin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """State from a run with `backfill` (origin 7 days back) and then count_from set earlier:
    the origin stays (nothing counted twice, nothing dropped) and a warning says so."""
    source = SlowForLongWindows(limit=100 * DAY)
    daemon = Daemon(telnyx_config(tmp_path, "s", None), clock=lambda: float(NOW))
    daemon.targets[0].source = source
    assert await daemon.poll(daemon.targets[0])
    before = counter(daemon)
    assert before == 7 * 24 + 1
    await daemon.aclose()
    with caplog.at_level("WARNING"):
        again = Daemon(telnyx_config(tmp_path, "s", "2026-01-01"), clock=lambda: float(NOW))
    assert "count_from differs from the state's origin" in caplog.text
    again.targets[0].source = source
    assert await again.poll(again.targets[0])
    assert counter(again) == before
    assert source.reads[-1].start > NOW - DAY  # went on from the cursor
    await again.aclose()


async def test_readyz_and_the_index_page_show_the_shard() -> None:
    state = ServerState(shard=(2, 3))
    state.targets["a"] = TargetStatus("a", "openai", False, False, None, "")
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = await client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.text == "not polled yet (shard 2 of 3, 1 targets): a\n"
        state.targets["a"].polled = True
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.text) == (200, "ready (shard 2 of 3, 1 targets)\n")
        assert "<p>shard 2 of 3: 1 targets</p>" in (await client.get("/")).text
