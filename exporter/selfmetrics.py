"""The exporter's own metrics (`usage_exporter_*`): is each target up, fresh, and how did its
upstream answer.

Declared once, as the vendors' metrics are: `SELF_FAMILIES`, a table of `Family` rows, from
which the prometheus_client objects are built (ordinary direct instrumentation in a registry of
its own) and the reference docs are generated. Per-target families are labelled `target` and
`source` (the kind: the label was named before docs/architecture.md's "Words", and metric and
label names do not change), pre-initialised per target so a dashboard or an alert sees 0, never
"no data". Label values here are configuration (target names, kinds, our endpoint names), never
upstream text.
"""

from __future__ import annotations

import contextlib
import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from exporter.model import Family, Kind

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

T = ("target", "source")  # a per-target family's first labels

# In exposition order (the registry's). Counters end in `_total`, as the vendors' do.
SELF_FAMILIES: tuple[Family, ...] = (
    Family(
        "usage_exporter_build_info",
        Kind.GAUGE,
        "usage-exporter build: version and Python version (always 1).",
        ("version", "python_version"),
    ),
    Family(
        "usage_exporter_shard_info",
        Kind.GAUGE,
        "This process's shard and the number of shards (always 1); a process exports only "
        "the targets whose name hashes to its shard (unsharded: shard 0 of 1).",
        ("shard", "total_shards"),
    ),
    Family(
        "usage_exporter_total_shards",
        Kind.GAUGE,
        "The number of shards this process was started with (--total-shards; 1 unsharded).",
    ),
    Family(
        "usage_exporter_up",
        Kind.GAUGE,
        "1 if the last poll of the target read every stream and saved it, else 0.",
        T,
    ),
    Family(
        "usage_exporter_last_success_timestamp_seconds",
        Kind.GAUGE,
        "Unix time of the end of the target's last fully successful poll.",
        T,
    ),
    Family(
        "usage_exporter_data_watermark_timestamp_seconds",
        Kind.GAUGE,
        "End of the newest settled bucket of the target (oldest across its streams): "
        "how fresh the exact data is.",
        T,
    ),
    Family(
        "usage_exporter_poll_duration_seconds",
        Kind.HISTOGRAM,
        "Wall time of a poll of the target: every stream read, the ledger commit.",
        T,
    ),
    Family(
        "usage_exporter_polls_total",
        Kind.COUNTER,
        "Polls of the target by result (success: every stream read and saved).",
        (*T, "result"),
    ),
    Family(
        "usage_exporter_upstream_requests_total",
        Kind.COUNTER,
        "HTTP calls to the upstream, including retries, by endpoint and status code "
        '("error" for network errors and timeouts).',
        (*T, "endpoint", "code"),
    ),
    Family(
        "usage_exporter_upstream_rate_limit_remaining",
        Kind.GAUGE,
        "Requests left in the upstream's rate-limit window, from its rate-limit headers.",
        T,
    ),
    Family(
        "usage_exporter_bucket_revisions_total",
        Kind.COUNTER,
        "Re-read buckets whose value changed: up is late data, down a downward revision "
        "(the counter holds its peak until the true sum passes it).",
        (*T, "direction"),
    ),
    Family(
        "usage_exporter_series",
        Kind.GAUGE,
        "Series the target's ledger holds (counters and gauges).",
        T,
    ),
    Family(
        "usage_exporter_series_overflow_total",
        Kind.COUNTER,
        "Observations folded into the __overflow__ series because a family reached the "
        "per-target series limit (sums stay exact).",
        T,
    ),
    Family(
        "usage_exporter_upstream_unknown_fields_total",
        Kind.COUNTER,
        "Distinct unknown fields seen per read: the upstream's schema drifted.",
        T,
    ),
    Family(
        "usage_exporter_upstream_inconsistencies_total",
        Kind.COUNTER,
        "Upstream answers that contradict themselves (e.g. categories that do not add up to "
        "the stated total); the parts are exported as reported.",
        T,
    ),
    Family(
        "usage_exporter_resource_up",
        Kind.GAUGE,
        "1 if the last read of the target's resource (names, limits: read on their own "
        "schedule) succeeded, else 0 (its last values are kept). A resource turned off (no "
        "permission) has no series.",
        (*T, "resource"),
    ),
    Family(
        "usage_exporter_resource_last_success_timestamp_seconds",
        Kind.GAUGE,
        "Unix time of the last successful read of the target's resource.",
        (*T, "resource"),
    ),
    Family(
        "usage_exporter_config_last_reload_successful",
        Kind.GAUGE,
        "1 if the last configuration reload (SIGHUP or POST /-/reload) succeeded, 0 if the "
        "file was refused and the running configuration kept; 1 at start.",
    ),
    Family(
        "usage_exporter_config_last_reload_success_timestamp_seconds",
        Kind.GAUGE,
        "Unix time of the last successful configuration load (start or reload).",
    ),
)

Metric = Counter | Gauge | Histogram


def _client(family: Family, registry: CollectorRegistry) -> Metric:
    """The prometheus_client object a row declares, registered in `registry`."""
    if family.kind is Kind.COUNTER:
        return Counter(family.base_name, family.help, family.labels, registry=registry)
    if family.kind is Kind.HISTOGRAM:
        return Histogram(
            family.name, family.help, family.labels, buckets=_DURATION_BUCKETS, registry=registry
        )
    return Gauge(family.name, family.help, family.labels, registry=registry)


