"""One simulator, one exporter and one real Prometheus for every registered vendor's demo targets,
set up the way the vendors' end-to-end test reads them (tests/e2e/test_prometheus_vendors.py).

Built from what each plug-in declares: its demo targets and keys (`Plugin.demo`), its demo faults,
and its counter families. The simulator's clock starts 150 s in the past and later jumps to the
present, so buckets the exporter already counted rise (late data); pages hold at most
`PAGE_BUCKETS` buckets (pagination); every vendor meets its demo faults, the test's extra ones and,
when none of those is one, a 429 with Retry-After (`THROTTLE`). The exporter runs with
`--web.listener-process`: Prometheus scrapes the listener process (the other e2e tests scrape one
process). The clock jumps only once every target's counters equal its twin's truth in the past:
a first read that ran out of time is read in shorter windows, and a bucket first read after the
jump would show no late data. Then every target polls twice more (`settle`), and the stack is
handed over.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporter.config.load import load_config
from exporter.config.source import BaseSource
from exporter.model import Kind
from exporter.plugin import Plugin
from exporter.simulator.compare import SeriesKey, counters
from exporter.vendors import plugin as plugin_of
from tests.harness import (
    clock_in_the_past,
    exporter,
    http_json,
    prometheus,
    promql,
    scrape,
    scraped_now,
    settle,
    simulator,
    success_polls,
    wait_for,
)

Fault = Mapping[str, Any]
PAGE_BUCKETS = 3  # fewer than any client asks for: OpenAI and Anthropic page
THROTTLE: Fault = {"kind": "status", "status": 429, "retry_after": 1, "count": 1}
NOT_LABELS = ("__name__", "job", "instance", "target")  # Prometheus's own, and the target


def accepted_keys(plugin: Plugin[Any]) -> dict[str, Any]:
    """The keys the simulator accepts for the vendor's demo targets, and whom each belongs to."""
    return dict(plugin.demo.keys or plugin.twin.default_keys)


def who(target: BaseSource) -> Any:
    """Whom the simulator takes the target's key for (org, account, engine, ...)."""
    return accepted_keys(plugin_of(target.kind))[target.secret()]


def counter_names(plugin: Plugin[Any]) -> list[str]:
    """The sample names of the vendor's counters."""
    return [f"{f.base_name}_total" for f in plugin.families if f.kind is Kind.COUNTER]


def queued_faults(plugin: Plugin[Any], extra: Sequence[Fault]) -> tuple[Fault, ...]:
    """The vendor's demo faults and `extra`, with a 429 and Retry-After unless one is there."""
    faults = (*plugin.demo.faults, *extra)
    throttled = any(f.get("status") == 429 and f.get("retry_after") for f in faults)
    return faults if throttled else (*faults, THROTTLE)


def simulator_flags(plugins: Sequence[Plugin[Any]]) -> tuple[str, ...]:
    """`simulate` flags: the demo keys of every vendor that declares its own (the others' demo
    targets use the twin's default keys) and the page size."""
    flags = ["--max-page-buckets", str(PAGE_BUCKETS)]
    for plugin in plugins:
        for key, who in (plugin.demo.keys or {}).items():
            flags += [f"--{plugin.kind}-key", f"{key}={who}"]
    return tuple(flags)


def write_config(tmp: Path, plugins: Sequence[Plugin[Any]], sim_url: str) -> Path:
    """Every vendor's demo targets, pointed at the simulator."""
    sources = [
        {**source, "base_url": sim_url} for plugin in plugins for source in plugin.demo.sources
    ]
    text = yaml.safe_dump({"state_dir": str(tmp / "state"), "sources": sources}, sort_keys=False)
    path = tmp / "vendors.yaml"
    path.write_text(text.replace("${SIMULATOR_URL}", sim_url))
    return path


@dataclass(frozen=True)
class Stack:
    """The running stack, settled: the clock frozen at the present, every target polled twice
    since, and Prometheus holding that final state."""

    sim: str
    exporter: str
    prometheus: str
    targets: tuple[BaseSource, ...]  # as the exporter loaded them
    faults: Mapping[str, tuple[Fault, ...]]  # queued at the start, by vendor kind
    early: Mapping[str, float]  # by target: the sum of its counters before the clock jumped

    def targets_of(self, plugin: Plugin[Any]) -> list[BaseSource]:
        return [t for t in self.targets if t.kind == plugin.kind]

    def query(self, expression: str) -> list[dict[str, Any]]:
        return promql(self.prometheus, expression)

    def value(self, expression: str) -> float:
        """The value of a query that answers one series."""
        answer = self.query(expression)
        assert len(answer) == 1, (expression, answer)
        return float(answer[0]["value"][1])

    def counters(self, plugin: Plugin[Any], target: str) -> dict[SeriesKey, float]:
        """The vendor's counter series of `target` in Prometheus, keyed as the twin's truth is
        (Prometheus stores a label with the empty value as an absent label, as the truth
        drops it)."""
        names = "|".join(counter_names(plugin))
        held: dict[SeriesKey, float] = {}
        for row in self.query(f'{{__name__=~"{names}",target="{target}"}}'):
            labels = frozenset((k, v) for k, v in row["metric"].items() if k not in NOT_LABELS)
            held[(row["metric"]["__name__"], labels)] = float(row["value"][1])
        return held


