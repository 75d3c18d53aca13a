"""Sharding end to end: three shards (`--shard.from-hostname`, pod names in $HOSTNAME) and a
second replica of shard 1, as processes on loopback against the simulator, scraped by a real
Prometheus. With a fixed origin (`count_from`):

- every target is exported by exactly one shard (by both replicas of shard 1 for its targets);
- `sum by (target)` over the shards equals the simulator's truth for each kind of source;
- the two replicas of shard 1 serve identical counters and gauges (values and `_created`),
  although the second one started later, after the simulated clock crossed bucket boundaries;
- the sharding alerts' expressions are quiet;
- re-sharding 3 -> 4 (every process restarted with the new total): each target's new owner,
  once it has polled, serves exactly what its old owner served (no reset, no double count).
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import (
    HOST,
    Process,
    clock_in_the_past,
    free_port,
    http,
    http_json,
    parse_samples,
    prometheus,
    promql,
    run_argv,
    scrape,
    simulator,
    start,
    success_polls,
    wait_for,
)

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parents[2] / "config" / "prometheus" / "rules"
# name -> (kind, simulator key, simulated account)
# shards of 3: 1,1,2,1,1,0,2,1,0,2; of 4: 3,3,0,1,1,3,0,2,2,1
TARGETS = {
    "openai-acme": ("openai", "sk-admin-shard-acme", "org-acme"),
    "openai-beta": ("openai", "sk-admin-shard-beta", "org-beta"),
    "arthur-guard": ("arthur", "arthur-shard-guard", "engine-guard"),
    "arthur-eval": ("arthur", "arthur-shard-eval", "engine-eval"),
    "telnyx-eu": ("telnyx", "KEYshardEU0001", "acct-eu"),
    "telnyx-us": ("telnyx", "KEYshardUS0001", "acct-us"),
    "anylayer-main": ("anylayer", "zk_prod_shardmain1", "acct-main"),
    "anylayer-lab": ("anylayer", "zk_prod_shardlab01", "acct-lab"),
    "anthropic-console": ("anthropic", "sk-ant-admin01-shard-console", "org-console"),
    "anthropic-lab": ("anthropic", "sk-ant-admin01-shard-lab", "org-lab"),
}
BUCKETS = ("app-logs", "backups")
TRUTH_FAMILY = {
    "openai": 'openai_input_tokens_total{endpoint="completions"}',
    "arthur": "arthur_inference_tokens_total",
    "telnyx": "telnyx_storage_operations_total",
    "anylayer": "anylayer_requests_total",
    "anthropic": "anthropic_output_tokens_total",
}


def config_text(sim_url: str, count_from: str) -> str:
    sources = []
    for name, (kind, key, _) in TARGETS.items():
        source: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "base_url": sim_url,
            "api_key": key,
            "interval": "3s",
            "timeout": "3s",
        }
        if kind == "openai":
            source |= {"endpoints": ["completions"], "bucket_width": "1m"}
        elif kind == "arthur":
            source |= {"window": "15m", "lookback": "30m", "group_by": ["rule_type"]}
        elif kind == "telnyx":
            source |= {"buckets": list(BUCKETS)}
        elif kind == "anthropic":
            # usage only: cost counts from the month's start, not from count_from
            source |= {
                "endpoints": ["messages"],
                "bucket_width": "1m",
                "group_by": ["model"],
                "resources": {"workspaces": False, "api_keys": False, "users": False},
            }
        else:
            # count_from lies inside the timeframe, so every read reaches back to it
            source |= {"timeframe": "7d", "granularity": "hour"}
        sources.append(source)
    return yaml.safe_dump({"count_from": count_from, "sources": sources}, sort_keys=False)


def simulator_flags() -> tuple[str, ...]:
    flags: list[str] = []
    for kind, key, account in TARGETS.values():
        flags += [f"--{kind}-key", f"{key}={account}"]
    return tuple(flags)


def start_shard(tmp: Path, config: Path, pod: str, state: str, total: int, port: int) -> Process:
    return start(
        pod,
        run_argv(
            config,
            port,
            "--shard.from-hostname",
            "--total-shards",
            str(total),
        ),
        tmp / f"{pod}-{state}-{total}.log",
        f"http://{HOST}:{port}",
        ready_path="/healthz",
        env={"HOSTNAME": pod, "USAGE_EXPORTER_STATE_DIR": str(tmp / state)},
    )


def usage_samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every non-self sample the process serves, `_created` included (OpenMetrics)."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(scrape(url, openmetrics=True)):
        if family.name.startswith("usage_exporter_"):
            continue
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def of_target(samples: dict[Any, float], target: str) -> dict[Any, float]:
    return {k: v for k, v in samples.items() if ("target", target) in k[1]}


def truth(sim_url: str, name: str, since: int) -> float:
    kind, _, account = TARGETS[name]
    if kind == "openai":
        query = {"org": account, "endpoint": "completions", "start": since, "group_by": "model"}
        rows = http_json(f"{sim_url}/_sim/openai/truth?{urllib.parse.urlencode(query)}")["rows"]
        return float(sum(r["values"]["input_tokens"] for r in rows))
    if kind == "arthur":
        query = {"engine": account, "start": since, "group_by": "rule_type"}
        rows = http_json(f"{sim_url}/_sim/arthur/truth?{urllib.parse.urlencode(query)}")["rows"]
        return float(sum(r["values"]["inference"] for r in rows))
    if kind == "telnyx":
        total = 0.0
        for bucket in BUCKETS:
            query = {"account": account, "bucket": bucket, "start": since}
            body = http_json(f"{sim_url}/_sim/telnyx/truth?{urllib.parse.urlencode(query)}")
            total += sum(r["values"]["ops"] for r in body["rows"])
        return total
    if kind == "anthropic":
        query = {"org": account, "endpoint": "messages", "start": since, "group_by": "model"}
        rows = http_json(f"{sim_url}/_sim/anthropic/truth?{urllib.parse.urlencode(query)}")["rows"]
        return float(sum(r["values"]["output_tokens"] for r in rows))
    query = {"account": account, "start": since}
    return float(
        http_json(f"{sim_url}/_sim/anylayer/truth?{urllib.parse.urlencode(query)}")["values"][
            "requests"
        ]
    )


def polls_after(processes: list[Process], count: int) -> None:
    """Wait until every target of each process has `count` more successful polls than now."""
    for process in processes:
        targets = [
            dict(labels)["target"]
            for name, labels in parse_samples(scrape(process.url))
            if name == "usage_exporter_up"
        ]
        marks = {t: success_polls(process.url, t) for t in targets}
        wait_for(
            lambda p=process, m=marks: all(
                success_polls(p.url, t) >= n + count for t, n in m.items()
            ),
            f"{count} more polls of every target of {process.name}",
            timeout=90,
        )


def test_three_shards_a_late_replica_and_a_reshard(tmp_path: Path) -> None:
    now = int(time.time())
    origin = now - now % 3600 - 2 * 3600
    count_from = dt.datetime.fromtimestamp(origin, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with simulator(tmp_path, extra=simulator_flags()) as sim:
        clock_in_the_past(sim.url, 150)
        config = tmp_path / "config.yaml"
        config.write_text(config_text(sim.url, count_from))
        ports = [free_port() for _ in range(4)]
        pods = ["usage-exporter-0", "usage-exporter-1", "usage-exporter-2", "usage-exporter-1"]
        states = ["s0", "s1", "s2", "s1-replica"]
        shards: list[Process] = []
        try:
            with prometheus(tmp_path, [f"http://{HOST}:{p}" for p in ports]) as prom:
                for i in range(3):
                    shards.append(start_shard(tmp_path, config, pods[i], states[i], 3, ports[i]))
                polls_after(shards, 2)
                # The replica of shard 1 starts later: simulated time moves 130 s on (across
                # minute bucket boundaries) and the others poll that first.
                http_json(
                    f"{sim.url}/_sim/clock",
                    method="POST",
                    body={"freeze": True, "at": time.time() - 20},
                )
                polls_after(shards, 1)
                shards.append(start_shard(tmp_path, config, pods[3], states[3], 3, ports[3]))
                polls_after(shards[3:], 2)
                http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
                polls_after(shards, 2)
                final = sum(success_polls(p.url) for p in shards)
                wait_for(
                    lambda: (
                        float(
                            promql(prom.url, 'sum(usage_exporter_polls_total{result="success"})')[
                                0
                            ]["value"][1]
                        )
                        >= final
                    ),
                    "Prometheus to scrape the final state",
                    timeout=30,
                )
                check_prometheus(prom.url, sim.url, origin, ports)
            served = {p.url: usage_samples(p.url) for p in shards}
            check_replicas(served[shards[1].url], served[shards[3].url], origin)
        finally:
            for process in shards:
                assert process.stop() == 0, process.output()[-2000:]
        before: dict[str, dict[Any, float]] = {}
        for process in shards[:3]:
            for name in TARGETS:
                part = of_target(served[process.url], name)
                if part:
                    assert name not in before
                    before[name] = part
        assert set(before) == set(TARGETS)
        reshard(tmp_path, config, before)


def check_prometheus(prom_url: str, sim_url: str, origin: int, ports: list[int]) -> None:
    by_instance = {f"{HOST}:{p}": i for i, p in enumerate(ports)}
    owners: dict[str, set[int]] = {}
    for row in promql(prom_url, "usage_exporter_up"):
        owners.setdefault(row["metric"]["target"], set()).add(
            by_instance[row["metric"]["instance"]]
        )
    shard_of_process = {0: 0, 1: 1, 2: 2, 3: 1}
    for name, processes in owners.items():
        assert len({shard_of_process[p] for p in processes}) == 1, (name, processes)
        assert processes in ({0}, {2}, {1, 3}), (name, processes)
    assert set(owners) == set(TARGETS)
    info = promql(prom_url, "usage_exporter_shard_info")
    assert sorted((r["metric"]["shard"], r["metric"]["total_shards"]) for r in info) == [
        ("0", "3"),
        ("1", "3"),
        ("1", "3"),
        ("2", "3"),
    ]
    replica = f"{HOST}:{ports[3]}"
    for name, (kind, _, _) in TARGETS.items():
        family = TRUTH_FAMILY[kind]
        selector = family.rstrip("}") + "," if "{" in family else family + "{"
        over_shards = f'sum by (target) ({selector}target="{name}",instance!="{replica}"}})'
        deduplicated = f'sum by (target) (max without (instance) ({selector}target="{name}"}}))'
        expected = truth(sim_url, name, origin)
        assert expected > 0, name
        for query in (over_shards, deduplicated):
            (row,) = promql(prom_url, query)
            assert float(row["value"][1]) == expected, (query, expected)
    groups = yaml.safe_load((RULES / "usage-exporter.yml").read_text())["groups"]
    (sharding,) = [g for g in groups if g["name"] == "usage-exporter.sharding"]
    for rule in sharding["rules"]:
        assert promql(prom_url, rule["expr"]) == [], rule["alert"]
    # ... and each alert's left side sees the shards (the expressions are not vacuous)
    two = "count by (job, target) (count by (job, target, shard) (usage_exporter_up"
    two += " * on (job, instance) group_left (shard) usage_exporter_shard_info))"
    assert {float(r["value"][1]) for r in promql(prom_url, two)} == {1.0}
    shards = "count by (job) (count by (job, shard) (usage_exporter_shard_info))"
    assert float(promql(prom_url, shards)[0]["value"][1]) == 3


def check_replicas(first: dict[Any, float], second: dict[Any, float], origin: int) -> None:
    assert first and first == second
    created = {v for (name, _), v in first.items() if name.endswith("_created")}
    assert created == {float(origin)}, created  # every counter counts from count_from


def reshard(tmp: Path, config: Path, before: dict[str, dict[Any, float]]) -> None:
    """Every process restarted with --total-shards 4, on the state volumes it had (shard 3 is
    new); the simulator stays frozen, so what each target's owner serves must not change."""
    processes = []
    try:
        for i in range(4):
            port = free_port()
            state = f"s{i}"
            processes.append(start_shard(tmp, config, f"usage-exporter-{i}", state, 4, port))
        for index, process in enumerate(processes):
            wait_for(
                lambda p=process: http(p.url + "/readyz")[0] == 200,
                f"{process.name} to poll its targets",
                timeout=90,
            )
            info = frozenset({("shard", str(index)), ("total_shards", "4")})
            assert parse_samples(scrape(process.url))[("usage_exporter_shard_info", info)] == 1
        after: dict[str, dict[Any, float]] = {}

        def caught_up() -> bool:
            after.clear()
            for process in processes:
                served = usage_samples(process.url)
                for name in TARGETS:
                    part = of_target(served, name)
                    if part:
                        assert name not in after, f"{name} exported by two shards"
                        after[name] = part
            return after == before

        try:  # a first poll that ran out of time catches up over the next ones
            wait_for(caught_up, "every target's new owner to serve the old values", timeout=60)
        except AssertionError:
            differ = [n for n in TARGETS if after.get(n) != before[n]]
            raise AssertionError(f"after re-sharding these differ: {differ}") from None
        moved = [name for name in TARGETS if _owner(name, 3) != _owner(name, 4)]
        assert len(moved) >= 3, moved
    finally:
        for process in processes:
            assert process.stop() == 0, process.output()[-2000:]


def _owner(name: str, total: int) -> int:
    from exporter.daemon.sharding import shard_of

    return shard_of(name, total)
