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
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter.model import Kind
from exporter.vendors.anylayer import source as anylayer_source
from exporter.vendors.arthur import source as arthur_source
from exporter.vendors.openai import source as openai_source
from exporter.vendors.openai.truth import GROUP_BY, LABELS, QUANTITIES, SUPPORTED
from exporter.vendors.telnyx import source as telnyx_source
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

OPENAI_KEY = "sk-admin-soak-0123456789"
ARTHUR_KEY = "arthur-soak-key-7d2e"
TELNYX_KEY = "KEYsoakTelnyx0001"
ANYLAYER_KEY = "zk_prod_soak_4242"
ORG, ENGINE, ACCOUNT = "org-soak", "engine-soak", "acct-soak"
TARGETS = {
    "openai": "soak-openai",
    "arthur": "soak-arthur",
    "telnyx": "soak-telnyx",
    "anylayer": "soak-anylayer",
}
TIMEOUT = 4  # the longest client timeout in the config below; a timeout fault waits longer
BUCKETS = ("app-logs", "backups", "media-assets")
ANYLAYER_KEYS = ("key_8f3a", "key_c21b")
ARTHUR_FIELDS = {
    "inference": "arthur_inference_tokens_total",
    "eval_prompt": "arthur_eval_prompt_tokens_total",
    "eval_completion": "arthur_eval_completion_tokens_total",
}
TELNYX_FIELDS = {
    "ops": "telnyx_storage_operations_total",
    "successful_ops": "telnyx_storage_successful_operations_total",
    "bytes_sent": "telnyx_storage_sent_bytes_total",
    "bytes_received": "telnyx_storage_received_bytes_total",
}
ANYLAYER_FIELDS = {
    "requests": "anylayer_requests_total",
    "failedRequests": "anylayer_failed_requests_total",
    "dataTransferred": "anylayer_transferred_bytes_total",
}
COUNTERS = {
    source: {f.name for f in module.FAMILIES if f.kind is Kind.COUNTER}
    for source, module in (
        ("openai", openai_source),
        ("arthur", arthur_source),
        ("telnyx", telnyx_source),
        ("anylayer", anylayer_source),
    )
}

Labels = frozenset[tuple[str, str]]
SeriesKey = tuple[str, Labels]  # (sample name, labels without `target`, empty values dropped)


@dataclass
class Series:
    value: float
    created: float | None


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
    exporter_alive: bool = True
    exporter_exit: int | None = None
    memory_kib: dict[str, int] = field(default_factory=dict)

    @property
    def faults(self) -> dict[str, int]:
        return dict(self.simulator.get("faults_injected", {}))


def config_text(tmp: Path, sim_url: str) -> str:
    return (
        f"state_dir: {tmp / 'state'}\n"
        "sources:\n"
        "  - kind: openai\n"
        f"    name: {TARGETS['openai']}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {OPENAI_KEY}\n"
        f"    interval: {TIMEOUT}s\n"
        f"    timeout: {TIMEOUT}s\n"
        "    max_concurrency: 4\n"
        "    bucket_width: 1h\n"
        "    backfill: 1d\n"
        f"    group_by: [{', '.join(GROUP_BY)}]\n"
        "  - kind: arthur\n"
        f"    name: {TARGETS['arthur']}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {ARTHUR_KEY}\n"
        "    interval: 3s\n"
        "    timeout: 3s\n"
        "    max_concurrency: 4\n"
        "    window: 15m\n"
        "    backfill: 6h\n"
        "    group_by: [rule_type, task]\n"
        "  - kind: telnyx\n"
        f"    name: {TARGETS['telnyx']}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {TELNYX_KEY}\n"
        "    interval: 3s\n"
        "    timeout: 3s\n"
        "    backfill: 1d\n"
        "    buckets: auto\n"
        f"    s3_endpoint: {sim_url}/s3/{{region}}\n"
        "  - kind: anylayer\n"
        f"    name: {TARGETS['anylayer']}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {ANYLAYER_KEY}\n"
        "    interval: 2s\n"
        "    timeout: 2s\n"
        "    timeframe: 24h\n"
        "    granularity: hour\n"
        f"    key_ids: [{', '.join(ANYLAYER_KEYS)}]\n"
    )


# -- reading the exporter -------------------------------------------------------------------------


