"""Every registered vendor end to end: a real Prometheus scrapes one exporter polling the simulator
for every vendor's demo targets (tests/e2e/stack.py: late data, pagination, faults, a 429 with
Retry-After), and every counter series Prometheus holds equals the twin's ground truth.

For each vendor (a case per plug-in of the registry, so a new vendor is covered without a file
of its own), on every one of its demo targets: each counter series equals the truth its twin's
oracle (`Twin.expected`) computes, counts exactly and money within 1e-9 relative and 1e-6 USD;
no other series is non-zero; every counter family it declares is compared somewhere; late data
was seen (`bucket_revisions_total{direction="up"}`) and its counters rose after the clock jumped;
the rate-limit gauge is there when the vendor has a rate-limit header. Across its targets: a 429
was met, and every fault queued for it was injected. Then the vendor's own check, if it has one
(tests/e2e/vendor_extras.py).

One stack serves every case (module scope). Under pytest-xdist, `--dist loadgroup` keeps the
cases on one worker (`xdist_group`); otherwise each worker that runs a case starts its own stack
(free ports, its own temporary directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exporter.plugin import Plugin
from exporter.simulator.compare import SeriesKey
from exporter.vendors import REGISTRY, plugins
from tests.e2e.stack import Stack, counter_names, differences, running_stack, truth_of
from tests.e2e.vendor_extras import CHECKS, FAULTS
from tests.harness import http_json, scrape

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prometheus-vendors")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("vendors"), plugins(), FAULTS) as running:
        yield running


@pytest.mark.parametrize("plugin", list(REGISTRY), ids=lambda p: p.kind)
def test_prometheus_counters_equal_the_twins_truth(plugin: Plugin[Any], stack: Stack) -> None:
    names = set(counter_names(plugin))
    exposition = scrape(stack.exporter, openmetrics=True)
    truths: dict[str, dict[SeriesKey, float]] = {}
    for target in stack.targets_of(plugin):
        truth = truth_of(stack.sim, target, exposition)
        assert truth, f"{target.name}: the twin's truth is empty"
        wrong = differences(stack.counters(plugin, target.name), truth)
        assert not wrong, f"{target.name}: {len(wrong)} mismatches:\n" + "\n".join(wrong[:40])
        where = f'target="{target.name}"'
        late = f'usage_exporter_bucket_revisions_total{{direction="up",{where}}}'
        assert stack.value(late) > 0, f"{target.name}: late data should have been seen"
        assert sum(truth.values()) > stack.early[target.name], f"{target.name}: no rise"
        if plugin.rate_limit_header:
            remaining = stack.value(f"usage_exporter_upstream_rate_limit_remaining{{{where}}}")
            assert remaining > 0
        truths[target.name] = truth
    compared = {name for truth in truths.values() for name, _ in truth}
    assert compared == names, f"never compared: {sorted(names - compared)}"

    targets = "|".join(truths)
    throttled = f'sum(usage_exporter_upstream_requests_total{{code="429",target=~"{targets}"}})'
    assert stack.value(throttled) >= 1, "the 429 should have been met"
    stats = http_json(f"{stack.sim}/_sim/stats")
    injected = sum(stats["faults_by_upstream"].get(plugin.kind, {}).values())
    assert injected == sum(int(f.get("count", 1)) for f in stack.faults[plugin.kind]), stats

    CHECKS.get(plugin.kind, lambda stack, truths: None)(stack, truths)
