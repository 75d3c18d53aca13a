"""Seeded random fault soak: every counter stays exact while the upstreams misbehave.

The simulator and the exporter run as real processes on 127.0.0.1, with all four sources
configured (OpenAI, Arthur, Telnyx, Anylayer) at short intervals. The simulator draws a random
fault for each call with probability `rate` from `random.Random(seed)` (`/_sim/chaos`): 429 with
and without `Retry-After`, 500/502/503, timeouts, resets mid-body, truncated and malformed JSON,
wrong types, missing and extra fields, a failing pagination cursor, late revisions up and down.
After `seconds`, faults stop, what down revisions took comes back as late usage
(`/_sim/revisions/restore`, see docs/soak.md), the clock is frozen and every target polls twice
more; then every counter series of every source must equal the simulator's ground truth.

The scenario (`run`) and its report (`table`), shared by `python -m bench.soak` (ten minutes)
and tests/integration/test_fault_soak.py (45 s).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from exporter.config.load import Config, load_config
from exporter.config.source import BaseSource
from exporter.model import Kind
from exporter.plugin import Plugin
from exporter.simulator.compare import Series, SeriesKey, counters
from exporter.vendors import plugins
from testkit.memory import memory_kib
from testkit.processes import (
    HOST,
    exporter,
    http_json,
    parse_samples,
    scrape,
    simulator,
    wait_for,
)

TIMEOUT = 4  # every target's client timeout and interval; a timeout fault waits longer


def targets() -> dict[str, Plugin[Any]]:
    """One target per registered vendor: `soak-<kind>`."""
    return {f"soak-{p.kind}": p for p in plugins()}


def counter_names(plugin: Plugin[Any]) -> set[str]:
    """The sample names of the vendor's counters (a counter family's name ends in `_total`)."""
    return {f.name for f in plugin.families if f.kind is Kind.COUNTER}


def entry(plugin: Plugin[Any], name: str, sim_url: str) -> dict[str, Any]:
    """The vendor's first demo target, renamed, pointed at the simulator, with the first of its
    twin's default keys and the soak's interval and timeout."""

    def resolved(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("${SIMULATOR_URL}", sim_url)
        if isinstance(value, list):
            return [resolved(v) for v in value]
        if isinstance(value, dict):
            return {k: resolved(v) for k, v in value.items()}
        return value

    return {
        **resolved(dict(plugin.demo.sources[0])),
        "name": name,
        "base_url": sim_url,
        "api_key": next(iter(plugin.twin.default_keys)),
        "interval": f"{TIMEOUT}s",
        "timeout": f"{TIMEOUT}s",
    }


@dataclass
class Figures:
    seconds: float
    seed: int
    rate: float
    exclude: tuple[str, ...] = ()
    wall: float = 0.0
    polls: dict[str, dict[str, float]] = field(default_factory=dict)
    exporter_requests: dict[str, float] = field(default_factory=dict)
    exporter_revisions: dict[str, float] = field(default_factory=dict)
    simulator: dict[str, Any] = field(default_factory=dict)
    series: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    comparisons: int = 1  # how many comparisons with the truth it took to see no mismatch
    exporter_alive: bool = True
    exporter_exit: int | None = None
    memory_kib: dict[str, int] = field(default_factory=dict)

    @property
    def faults(self) -> dict[str, int]:
        return dict(self.simulator.get("faults_injected", {}))


def config_text(tmp: Path, sim_url: str) -> str:
    sources = [entry(plugin, name, sim_url) for name, plugin in targets().items()]
    return yaml.safe_dump({"state_dir": str(tmp / "state"), "sources": sources}, sort_keys=False)


# -- reading the exporter -------------------------------------------------------------------------


def self_metric(url: str, name: str, by: str) -> dict[str, float]:
    """A self-metric summed by target and one label, keyed `target/label`."""
    sums: dict[str, float] = {}
    for (sample, labels), value in parse_samples(scrape(url)).items():
        if sample != name:
            continue
        named = dict(labels)
        key = f"{named.get('target', '')}/{named.get(by, '')}"
        sums[key] = sums.get(key, 0.0) + value
    return sums


# -- ground truth ---------------------------------------------------------------------------------


def expected_of(
    plugin: Plugin[Any], sim: str, config: BaseSource, got: dict[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """The counters the target must show: the vendor's `Twin.expected` from the twin's truth."""
    expected = plugin.twin.oracle()
    if expected is None:
        raise AssertionError(f"{plugin.kind}: no expected values (Twin.expected)")
    who = plugin.twin.default_keys[config.secret()]
    return expected(sim, config, who, got)


def equal(actual: float, expected: float, money: bool = False) -> bool:
    """Counts are whole numbers and must be equal; money (and any fraction) is a sum of
    floats, equal to 1e-9 (a cost of exactly $180 was once summed to 180.00000000000003)."""
    if float(expected).is_integer() and not money:
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


def compare(sim: str, exp: str, config: Config) -> tuple[dict[str, int], list[str]]:
    """Series checked per source and every mismatch: a value that differs, a series the truth
    has and the exporter lacks, or a non-zero series the truth does not know."""
    scraped = scrape(exp, openmetrics=True)
    checked: dict[str, int] = {}
    mismatches: list[str] = []
    for source in config.sources:
        plugin = targets()[source.name]
        names = counter_names(plugin)
        money = {f.name for f in plugin.families if f.unit == "usd"}
        got = {k: s for k, s in counters(scraped, source.name).items() if k[0] in names}
        truth = expected_of(plugin, sim, source, got)
        expected = {k: v for k, v in truth.items() if v != 0}
        checked[plugin.kind] = len(expected.keys() | got.keys())
        for key, value in sorted(expected.items(), key=str):
            actual = got.get(key)
            if actual is None or not equal(actual.value, value, key[0] in money):
                shown = None if actual is None else actual.value
                mismatches.append(
                    f"{source.name} {key[0]}{dict(key[1])}: exporter {shown}, truth {value}"
                )
        for key, actual in sorted(got.items(), key=str):
            if key not in expected and actual.value != 0:
                mismatches.append(
                    f"{source.name} {key[0]}{dict(key[1])}: {actual.value}, not in truth"
                )
    return checked, mismatches


# -- the scenario ---------------------------------------------------------------------------------


def _polls(url: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in self_metric(url, "usage_exporter_polls_total", "result").items():
        target, _, result = key.partition("/")
        out.setdefault(target, {})[result] = value
    return out


def _successes(url: str) -> dict[str, float]:
    return {t: r.get("success", 0.0) for t, r in _polls(url).items()}


def _polled_twice(url: str, before: dict[str, float]) -> bool:
    """Every target has two more successful polls than `before`."""
    now = _successes(url)
    return all(now.get(t, 0) >= before.get(t, 0) + 2 for t in targets())


def run(
    tmp: Path,
    *,
    seconds: float,
    seed: int,
    rate: float,
    exclude: tuple[str, ...] = (),
    progress: Callable[[str], None] | None = None,
) -> Figures:
    """The soak: faults for `seconds`, then settle and compare. Every wait is bounded.
    `exclude` names fault sorts chaos must not deal (`kind`, `label` or `upstream:label`)."""
    figures = Figures(seconds=seconds, seed=seed, rate=rate, exclude=exclude)
    began = time.monotonic()
    # The twins accept their default keys; three buckets a page: every OpenAI read of the
    # lookback follows a cursor.
    extra = ("--max-page-buckets", "3")
    with simulator(tmp, seed=seed, extra=extra) as sim:
        assert sim.url.startswith(f"http://{HOST}:")
        chaos = {"rate": rate, "seed": seed, "delay_seconds": TIMEOUT + 2, "exclude": exclude}
        http_json(f"{sim.url}/_sim/chaos", method="POST", body=chaos)
        config = tmp / "soak.yaml"
        config.write_text(config_text(tmp, sim.url))
        exp = exporter(tmp, config, log_name="exporter.log")
        try:
            figures.memory_kib["exporter_start_rss"] = memory_kib(exp.popen.pid).get("VmRSS", 0)
            deadline = time.monotonic() + seconds
            report = time.monotonic() + 60
            while time.monotonic() < deadline:
                if exp.popen.poll() is not None or sim.popen.poll() is not None:
                    break
                if progress is not None and time.monotonic() >= report:
                    report += 60
                    stats = http_json(f"{sim.url}/_sim/stats")
                    polls = sum(_successes(exp.url).values())
                    faults = sum(stats["faults_injected"].values())
                    elapsed = time.monotonic() - began
                    progress(f"{elapsed:.0f} s: {polls:.0f} successful polls, {faults} faults")
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            figures.exporter_alive = exp.popen.poll() is None
            if not figures.exporter_alive:
                figures.exporter_exit = exp.popen.returncode
                figures.mismatches.append(f"the exporter exited with {exp.popen.returncode}")
                return figures
            # Faults off; lowered usage comes back as late usage; the clock stops; settle.
            http_json(f"{sim.url}/_sim/chaos", method="DELETE")
            http_json(f"{sim.url}/_sim/revisions/restore", method="POST", body={})
            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            polled_twice = partial(_polled_twice, exp.url, _successes(exp.url))
            wait_for(polled_twice, "two successful polls of every target after the freeze", 90)
            # A stream whose reads timed out during the faults reads a halved window and catches
            # up over several polls (exporter/daemon/windows.py): until then its counters are short
            # of the truth. Compare again after more polls, for at most 90 s; a counter never goes
            # down, so a count that is too high stays a mismatch.
            model = load_config(config, env={})
            deadline = time.monotonic() + 90
            figures.series, mismatches = compare(sim.url, exp.url, model)
            while mismatches and time.monotonic() < deadline:
                figures.comparisons += 1
                polled_twice = partial(_polled_twice, exp.url, _successes(exp.url))
                wait_for(polled_twice, "two more successful polls of every target", 90)
                figures.series, mismatches = compare(sim.url, exp.url, model)
            figures.mismatches += mismatches
            figures.polls = _polls(exp.url)
            figures.exporter_requests = self_metric(
                exp.url, "usage_exporter_upstream_requests_total", "code"
            )
            figures.exporter_revisions = self_metric(
                exp.url, "usage_exporter_bucket_revisions_total", "direction"
            )
            figures.simulator = http_json(f"{sim.url}/_sim/stats")
            memory = memory_kib(exp.popen.pid)
            figures.memory_kib["exporter_end_rss"] = memory.get("VmRSS", 0)
            figures.memory_kib["exporter_peak_rss"] = memory.get("VmHWM", 0)
            figures.exporter_alive = exp.popen.poll() is None
        finally:
            figures.exporter_exit = exp.stop()
            figures.wall = time.monotonic() - began
    return figures


# -- the report -----------------------------------------------------------------------------------


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _over_targets(by_target: dict[str, float]) -> list[tuple[str, float]]:
    """`self_metric`'s `target/label` sums summed over the targets, by label, sorted."""
    sums: dict[str, float] = {}
    for key, value in by_target.items():
        label = key.partition("/")[2]
        sums[label] = sums.get(label, 0) + value
    return sorted(sums.items())


