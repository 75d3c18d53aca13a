"""The expected OpenAI series, computed from the simulator's ground truth, over HTTP.

The mapping from the API's quantities to metric families (`QUANTITIES`, `truth_series`) lives in
the vendor package, exporter/vendors/openai/expected.py, written there on its own, not imported
from the source; this module adds the whole label set and the target, as a scrape shows them.
"""

from __future__ import annotations

from pathlib import Path

from exporter.vendors.openai.expected import GROUP_BY as GROUP_BY
from exporter.vendors.openai.expected import LABELS as LABELS
from exporter.vendors.openai.expected import QUANTITIES as QUANTITIES
from exporter.vendors.openai.expected import SUPPORTED as SUPPORTED
from exporter.vendors.openai.expected import truth_series as truth_series
from exporter.vendors.openai.metrics import FAMILIES
from tests.harness import created, parse_samples, scrape

Expected = dict[tuple[str, frozenset[tuple[str, str]]], float]


def write_config(
    tmp: Path,
    sim_url: str,
    key: str,
    *,
    name: str,
    interval: str = "4s",
    timeout: str = "3s",
    extra: str = "",
) -> Path:
    config = tmp / "config.yaml"
    config.write_text(
        f"state_dir: {tmp / 'state'}\n"
        "sources:\n"
        "  - kind: openai\n"
        f"    name: {name}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {key}\n"
        f"    interval: {interval}\n"
        f"    timeout: {timeout}\n"
        "    bucket_width: 1h\n"
        "    backfill: 1d\n"
        "    retries: 4\n"
        f"    group_by: [{', '.join(GROUP_BY)}]\n" + extra
    )
    return config


def origins(exporter_url: str, target: str) -> tuple[int, int]:
    """(usage origin, costs origin) as the exporter reports them in `_created`."""
    where = f'target="{target}"'
    return (
        created(exporter_url, "openai_input_tokens", where),
        created(exporter_url, "openai_cost_usd", where),
    )


def expected_series(
    sim_url: str,
    exporter_url: str,
    org: str,
    target: str,
    overrides: dict[str, list[str]] | None = None,
) -> Expected:
    """`overrides`: per endpoint, the group keys of `overrides.<endpoint>.group_by`."""
    usage_origin, costs_origin = origins(exporter_url, target)
    expected: Expected = {}
    for endpoint in QUANTITIES:
        keys = [k for k in GROUP_BY if k in SUPPORTED[endpoint]]
        if overrides and endpoint in overrides:
            keys = list(overrides[endpoint])
        start = costs_origin if endpoint == "costs" else usage_origin
        for family, labels, value in truth_series(sim_url, org, endpoint, start, keys):
            every = {n: "" for n in LABELS[family]} | labels | {"target": target}
            key = (family, frozenset(every.items()))
            expected[key] = expected.get(key, 0) + value
    return {k: v for k, v in expected.items() if v != 0}


def exporter_counters(exporter_url: str, target: str) -> Expected:
    """The exporter's own counter samples for `target`, in the same shape."""
    samples = parse_samples(scrape(exporter_url))
    families = {n for n, _ in ((f.name, f) for f in FAMILIES if f.kind.value == "counter")}
    return {
        (name, labels): value
        for (name, labels), value in samples.items()
        if name in families and ("target", target) in labels
    }


def assert_exact(sim_url: str, exp_url: str, org: str, target: str) -> None:
    """Every counter of `target` equals the simulator's truth for `org`; none is extra."""
    expected = expected_series(sim_url, exp_url, org, target)
    got = exporter_counters(exp_url, target)
    mismatches = [
        f"{name}{dict(labels)}: exporter {got.get((name, labels))}, truth {value}"
        for (name, labels), value in expected.items()
        if abs(got.get((name, labels), -1.0) - value) > 1e-9 * max(1.0, abs(value))
    ]
    extra = [k for k, v in got.items() if k not in expected and v != 0]
    assert not mismatches and not extra, (len(mismatches), mismatches[:20], extra[:20])
    assert len(expected) > 50
