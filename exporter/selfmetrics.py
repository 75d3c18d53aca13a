"""The exporter's own metrics (`usage_exporter_*`): is each target up, fresh, and how did its
upstream answer.

Ordinary direct instrumentation in a registry of its own, pre-initialised per target so a
dashboard or an alert sees 0, never "no data". Label values here are configuration (target
names, source kinds, our endpoint names), never upstream text.
"""

from __future__ import annotations

import contextlib
import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from exporter.model import Family, Kind

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class SelfMetrics:
    """Self-metrics of every target; labels `target` (configured name) and `source` (kind)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._families: list[Family] = []
        r = self.registry
        t = ("target", "source")
        self._build = Gauge(
            "usage_exporter_build_info",
            "usage-exporter build: version and Python version (always 1).",
            ("version", "python_version"),
            registry=r,
        )
        self._build.labels(version, platform.python_version()).set(1)
        self._shard_info = Gauge(
            "usage_exporter_shard_info",
            "This process's shard and the number of shards (always 1); a process exports only "
            "the targets whose name hashes to its shard (unsharded: shard 0 of 1).",
            ("shard", "total_shards"),
            registry=r,
        )
        self._total_shards = Gauge(
            "usage_exporter_total_shards",
            "The number of shards this process was started with (--total-shards; 1 unsharded).",
            registry=r,
        )
        self._up = Gauge(
            "usage_exporter_up",
            "1 if the last poll of the target read every stream and saved it, else 0.",
            t,
            registry=r,
        )
        self._last_success = Gauge(
            "usage_exporter_last_success_timestamp_seconds",
            "Unix time of the end of the target's last fully successful poll.",
            t,
            registry=r,
        )
        self._watermark = Gauge(
            "usage_exporter_data_watermark_timestamp_seconds",
            "End of the newest settled bucket of the target (oldest across its streams): "
            "how fresh the exact data is.",
            t,
            registry=r,
        )
        self._duration = Histogram(
            "usage_exporter_poll_duration_seconds",
            "Wall time of a poll of the target: every stream read, the ledger commit.",
            t,
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self._polls = Counter(
            "usage_exporter_polls",
            "Polls of the target by result (success: every stream read and saved).",
            (*t, "result"),
            registry=r,
        )
        self._requests = Counter(
            "usage_exporter_upstream_requests",
            "HTTP calls to the upstream, including retries, by endpoint and status code "
            '("error" for network errors and timeouts).',
            (*t, "endpoint", "code"),
            registry=r,
        )
        self._rate_limit = Gauge(
            "usage_exporter_upstream_rate_limit_remaining",
            "Requests left in the upstream's rate-limit window, from its rate-limit headers.",
            t,
            registry=r,
        )
        self._revisions = Counter(
            "usage_exporter_bucket_revisions",
            "Re-read buckets whose value changed: up is late data, down a downward revision "
            "(the counter holds its peak until the true sum passes it).",
            (*t, "direction"),
            registry=r,
        )
        self._series = Gauge(
            "usage_exporter_series",
            "Series the target's ledger holds (counters and gauges).",
            t,
            registry=r,
        )
        self._overflow = Counter(
            "usage_exporter_series_overflow",
            "Observations folded into the __overflow__ series because a family reached the "
            "per-target series limit (sums stay exact).",
            t,
            registry=r,
        )
        self._unknown = Counter(
            "usage_exporter_upstream_unknown_fields",
            "Distinct unknown fields seen per read: the upstream's schema drifted.",
            t,
            registry=r,
        )

        self._inconsistent = Counter(
            "usage_exporter_upstream_inconsistencies",
            "Upstream answers that contradict themselves (e.g. categories that do not add up to "
            "the stated total); the parts are exported as reported.",
            t,
            registry=r,
        )
        self._resource_up = Gauge(
            "usage_exporter_resource_up",
            "1 if the last read of the target's resource (names, limits: read on their own "
            "schedule) succeeded, else 0 (its last values are kept). A resource turned off (no "
            "permission) has no series.",
            (*t, "resource"),
            registry=r,
        )
        self._resource_success = Gauge(
            "usage_exporter_resource_last_success_timestamp_seconds",
            "Unix time of the last successful read of the target's resource.",
            (*t, "resource"),
            registry=r,
        )
        self._reload_ok = Gauge(
            "usage_exporter_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP or POST /-/reload) succeeded, 0 if the "
            "file was refused and the running configuration kept; 1 at start.",
            registry=r,
        )
        self._reload_time = Gauge(
            "usage_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load (start or reload).",
            registry=r,
        )
        for metric in (
            self._build,
            self._reload_ok,
            self._reload_time,
            self._shard_info,
            self._total_shards,
            self._up,
            self._last_success,
            self._watermark,
            self._duration,
            self._polls,
            self._requests,
            self._rate_limit,
            self._revisions,
            self._series,
            self._overflow,
            self._unknown,
            self._inconsistent,
            self._resource_up,
            self._resource_success,
        ):
            self._describe(metric)

    def _describe(self, metric: Counter | Gauge | Histogram) -> None:
        name: str = metric._name  # prometheus_client keeps the declared name here
        labels = tuple(metric._labelnames)  # `target` included: not every self-metric has it
        help_text: str = metric._documentation
        if isinstance(metric, Counter):
            self._families.append(Family(f"{name}_total", Kind.COUNTER, help_text, labels))
        elif isinstance(metric, Histogram):
            self._families.append(Family(name, Kind.GAUGE, f"(histogram) {help_text}", labels))
        else:
            self._families.append(Family(name, Kind.GAUGE, help_text, labels))

    def shard(self, index: int, total: int) -> None:
        self._shard_info.clear()
        self._shard_info.labels(str(index), str(total)).set(1)
        self._total_shards.set(total)

    def register_target(self, target: str, source: str) -> None:
        self._up.labels(target, source).set(0)
        for result in ("success", "failure"):
            self._polls.labels(target, source, result)
        for direction in ("up", "down"):
            self._revisions.labels(target, source, direction)
        self._series.labels(target, source).set(0)
        self._overflow.labels(target, source)
        self._unknown.labels(target, source)
        self._inconsistent.labels(target, source)
        self._duration.labels(target, source)

    def unregister_target(self, target: str) -> None:
        """A target removed by a reload: its self-metric series leave /metrics."""
        for metric in (
            self._up,
            self._last_success,
            self._watermark,
            self._duration,
            self._polls,
            self._requests,
            self._rate_limit,
            self._revisions,
            self._series,
            self._overflow,
            self._unknown,
            self._inconsistent,
            self._resource_up,
            self._resource_success,
        ):
            for labels in list(metric._metrics):  # prometheus_client's children, by labels
                if labels and labels[0] == target:
                    metric.remove(*labels)

    def config_loaded(self, ok: bool, now: float) -> None:
        self._reload_ok.set(1 if ok else 0)
        if ok:
            self._reload_time.set(now)

    def upstream_request(self, target: str, source: str, endpoint: str, code: str) -> None:
        self._requests.labels(target, source, endpoint, code).inc()

    def rate_limit_remaining(self, target: str, source: str, value: float) -> None:
        self._rate_limit.labels(target, source).set(value)

    def poll_finished(
        self,
        target: str,
        source: str,
        ok: bool,
        duration: float,
        now: float,
        watermark: float | None,
    ) -> None:
        self._up.labels(target, source).set(1 if ok else 0)
        self._polls.labels(target, source, "success" if ok else "failure").inc()
        self._duration.labels(target, source).observe(duration)
        if ok:
            self._last_success.labels(target, source).set(now)
        if watermark is not None:
            self._watermark.labels(target, source).set(watermark)

    def resource_read(self, target: str, source: str, resource: str, ok: bool, now: float) -> None:
        self._resource_up.labels(target, source, resource).set(1 if ok else 0)
        if ok:
            self._resource_success.labels(target, source, resource).set(now)

    def resource_off(self, target: str, source: str, resource: str) -> None:
        """A resource turned off (no permission): its series leave /metrics."""
        for metric in (self._resource_up, self._resource_success):
            with contextlib.suppress(KeyError):
                metric.remove(target, source, resource)

    def revisions(self, target: str, source: str, up: int, down: int) -> None:
        self._revisions.labels(target, source, "up").inc(up)
        self._revisions.labels(target, source, "down").inc(down)

    def series(self, target: str, source: str, count: int, overflowed: int) -> None:
        self._series.labels(target, source).set(count)
        self._overflow.labels(target, source).inc(overflowed)

    def unknown_fields(self, target: str, source: str, count: int) -> None:
        self._unknown.labels(target, source).inc(count)

    def inconsistencies(self, target: str, source: str, count: int) -> None:
        self._inconsistent.labels(target, source).inc(count)

    def families(self) -> list[Family]:
        """The self-metric families, described for the generated reference."""
        return list(self._families)
