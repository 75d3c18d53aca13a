"""Telnyx Cloud Storage: per-bucket API usage as exact counters, bucket size as gauges.

Each storage bucket is two streams: `api:<bucket>` reads `/v2/storage/buckets/{b}/usage/api`
(one `data[]` element per time bucket, split by operation category) and `storage:<bucket>` reads
`/usage/storage` (snapshots; the newest one becomes the gauges). The time-bucket width is inferred
from the spacing of the timestamps, never assumed. Buckets come from the config or, with
`buckets: auto`, from the S3-compatible ListBuckets call on each configured region.

    # TYPE telnyx_storage_operations_total counter
    telnyx_storage_operations_total{target="acme",bucket="logs",category="get_obj"} 5400
    # TYPE telnyx_storage_sent_bytes_total counter
    telnyx_storage_sent_bytes_total{target="acme",bucket="logs",category="get_obj"} 2.2020096e+09
    # TYPE telnyx_storage_bucket_size_bytes gauge
    telnyx_storage_bucket_size_bytes{target="acme",bucket="logs"} 123456
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from exporter.model import Family, Flow, Kind, Level, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError, gather_all
from exporter.upstream.values import quantity, timestamp
from exporter.vendors.telnyx.config import TelnyxConfig

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telnyx.com"
DEFAULT_S3_ENDPOINT = "https://{region}.telnyxcloudstorage.com"
S3_PATH = "/s3/{region}"  # under a base_url that is not Telnyx's (where the simulator serves it)
RATE_LIMIT_HEADER = "x-ratelimit-remaining"
API_VERSION = "/v2"  # part of every path: a base_url ending in it is cut (cli warns)
ERROR_HINTS = {
    401: "Telnyx wants an API v2 key (KEY...) of the account that owns the buckets",
    403: "the API v2 key lacks access to Cloud Storage usage: use a key of the account that "
    "owns the buckets",
}
DEFAULT_WIDTH = 3600  # until the spacing of the answers tells otherwise
DEFAULT_LOOKBACK = 3 * 3600
LABELS = ("bucket", "category")

FAMILIES: tuple[Family, ...] = (
    Family(
        "telnyx_storage_operations_total",
        Kind.COUNTER,
        "S3 API operations on the bucket, by operation category (usage/api `ops`).",
        LABELS,
    ),
    Family(
        "telnyx_storage_successful_operations_total",
        Kind.COUNTER,
        "Successful S3 API operations on the bucket, by category (usage/api `successful_ops`).",
        LABELS,
    ),
    Family(
        "telnyx_storage_sent_bytes_total",
        Kind.COUNTER,
        "Bytes sent by the storage service, by category (usage/api `bytes_sent`).",
        LABELS,
        unit="bytes",
    ),
    Family(
        "telnyx_storage_received_bytes_total",
        Kind.COUNTER,
        "Bytes received by the storage service, by category (usage/api `bytes_received`).",
        LABELS,
        unit="bytes",
    ),
    Family(
        "telnyx_storage_bucket_size_bytes",
        Kind.GAUGE,
        "Size of the bucket in bytes, from the newest usage/storage snapshot.",
        ("bucket",),
        unit="bytes",
    ),
    Family(
        "telnyx_storage_bucket_objects",
        Kind.GAUGE,
        "Objects in the bucket, from the newest usage/storage snapshot.",
        ("bucket",),
    ),
)
_OPS = {
    "ops": "telnyx_storage_operations_total",
    "successful_ops": "telnyx_storage_successful_operations_total",
    "bytes_sent": "telnyx_storage_sent_bytes_total",
    "bytes_received": "telnyx_storage_received_bytes_total",
}
_S3 = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def s3_endpoint(config: TelnyxConfig) -> str:
    """The S3 endpoint template bucket discovery calls: `s3_endpoint` when set; Telnyx's own S3
    hosts for Telnyx's API (base_url unset or Telnyx's); otherwise `<base_url>/s3/{region}`, so
    a source pointed at the simulator or any other host never reaches a Telnyx host the
    operator did not configure."""
    if config.s3_endpoint is not None:
        return config.s3_endpoint
    if config.base_url is None:
        return DEFAULT_S3_ENDPOINT
    base = str(config.base_url).rstrip("/").removesuffix(API_VERSION).rstrip("/")
    return DEFAULT_S3_ENDPOINT if base == DEFAULT_BASE_URL else base + S3_PATH


def endpoints(config: TelnyxConfig) -> dict[str, tuple[str, ...]]:
    """Besides base_url: the S3 endpoint of each region (the endpoint check of the tests)."""
    template = s3_endpoint(config)
    return {"s3_endpoint": tuple(template.format(region=r) for r in config.regions)}


def warnings(config: TelnyxConfig) -> list[str]:
    """A derived S3 endpoint on a host that is neither Telnyx's nor loopback: say where bucket
    discovery goes, and how to send it elsewhere."""
    if config.buckets != "auto" or config.s3_endpoint is not None or config.base_url is None:
        return []
    template = s3_endpoint(config)
    if template == DEFAULT_S3_ENDPOINT or config.base_url.host in (
        "127.0.0.1",
        "localhost",
        "[::1]",
    ):
        return []
    return [
        f"s3_endpoint: not set, so `buckets: auto` lists buckets at {template}/ (derived from"
        " base_url); set s3_endpoint to your S3-compatible endpoint template, or list the"
        " buckets"
    ]


class TelnyxSource:
    """Reads one Telnyx account's buckets (one target)."""

    def __init__(self, config: TelnyxConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        self._widths: dict[str, int] = {}  # inferred time-bucket width per storage bucket

    def __repr__(self) -> str:
        return f"TelnyxSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        names = await self.buckets()
        lookback = int(self._config.lookback or DEFAULT_LOOKBACK)
        out: list[Stream] = []
        for name in names:
            width = self._widths.get(name, DEFAULT_WIDTH)
            out.append(
                Stream(f"api:{name}", width, max(lookback, 2 * width), int(self._config.backfill))
            )
            if self._config.storage:
                out.append(Stream(f"storage:{name}", 0, 0, 0))
        return out

    async def buckets(self) -> list[str]:
        if self._config.buckets != "auto":
            return list(self._config.buckets)
        lists = await gather_all(self._list_buckets(region) for region in self._config.regions)
        return sorted({name for names in lists for name in names})

    async def _list_buckets(self, region: str) -> list[str]:
        url = s3_endpoint(self._config).format(region=region).rstrip("/") + "/"
        now = dt.datetime.now(dt.UTC)
        key = self._upstream.settings.secret
        # Telnyx reads the access key id (the API key) and ignores the signature.
        signature = hashlib.sha256(now.isoformat().encode()).hexdigest()
        headers = {
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={key}/{now:%Y%m%d}/{region}/s3/aws4_request, "
                f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"
            ),
        }
        response = await self._upstream.get("ListBuckets", url, headers=headers)
        try:
            root = ET.fromstring(response.body)  # noqa: S314 - size-capped, no DTDs from S3
        except ET.ParseError:
            raise UpstreamError("ListBuckets", f"{region}: answer is not S3 XML") from None
        if root.tag not in (f"{_S3}ListAllMyBucketsResult", "ListAllMyBucketsResult"):
            # e.g. an HTML error page with status 200: not "no buckets in this region"
            raise UpstreamError("ListBuckets", f"{region}: answer is not a bucket list")
        names = [
            (element.text or "").strip()
            for element in root.iter()
            if element.tag in (f"{_S3}Name", "Name") and element.text
        ]
        return [n for n in names if n]

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        kind, _, bucket = stream.name.partition(":")
        if kind == "storage":
            return await self._read_storage(stream, bucket)
        return await self._read_api(stream, bucket, window)

    def _path(self, bucket: str, what: str) -> str:
        return f"/v2/storage/buckets/{quote(bucket, safe='')}/usage/{what}"

    async def _get(self, endpoint: str, path: str, params: list[tuple[str, str]]) -> Any:
        try:
            return await self._upstream.get_json(endpoint, path, params)
        except UpstreamError as err:
            hints = {
                401: "the API key was refused",
                404: "bucket not found (or base_url is not the API root, e.g. "
                "https://api.telnyx.com without /v2)",
                422: "the request was rejected",
            }
            hint = hints.get(err.status or 0)
            if hint:
                raise UpstreamError(endpoint, f"{hint}: {err.message}", status=err.status) from None
            raise

    async def _read_api(self, stream: Stream, bucket: str, window: Window) -> StreamRead:
        params = [
            ("filter[start_time]", _millis_text(window.start)),
            ("filter[end_time]", _millis_text(window.end)),
        ]
        body = await self._get("usage/api", self._path(bucket, "api"), params)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise UpstreamError("usage/api", "answer is not an object with a data list")
        points = [p for p in body.get("data") or [] if p is not None]
        stamps = sorted(
            {timestamp(p.get("timestamp"), "usage/api") for p in points if isinstance(p, dict)}
        )
        width = _spacing(stamps) or self._widths.get(bucket, stream.width)
        flows: list[Flow] = []
        unknown: set[str] = set()
        mismatches = 0
        for point in points:
            if not isinstance(point, dict):
                raise UpstreamError("usage/api", "a data element is not an object")
            start = timestamp(point.get("timestamp"), "usage/api")
            unknown.update(k for k in point if k not in ("categories", "total", "timestamp"))
            sums = dict.fromkeys(_OPS, 0.0)
            categories = point.get("categories") or []
            if not isinstance(categories, list):
                raise UpstreamError("usage/api", "categories is not a list")
            for item in categories:
                if not isinstance(item, dict):
                    raise UpstreamError("usage/api", "a category is not an object")
                category = str(item.get("category") or "")
                unknown.update(k for k in item if k not in (*_OPS, "category"))
                for field, family in _OPS.items():
                    value = _count(item.get(field), field)
                    sums[field] += value
                    if value:
                        flows.append(Flow(family, (bucket, category), start, start + width, value))
            total = point.get("total")
            if isinstance(total, dict) and any(
                total.get(f) is not None and _count(total.get(f), f) != sums[f] for f in _OPS
            ):
                mismatches += 1
                log.warning(
                    "categories do not add up to the total",
                    extra={
                        "target": self._config.name,
                        "bucket": bucket,
                        "timestamp": _millis_text(start),
                    },
                )
        if width != self._widths.get(bucket, DEFAULT_WIDTH):
            log.info(
                "time-bucket width inferred",
                extra={"target": self._config.name, "bucket": bucket, "width": width},
            )
        self._widths[bucket] = width
        return StreamRead(
            stream.name,
            window.start,
            window.end,
            flows,
            unknown_fields=len(unknown),
            inconsistencies=mismatches,
        )

    async def _read_storage(self, stream: Stream, bucket: str) -> StreamRead:
        body = await self._get("usage/storage", self._path(bucket, "storage"), [])
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise UpstreamError("usage/storage", "answer is not an object with a data list")
        meta = body.get("meta")
        if (
            isinstance(meta, dict)
            and isinstance(meta.get("total_pages"), int)
            and meta["total_pages"] > 1
        ):
            log.warning(
                "storage usage has more than one page; reading the first",
                extra={"target": self._config.name, "bucket": bucket},
            )
        snapshots = [s for s in body.get("data") or [] if isinstance(s, dict)]
        levels: list[Level] = []
        if snapshots:
            newest = max(snapshots, key=lambda s: timestamp(s.get("timestamp"), "usage/storage"))
            levels = [
                Level(
                    "telnyx_storage_bucket_size_bytes",
                    (bucket,),
                    _count(newest.get("size"), "size"),
                ),
                Level(
                    "telnyx_storage_bucket_objects",
                    (bucket,),
                    _count(newest.get("num_objects"), "num_objects"),
                ),
            ]
        return StreamRead(stream.name, 0, 0, levels=levels)


def _spacing(stamps: list[int]) -> int:
    """The bucket width the timestamps show: their smallest positive spacing (0 if unknown)."""
    gaps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    return min(gaps) if gaps else 0


def _count(value: Any, field: str) -> float:
    return 0.0 if value is None else quantity(value, "usage", field)


def _millis_text(t: int) -> str:
    """A time as the API's examples write it: UTC, RFC 3339 with milliseconds."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