def exporter_series(url: str) -> dict[str, dict[SeriesKey, Series]]:
    """Every counter sample per target, with its `_created`, from one OpenMetrics scrape."""
    out: dict[str, dict[SeriesKey, Series]] = {}
    for family in text_string_to_metric_families(scrape(url, openmetrics=True)):
        if family.type != "counter":
            continue
        created: dict[Labels, float] = {}
        values: dict[Labels, float] = {}
        target_of: dict[Labels, str] = {}
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "target" and v)
            target_of[labels] = sample.labels.get("target", "")
            if sample.name.endswith("_created"):
                created[labels] = sample.value
            elif sample.name.endswith("_total"):
                values[labels] = sample.value
        for labels, value in values.items():
            series = Series(value, created.get(labels))
            out.setdefault(target_of[labels], {})[(f"{family.name}_total", labels)] = series
    return out


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


def _origin(series: dict[SeriesKey, Series], belongs: Callable[[SeriesKey], bool]) -> int | None:
    """The origin of a stream: the `_created` its series share (the first read's start)."""
    origins = {s.created for key, s in series.items() if belongs(key) and s.created is not None}
    if len(origins) > 1:
        raise AssertionError(f"one stream, several origins: {sorted(origins)}")
    return int(origins.pop()) if origins else None


def _first_origin(series: dict[SeriesKey, Series]) -> int:
    """For a stream without any series yet: the earliest origin of the target's streams."""
    return int(min((s.created for s in series.values() if s.created is not None), default=0))


def _has_label(name: str, value: str) -> Callable[[SeriesKey], bool]:
    """Whether a series carries the label `name="value"`."""
    return lambda key: (name, value) in key[1]