def table(f: Figures) -> str:
    lines = [
        "| figure | value |",
        "|---|---|",
        _row("faults on (s)", f"{f.seconds:g}"),
        _row("seed", f.seed),
        _row("fault rate per call", f"{f.rate:g}"),
        _row("sorts excluded", ", ".join(f"`{e}`" for e in f.exclude) or "none"),
        _row("wall time (s)", f"{f.wall:.0f}"),
        _row("simulator calls", sum(f.simulator.get("requests", {}).values())),
        _row("faults injected", sum(f.faults.values())),
        _row(
            "faults that found nothing to change",
            sum(f.simulator.get("faults_without_effect", {}).values()),
        ),
        _row("series checked", sum(f.series.values())),
        _row("mismatches", len(f.mismatches)),
        _row("comparisons with the truth (polls settle between)", f.comparisons),
        _row("exporter alive at the end", "yes" if f.exporter_alive else "no"),
        _row("exporter exit code after SIGTERM", f.exporter_exit),
    ]
    for name, kib in f.memory_kib.items():
        lines.append(_row(f"{name.replace('_', ' ')} (MiB)", f"{kib / 1024:.1f}"))
    lines += [
        "",
        "| target | successful polls | failed polls | series checked |",
        "|---|---|---|---|",
    ]
    for target, plugin in targets().items():
        polls = f.polls.get(target, {})
        lines.append(
            _row(
                target,
                f"{polls.get('success', 0):.0f}",
                f"{polls.get('failure', 0):.0f}",
                f.series.get(plugin.kind, 0),
            )
        )
    upstreams = sorted(f.simulator.get("faults_by_upstream", {}))
    lines += ["", _row("fault kind", "total", *upstreams), "|---" * (len(upstreams) + 2) + "|"]
    by_upstream = f.simulator.get("faults_by_upstream", {})
    calls = f.simulator.get("calls_by_upstream", {})
    lines.append(_row("(calls)", sum(calls.values()), *(calls.get(u, 0) for u in upstreams)))
    for kind in sorted(f.faults):
        counts = [by_upstream[u].get(kind, 0) for u in upstreams]
        lines.append(_row(kind, f.faults[kind], *counts))
    lines += ["", "| fault variant | injected | without effect |", "|---|---|---|"]
    without = f.simulator.get("faults_without_effect", {})
    for label, count in f.simulator.get("faults_by_variant", {}).items():
        lines.append(_row(label, count, without.get(label, 0)))
    lines += ["", "| revisions (simulator) | up | down | series restored |", "|---|---|---|---|"]
    for upstream, counts in f.simulator.get("revisions", {}).items():
        lines.append(_row(upstream, counts["up"], counts["down"], counts["restored"]))
    lines += ["", "| exporter saw | value |", "|---|---|"]
    for code, value in _over_targets(f.exporter_requests):
        lines.append(_row(f"upstream answers {code}", f"{value:.0f}"))
    for direction, value in _over_targets(f.exporter_revisions):
        lines.append(_row(f"bucket revisions {direction}", f"{value:.0f}"))
    if f.mismatches:
        lines += ["", "Mismatches (first 20):", ""] + [f"- {m}" for m in f.mismatches[:20]]
    return "\n".join(lines)