def equal(family: str, held: float, truth: float) -> bool:
    """Counts exactly; money (and fractional quantities) as one correctly rounded conversion of
    the Decimal sum allows: within 1e-9 relative and 1e-6 absolute."""
    if float(truth).is_integer() and "_usd" not in family:
        return held == truth
    return math.isclose(held, truth, rel_tol=1e-9, abs_tol=1e-9) and abs(held - truth) <= 1e-6


def differences(held: Mapping[SeriesKey, float], truth: Mapping[SeriesKey, float]) -> list[str]:
    """Every series of `truth` that `held` lacks or holds another value of, and every non-zero
    series of `held` beyond `truth`, one line each."""
    wrong = [
        f"{name}{dict(labels)}: held {held.get((name, labels))}, truth {value}"
        for (name, labels), value in truth.items()
        if (name, labels) not in held or not equal(name, held[(name, labels)], value)
    ]
    extra = [
        f"{name}{dict(labels)}: {value} held, not in truth"
        for (name, labels), value in held.items()
        if (name, labels) not in truth and value != 0
    ]
    return wrong + extra


def truth_of(sim_url: str, target: BaseSource, exposition: str) -> dict[SeriesKey, float]:
    """The non-zero counters `target` must show, from its twin's oracle (`Twin.expected`), and
    the origins in the exporter's OpenMetrics `exposition`."""
    plugin = plugin_of(target.kind)
    expected = plugin.twin.oracle()
    assert expected is not None, f"{plugin.kind}: no expected values (Twin.expected)"
    names = set(counter_names(plugin))
    got = {k: s for k, s in counters(exposition, target.name).items() if k[0] in names}
    return {k: v for k, v in expected(sim_url, target, who(target), got).items() if v}


def caught_up(sim_url: str, exporter_url: str, targets: Sequence[BaseSource]) -> bool:
    """Whether the exporter serves every target's truth, exactly."""
    exposition = scrape(exporter_url, openmetrics=True)
    for target in targets:
        names = set(counter_names(plugin_of(target.kind)))
        served = {k: s.value for k, s in counters(exposition, target.name).items() if k[0] in names}
        if differences(served, truth_of(sim_url, target, exposition)):
            return False
    return True


def _totals(prometheus_url: str, plugins: Sequence[Plugin[Any]]) -> dict[str, float]:
    names = "|".join(name for plugin in plugins for name in counter_names(plugin))
    rows = promql(prometheus_url, f'sum by (target) ({{__name__=~"{names}"}})')
    return {row["metric"]["target"]: float(row["value"][1]) for row in rows}


@contextmanager
def running_stack(
    tmp: Path, plugins: Sequence[Plugin[Any]], extra_faults: Mapping[str, Sequence[Fault]]
) -> Iterator[Stack]:
    """The stack for `plugins`, each vendor also meeting its `extra_faults`."""
    faults = {p.kind: queued_faults(p, extra_faults.get(p.kind, ())) for p in plugins}
    with simulator(tmp, extra=simulator_flags(plugins)) as sim:
        clock_in_the_past(sim.url)
        for kind, queued in faults.items():
            body = {"upstream": kind, "faults": [dict(f) for f in queued]}
            http_json(f"{sim.url}/_sim/faults", method="POST", body=body)
        config = write_config(tmp, plugins, sim.url)
        targets = tuple(load_config(config).sources)
        names = [t.name for t in targets]
        exp = exporter(tmp, config, "--web.listener-process")
        try:
            with prometheus(tmp, exp.url) as prom:
                wait_for(
                    lambda: all(success_polls(exp.url, t) >= 2 for t in names),
                    "two polls of every target",
                    timeout=90,
                )
                wait_for(
                    lambda: caught_up(sim.url, exp.url, targets),
                    "every target to equal its twin's truth in the past",
                    timeout=90,
                    every=1,
                )
                scraped_now(prom.url, exp.url)
                early = _totals(prom.url, plugins)
                settle(sim.url, exp.url, prom.url, targets=names)
                yield Stack(sim.url, exp.url, prom.url, targets, faults, early)
        finally:
            assert exp.stop() == 0, "SIGTERM ends the daemon cleanly"
