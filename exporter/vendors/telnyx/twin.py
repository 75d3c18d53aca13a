"""Telnyx Cloud Storage usage, as the simulator speaks it.

`GET /v2/storage/buckets/{bucket}/usage/api` (hourly `data[]` points split by operation category,
deepObject `filter[start_time]`/`filter[end_time]`), `GET .../usage/storage` (snapshots with
`meta`), the S3-compatible ListBuckets XML on per-region endpoints (`/s3/{region}/`), the JSON
error envelope and `x-ratelimit-*` headers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from random import Random
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.simulator.twin import GeneratedUsage, Shape
from exporter.simulator.usage import HOUR, MINUTE, Key, digest, rate, visible

CATEGORIES = (
    "list_bucket",
    "list_buckets",
    "get-bucket_location",
    "create_bucket",
    "stat_bucket",
    "get_bucket_versioning",
    "set_bucket_versioning",
    "get_obj",
    "put_obj",
    "delete_obj",
    "copy_obj",  # not in the documented enum: exporters must keep it anyway
)
# The one deliberate departure from the spec (its category enum): bucket -> categories the
# enum does not list, sent to show that readers keep an unknown category. The conformance
# test expects exactly these and no other departure.
OFF_SPEC_CATEGORIES = {"backups": frozenset({"copy_obj"})}
_OFF_SPEC = frozenset().union(*OFF_SPEC_CATEGORIES.values())


def bucket_categories(bucket: str) -> tuple[str, ...]:
    """The categories a bucket reports: the documented ones, and its off-spec ones."""
    extra = OFF_SPEC_CATEGORIES.get(bucket, frozenset())
    return tuple(c for c in CATEGORIES if c not in _OFF_SPEC or c in extra)


FIELDS = (("ops", 40), ("bytes_sent", 400_000), ("bytes_received", 300_000))
COUNTED = ("ops", "successful_ops", "bytes_sent", "bytes_received")
SHAPE = Shape(
    quantities=frozenset({*COUNTED, "size", "size_kb", "num_objects"}), required=("timestamp",)
)
# bucket name -> home region; every account gets the same names, with its own usage
BUCKETS = {
    "app-logs": "us-central-1",
    "backups": "us-east-1",
    "media-assets": "eu-central-1",
}
US = frozenset({"us-central-1", "us-east-1", "us-west-1"})


def envelope(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"code": code, "title": title, "detail": detail}]}, status_code=status
    )


class TelnyxUsage(GeneratedUsage):
    """Every account's bucket usage, per operation category, as of any time."""

    def _rate(self, account: str, bucket: str, category: str, field: str, hour: int) -> int:
        if hour < self.usage_start:
            return 0
        if field == "successful_ops":
            whole = self._rate(account, bucket, category, "ops", hour)
            failed = digest(self.seed, "tx-fail", account, bucket, category, hour)[0] % 3
            return max(0, whole - 2 * failed)
        maximum = dict(FIELDS)[field]
        if field != "ops" and category not in ("get_obj", "put_obj"):
            maximum = max(2, maximum // 100)  # metadata calls move few bytes
        return rate(
            self.seed,
            "telnyx",
            account,
            bucket,
            category,
            field,
            hour,
            maximum=maximum,
            sparsity=2 if category != "get_obj" else 0,
        )

    def value(
        self, account: str, bucket: str, category: str, field: str, start: int, end: int, now: int
    ) -> int:
        start = max(start, self.usage_start)
        generated = visible(
            lambda h: self._rate(account, bucket, category, field, h), start, end, now, self.late
        )
        return generated + self.revisions.shift((account, bucket, category, field), start, end, now)

    def revise(self, account: str, bucket: str, up: bool, now: int, rng: Random) -> bool:
        """A late revision of one closed minute of one category and field of the bucket."""
        keys: list[Key] = [
            (account, bucket, category, field)
            for category in bucket_categories(bucket)
            for field in COUNTED
        ]

        def minute_value(key: Key, minute: int) -> int:
            _, _, category, field = key
            return self.value(
                account, bucket, str(category), str(field), minute, minute + MINUTE, now
            )

        return self.revisions.revise(up, keys, minute_value, now, rng)

    def point(self, account: str, bucket: str, hour: int, now: int) -> dict[str, Any] | None:
        categories = []
        total = dict.fromkeys(("ops", "successful_ops", "bytes_sent", "bytes_received"), 0)
        for category in bucket_categories(bucket):
            values = {
                f: self.value(account, bucket, category, f, hour, hour + HOUR, now) for f in total
            }
            if not any(values.values()):
                continue
            categories.append({"category": category, **values})
            for f, v in values.items():
                total[f] += v
        if not categories:
            return None
        stamp = dt.datetime.fromtimestamp(hour, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"categories": categories, "total": total, "timestamp": stamp}

    def stored(self, account: str, bucket: str, at: int) -> tuple[int, int]:
        hours = max(0, (at - self.usage_start) // HOUR)
        objects = 100 + digest(self.seed, "tx-obj", account, bucket)[0] + 3 * hours
        return objects * 40_960, objects

    def ground_truth(self, account: str, bucket: str, start: int, now: int) -> dict[str, Any]:
        """Per category, a bucket's counts from `start` to now, and its storage now
        (`/_sim/telnyx/truth`)."""
        rows = []
        for category in bucket_categories(bucket):
            values = {
                f: self.value(account, bucket, category, f, start, now + HOUR, now)
                for f in ("ops", "successful_ops", "bytes_sent", "bytes_received")
            }
            if any(values.values()):
                rows.append({"category": category, "values": values})
        size, objects = self.stored(account, bucket, now - now % HOUR)
        return {"rows": rows, "storage": {"size": size, "num_objects": objects}}


def parse_filter(request: Request) -> tuple[int, int] | Response:
    bounds = []
    for name in ("filter[start_time]", "filter[end_time]"):
        value = request.query_params.get(name)
        if value is None:
            return envelope(422, "10015", "Invalid parameter", f"{name} is required")
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return envelope(422, "10015", "Invalid parameter", f"{name} must be ISO 8601")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        bounds.append(int(parsed.timestamp()))
    return bounds[0], bounds[1]


def api_usage(
    usage: TelnyxUsage, account: str, bucket: str, start: int, end: int, now: int
) -> dict[str, Any]:
    data = []
    for hour in range(start - start % HOUR, min(end, now + 1), HOUR):
        point = usage.point(account, bucket, hour, now)
        if point is not None:
            data.append(point)
    return {"data": data}


def storage_usage(usage: TelnyxUsage, account: str, bucket: str, now: int) -> dict[str, Any]:
    snapshots = []
    for back in (2, 0, 1):  # not in time order: clients must pick the newest themselves
        at = now - now % HOUR - back * HOUR
        size, objects = usage.stored(account, bucket, at)
        stamp = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        snapshots.append(
            {"size": size, "size_kb": size // 1024, "num_objects": objects, "timestamp": stamp}
        )
    meta = {"page_number": 1, "total_pages": 1, "page_size": 25, "total_results": 3}
    return {"data": snapshots, "meta": meta}


def list_buckets_xml(region: str) -> str:
    names = [b for b, home in BUCKETS.items() if home == region or (region in US and home in US)]
    items = "".join(
        f"<Bucket><Name>{escape(n)}</Name><CreationDate>2026-01-01T00:00:00.000Z"
        "</CreationDate></Bucket>"
        for n in names
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>owner</ID><DisplayName>owner</DisplayName></Owner><Buckets>{items}"
        "</Buckets></ListAllMyBucketsResult>"
    )


def s3_account(request: Request, keys: Mapping[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    marker = "Credential="
    if marker not in header:
        return None
    key = header.split(marker, 1)[1].split("/", 1)[0]
    return keys.get(key)


_counter = itertools.count()


def rate_limit_headers() -> dict[str, str]:
    used = next(_counter) % 100
    return {
        "x-ratelimit-limit": "100",
        "x-ratelimit-remaining": str(99 - used),
        "x-ratelimit-reset": "60",
    }