class SelfMetrics:
    """Self-metrics of every target; labels `target` (configured name) and `source` (kind)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics = {f.name: _client(f, self.registry) for f in SELF_FAMILIES}
        # the same objects by type, read by family name where they change
        self._gauges = {n: m for n, m in self._metrics.items() if isinstance(m, Gauge)}
        self._counters = {n: m for n, m in self._metrics.items() if isinstance(m, Counter)}
        self._histograms = {n: m for n, m in self._metrics.items() if isinstance(m, Histogram)}
        build = self._gauges["usage_exporter_build_info"]
        build.labels(version, platform.python_version()).set(1)

    def shard(self, index: int, total: int) -> None:
        info = self._gauges["usage_exporter_shard_info"]
        info.clear()
        info.labels(str(index), str(total)).set(1)
        self._gauges["usage_exporter_total_shards"].set(total)

    def register_target(self, target: str, source: str) -> None:
        """A target's series at 0 (a dashboard or an alert sees 0, never "no data")."""
        self._gauges["usage_exporter_up"].labels(target, source).set(0)
        for result in ("success", "failure"):
            self._counters["usage_exporter_polls_total"].labels(target, source, result)
        for direction in ("up", "down"):
            self._counters["usage_exporter_bucket_revisions_total"].labels(
                target, source, direction
            )
        self._gauges["usage_exporter_series"].labels(target, source).set(0)
        for name in (
            "usage_exporter_series_overflow_total",
            "usage_exporter_upstream_unknown_fields_total",
            "usage_exporter_upstream_inconsistencies_total",
        ):
            self._counters[name].labels(target, source)
        self._histograms["usage_exporter_poll_duration_seconds"].labels(target, source)

    def unregister_target(self, target: str) -> None:
        """A target removed by a reload: its self-metric series leave /metrics."""
        for family in SELF_FAMILIES:
            if family.labels[:1] != ("target",):
                continue
            metric = self._metrics[family.name]
            children = {
                tuple(sample.labels[name] for name in family.labels)
                for collected in metric.collect()
                for sample in collected.samples
                if sample.labels.get("target") == target
            }
            for labels in children:
                with contextlib.suppress(KeyError):
                    metric.remove(*labels)

    def config_loaded(self, ok: bool, now: float) -> None:
        self._gauges["usage_exporter_config_last_reload_successful"].set(1 if ok else 0)
        if ok:
            self._gauges["usage_exporter_config_last_reload_success_timestamp_seconds"].set(now)

    def upstream_request(self, target: str, source: str, endpoint: str, code: str) -> None:
        requests = self._counters["usage_exporter_upstream_requests_total"]
        requests.labels(target, source, endpoint, code).inc()

    def rate_limit_remaining(self, target: str, source: str, value: float) -> None:
        remaining = self._gauges["usage_exporter_upstream_rate_limit_remaining"]
        remaining.labels(target, source).set(value)

    def poll_finished(
        self,
        target: str,
        source: str,
        ok: bool,
        duration: float,
        now: float,
        watermark: float | None,
    ) -> None:
        gauges = self._gauges
        gauges["usage_exporter_up"].labels(target, source).set(1 if ok else 0)
        polls = self._counters["usage_exporter_polls_total"]
        polls.labels(target, source, "success" if ok else "failure").inc()
        duration_seconds = self._histograms["usage_exporter_poll_duration_seconds"]
        duration_seconds.labels(target, source).observe(duration)
        if ok:
            gauges["usage_exporter_last_success_timestamp_seconds"].labels(target, source).set(now)
        if watermark is not None:
            freshness = gauges["usage_exporter_data_watermark_timestamp_seconds"]
            freshness.labels(target, source).set(watermark)

    def resource_read(self, target: str, source: str, resource: str, ok: bool, now: float) -> None:
        up, success = self._resource_gauges()
        up.labels(target, source, resource).set(1 if ok else 0)
        if ok:
            success.labels(target, source, resource).set(now)

    def resource_off(self, target: str, source: str, resource: str) -> None:
        """A resource turned off (no permission): its series leave /metrics."""
        for metric in self._resource_gauges():
            with contextlib.suppress(KeyError):
                metric.remove(target, source, resource)

    def revisions(self, target: str, source: str, up: int, down: int) -> None:
        revisions = self._counters["usage_exporter_bucket_revisions_total"]
        revisions.labels(target, source, "up").inc(up)
        revisions.labels(target, source, "down").inc(down)

    def series(self, target: str, source: str, count: int, overflowed: int) -> None:
        self._gauges["usage_exporter_series"].labels(target, source).set(count)
        overflow = self._counters["usage_exporter_series_overflow_total"]
        overflow.labels(target, source).inc(overflowed)

    def unknown_fields(self, target: str, source: str, count: int) -> None:
        unknown = self._counters["usage_exporter_upstream_unknown_fields_total"]
        unknown.labels(target, source).inc(count)

    def inconsistencies(self, target: str, source: str, count: int) -> None:
        inconsistent = self._counters["usage_exporter_upstream_inconsistencies_total"]
        inconsistent.labels(target, source).inc(count)

    def _resource_gauges(self) -> tuple[Gauge, Gauge]:
        return (
            self._gauges["usage_exporter_resource_up"],
            self._gauges["usage_exporter_resource_last_success_timestamp_seconds"],
        )