def _label(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key(family: str, labels: dict[str, str]) -> SeriesKey:
    return family, frozenset((k, v) for k, v in labels.items() if v)


def openai_expected(sim: str, got: dict[SeriesKey, Series]) -> dict[SeriesKey, float]:
    fallback = _first_origin(got)
    expected: dict[SeriesKey, float] = {}
    for endpoint, quantities in QUANTITIES.items():
        owned = {(family, frozenset(fixed.items())) for family, fixed in quantities.values()}

        def belongs(key: SeriesKey, owned: set[tuple[str, Labels]] = owned) -> bool:
            return any(key[0] == family and fixed <= key[1] for family, fixed in owned)

        start = _origin(got, belongs) or fallback
        keys = [k for k in GROUP_BY if k in SUPPORTED[endpoint]]
        query = urllib.parse.urlencode(
            [("org", ORG), ("endpoint", endpoint), ("start", str(start))]
            + [("group_by", k) for k in keys]
        )
        for row in http_json(f"{sim}/_sim/openai/truth?{query}")["rows"]:
            group = {k: _label(row["group"].get(k)) for k in keys}
            for name, (family, fixed) in quantities.items():
                if name == "amount":
                    value = row["values"]["micro_usd"] / 1e6
                elif name in row["values"]:
                    value = row["values"][name]
                else:
                    continue
                if name == "quantity":  # the unit label comes from the truth row
                    fixed = {"quantity_unit": _label(row.get("quantity_unit"))}
                labels = {k: v for k, v in group.items() if k in LABELS[family]} | dict(fixed)
                key = _key(family, labels)
                expected[key] = expected.get(key, 0) + value
    return expected


def arthur_expected(sim: str, got: dict[SeriesKey, Series]) -> dict[SeriesKey, float]:
    start = _origin(got, lambda k: True) or _first_origin(got)
    query = urllib.parse.urlencode(
        [("engine", ENGINE), ("start", str(start)), ("group_by", "rule_type"), ("group_by", "task")]
    )
    expected: dict[SeriesKey, float] = {}
    for row in http_json(f"{sim}/_sim/arthur/truth?{query}")["rows"]:
        labels = {
            "rule_type": _label(row["group"]["rule_type"]),
            "task_id": _label(row["group"]["task_id"]),
        }
        for name, family in ARTHUR_FIELDS.items():
            expected[_key(family, labels)] = row["values"][name]
    return expected


def telnyx_expected(sim: str, got: dict[SeriesKey, Series]) -> dict[SeriesKey, float]:
    fallback = _first_origin(got)
    expected: dict[SeriesKey, float] = {}
    for bucket in BUCKETS:
        start = _origin(got, _has_label("bucket", bucket)) or fallback
        query = urllib.parse.urlencode({"account": ACCOUNT, "bucket": bucket, "start": start})
        for row in http_json(f"{sim}/_sim/telnyx/truth?{query}")["rows"]:
            for name, family in TELNYX_FIELDS.items():
                labels = {"bucket": bucket, "category": row["category"]}
                expected[_key(family, labels)] = row["values"][name]
    return expected


def anylayer_expected(sim: str, got: dict[SeriesKey, Series]) -> dict[SeriesKey, float]:
    expected: dict[SeriesKey, float] = {}
    for key_id in ANYLAYER_KEYS:
        start = _origin(got, _has_label("key_id", key_id)) or _first_origin(got)
        query = urllib.parse.urlencode({"account": ACCOUNT, "key": key_id, "start": start})
        values = http_json(f"{sim}/_sim/anylayer/truth?{query}")["values"]
        for name, family in ANYLAYER_FIELDS.items():
            expected[_key(family, {"key_id": key_id})] = values[name]
    return expected


EXPECTED = {
    "openai": openai_expected,
    "arthur": arthur_expected,
    "telnyx": telnyx_expected,
    "anylayer": anylayer_expected,
}


def equal(actual: float, expected: float) -> bool:
    if float(expected).is_integer():
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


def compare(sim: str, exp: str) -> tuple[dict[str, int], list[str]]:
    """Series checked per source and every mismatch: a value that differs, a series the truth
    has and the exporter lacks, or a non-zero series the truth does not know."""
    series = exporter_series(exp)
    checked: dict[str, int] = {}
    mismatches: list[str] = []
    for source, target in TARGETS.items():
        got = {k: s for k, s in series.get(target, {}).items() if k[0] in COUNTERS[source]}
        expected = {k: v for k, v in EXPECTED[source](sim, got).items() if v != 0}
        checked[source] = len(expected.keys() | got.keys())
        for key, value in sorted(expected.items(), key=str):
            actual = got.get(key)
            if actual is None or not equal(actual.value, value):
                shown = None if actual is None else actual.value
                mismatches.append(
                    f"{target} {key[0]}{dict(key[1])}: exporter {shown}, truth {value}"
                )
        for key, actual in sorted(got.items(), key=str):
            if key not in expected and actual.value != 0:
                mismatches.append(f"{target} {key[0]}{dict(key[1])}: {actual.value}, not in truth")
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
    keys = (
        ("--openai-key", f"{OPENAI_KEY}={ORG}"),
        ("--arthur-key", f"{ARTHUR_KEY}={ENGINE}"),
        ("--telnyx-key", f"{TELNYX_KEY}={ACCOUNT}"),
        ("--anylayer-key", f"{ANYLAYER_KEY}={ACCOUNT}"),
    )
    # Three buckets a page: every OpenAI read of the lookback follows a cursor.
    extra = (*(part for pair in keys for part in pair), "--max-page-buckets", "3")
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
            before = _successes(exp.url)

            def settled() -> bool:
                now = _successes(exp.url)
                return all(now.get(t, 0) >= before.get(t, 0) + 2 for t in TARGETS.values())

            wait_for(settled, "two successful polls of every target after the freeze", 90)
            figures.series, mismatches = compare(sim.url, exp.url)
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
    for source, target in TARGETS.items():
        polls = f.polls.get(target, {})
        lines.append(
            _row(
                target,
                f"{polls.get('success', 0):.0f}",
                f"{polls.get('failure', 0):.0f}",
                f.series.get(source, 0),
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
    codes: dict[str, float] = {}
    for key, value in f.exporter_requests.items():
        code = key.partition("/")[2]
        codes[code] = codes.get(code, 0) + value
    for code, value in sorted(codes.items()):
        lines.append(_row(f"upstream answers {code}", f"{value:.0f}"))
    directions: dict[str, float] = {}
    for key, value in f.exporter_revisions.items():
        direction = key.partition("/")[2]
        directions[direction] = directions.get(direction, 0) + value
    for direction, value in sorted(directions.items()):
        lines.append(_row(f"bucket revisions {direction}", f"{value:.0f}"))
    if f.mismatches:
        lines += ["", "Mismatches (first 20):", ""] + [f"- {m}" for m in f.mismatches[:20]]
    return "\n".join(lines)
