"""The Telnyx source: inferred bucket width, verbatim categories, totals cross-checked,
newest storage snapshot, bucket discovery across regions, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from exporter.model import Source, Window
from exporter.upstream import UpstreamError
from exporter.vendors.telnyx import PLUGIN
from tests.fakes import Answers, make_source


def source(handler: Answers, **config: Any) -> Source:
    return make_source(PLUGIN, handler, **{"api_key": "KEY123", "buckets": ["b"], **config})


def point(
    stamp: str,
    categories: list[dict[str, Any]],
    total: dict[str, int] | None = None,
) -> dict[str, Any]:
    if total is None:
        total = {
            f: sum(c.get(f, 0) for c in categories)
            for f in ("ops", "successful_ops", "bytes_sent", "bytes_received")
        }
    return {"categories": categories, "total": total, "timestamp": stamp}


async def test_daily_spacing_verbatim_categories_and_a_total_that_does_not_add_up() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(
            200,
            json={
                "data": [
                    point(
                        "2026-08-20T00:00:00Z",
                        [
                            {
                                "category": "get-bucket_location",
                                "ops": 3,
                                "successful_ops": 3,
                                "bytes_sent": 10,
                            }
                        ],
                    ),
                    point(
                        "2026-08-21T00:00:00Z",
                        [{"category": "teleport_obj", "ops": 2}],
                        total={"ops": 5},
                    ),
                ]
            },
        )

    src = source(handler)
    api = next(s for s in await src.streams() if s.name == "api:b")
    read = await src.read(api, Window(1755648000, 1755648000 + 2 * 86400))
    assert seen[0].params["filter[start_time]"] == "2025-08-20T00:00:00.000Z"
    assert seen[0].params["filter[end_time]"] == "2025-08-22T00:00:00.000Z"
    flows = {(f.family, f.labels): (f.start, f.end, f.value) for f in read.flows}
    ops = flows[("telnyx_storage_operations_total", ("b", "get-bucket_location"))]
    assert ops[1] - ops[0] == 86400 and ops[2] == 3, "width inferred from the spacing"
    assert flows[("telnyx_storage_operations_total", ("b", "teleport_obj"))][2] == 2
    assert read.inconsistencies == 1
    assert next(s for s in await src.streams() if s.name == "api:b").width == 86400


async def test_newest_storage_snapshot_becomes_the_gauges() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "data": [
                    {"size": 5, "num_objects": 1, "timestamp": "2026-08-20T02:00:00Z"},
                    {"size": 9, "num_objects": 3, "timestamp": "2026-08-20T03:00:00Z"},
                    {"size": 7, "num_objects": 2, "timestamp": "2026-08-20T01:00:00Z"},
                ],
                "meta": {"page_number": 1, "total_pages": 1},
            },
        )

    src = source(handler)
    storage = next(s for s in await src.streams() if s.name == "storage:b")
    read = await src.read(storage, Window(0, 0))
    assert {(lv.family, lv.value) for lv in read.levels} == {
        ("telnyx_storage_bucket_size_bytes", 9.0),
        ("telnyx_storage_bucket_objects", 3.0),
    }


async def test_auto_discovery_deduplicates_across_regions() -> None:
    def xml(*names: str) -> str:
        items = "".join(f"<Bucket><Name>{n}</Name></Bucket>" for n in names)
        return (
            '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Buckets>{items}</Buckets></ListAllMyBucketsResult>"
        )

    auths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auths.append(request.headers["authorization"])
        host = request.url.host
        body = xml("logs", "media") if host.startswith("us-") else xml("media", "eu-only")
        return httpx.Response(200, content=body.encode())

    src = source(handler, buckets="auto", regions=["us-central-1", "eu-central-1"])
    names = sorted(s.name for s in await src.streams())
    assert names == [
        "api:eu-only",
        "api:logs",
        "api:media",
        "storage:eu-only",
        "storage:logs",
        "storage:media",
    ]
    assert all(a.startswith("AWS4-HMAC-SHA256 Credential=KEY123/") for a in auths)


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "API key was refused"), (404, "bucket not found"), (422, "rejected")],
)
async def test_errors_say_what_went_wrong(status: int, words: str) -> None:
    body = {"errors": [{"code": "1", "title": "t", "detail": "d"}]}
    src = source(lambda r: httpx.Response(status, content=json.dumps(body).encode()))
    api = next(s for s in await src.streams() if s.name == "api:b")
    with pytest.raises(UpstreamError, match=words):
        await src.read(api, Window(0, 3600))


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:1", "http://127.0.0.1:1/s3/"),
        ("http://127.0.0.1:1/v2/", "http://127.0.0.1:1/s3/"),  # the API version is cut first
        (None, ".telnyxcloudstorage.com/"),  # Telnyx's own API: Telnyx's own S3 hosts
        ("https://api.telnyx.com", ".telnyxcloudstorage.com/"),
    ],
)
async def test_bucket_discovery_goes_where_base_url_points(
    base_url: str | None, expected: str
) -> None:
    """A config that points `base_url` at the simulator (or any other host) and says
    `buckets: auto` must not send ListBuckets to Telnyx's real S3 hosts: the S3 endpoint
    follows a non-default base_url unless `s3_endpoint` is set. (The mock transport records
    the URLs: nothing leaves the process.)"""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=b"<ListAllMyBucketsResult/>")

    extra = {} if base_url is None else {"base_url": base_url}
    src = source(handler, buckets="auto", regions=["us-central-1", "eu-central-1"], **extra)
    await src.streams()
    assert len(asked) == 2
    assert all(expected in url for url in asked), asked
    if base_url is not None and "127.0.0.1" in base_url:
        assert sorted(asked) == [
            "http://127.0.0.1:1/s3/eu-central-1/",
            "http://127.0.0.1:1/s3/us-central-1/",
        ]


async def test_an_explicit_s3_endpoint_wins_over_base_url() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=b"<ListAllMyBucketsResult/>")

    src = source(
        handler,
        buckets="auto",
        regions=["eu-central-1"],
        base_url="http://127.0.0.1:1",
        s3_endpoint="http://127.0.0.2:2/storage/{region}",
    )
    await src.streams()
    assert asked == ["http://127.0.0.2:2/storage/eu-central-1/"]


def test_check_config_says_where_a_derived_s3_endpoint_goes(
    check_config: Callable[[str], tuple[int, str]],
) -> None:
    """Pointed at a host that is neither Telnyx's nor loopback, bucket discovery follows
    base_url: check-config says so, with the fix (on the simulator it says nothing)."""
    entry = "{kind: telnyx, name: store, api_key: k, buckets: auto, base_url: '%s'}"
    code, err = check_config("sources:\n  - " + entry % "https://telnyx-gateway.example.invalid")
    assert code == 0
    assert (
        "warning: sources[0] (store).s3_endpoint: not set, so `buckets: auto` lists buckets at"
        " https://telnyx-gateway.example.invalid/s3/{region}/" in err
    ), err
    assert "set s3_endpoint" in err
    code, err = check_config("sources:\n  - " + entry % "http://127.0.0.1:9869")
    assert code == 0 and "s3_endpoint" not in err
