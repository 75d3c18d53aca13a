"""The exporter asks only what the specs allow: every request it sends in a full run of every
source with every option (every OpenAI endpoint and bucket width, every group key, every filter,
overrides, paginated answers; Arthur both scopes and each alone; Telnyx listed buckets and `auto`;
Anylayer key ids, all keys and both path prefixes) is captured at the simulator
(`/_sim/requests`) and checked against the derived conformance data: path template and method,
declared parameter names only, styles (`group_by` repeated, Telnyx `filter[...]` deepObject),
types (integers, RFC 3339 date-times, booleans), enum values per endpoint, OpenAI's `limit`
within the per-width maxima, required parameters present.
"""

from __future__ import annotations

import re
import subprocess
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.vendors.openai import api as openai_api
from exporter.vendors.openai.api import OPENAI_GROUP_BY
from tests.conformance import spec
from tests.harness import exporter_argv, http_json, simulator

ADMIN_PER_PROJECT = ("api_keys", "spend_limit", "spend_alerts", "rate_limits")
KEYS = {
    "openai": "sk-admin-requests",
    "arthur": "arthur-requests",
    "telnyx": "KEYrequests0001",
    "anylayer": "zk_prod_requests",
}
ALL_KEYS = sorted({k for keys in OPENAI_GROUP_BY.values() for k in keys})


def vendor_of(path: str) -> str | None:
    """The vendor a simulator path belongs to; None for the S3 ListBuckets call, which the
    Telnyx spec file does not describe (it is the S3 API, checked by
    tests/unit/vendors/telnyx/test_source.py)."""
    if path.startswith("/v1/organization/"):
        return "openai"
    if path.startswith("/api/v2/"):
        return "arthur"
    if path.startswith("/v2/storage/"):
        return "telnyx"
    if path.startswith(("/v1/developer/", "/api/v1/developer/")):
        return "anylayer"
    if path.startswith("/s3/"):
        return None
    raise AssertionError(f"request to an unexpected path {path}")


def config(sim: str, state: Path) -> dict[str, Any]:
    common = {"interval": "5m", "retries": 0}
    openai = {"kind": "openai", "base_url": sim, "api_key": KEYS["openai"], **common}
    filters = {
        "project_ids": ["proj_alpha", "proj_beta"],
        "user_ids": ["user-ana", "user-bo"],
        "api_key_ids": ["key_alpha", "key_beta"],
        "models": ["gpt-4.1-2025-04-14", "whisper-1", "gpt-image-1"],
        "sources": ["image.generation"],
        "sizes": ["1024x1024"],
        "context_levels": ["low", "high"],
        "vector_store_ids": ["vs_docs"],
        "batch": False,
    }
    usage_keys = [k for k in ALL_KEYS if k != "user_id"] + ["user_id"]
    arthur = {"kind": "arthur", "base_url": sim, "api_key": KEYS["arthur"], **common}
    telnyx = {"kind": "telnyx", "base_url": sim, "api_key": KEYS["telnyx"], **common}
    anylayer = {"kind": "anylayer", "base_url": sim, "api_key": KEYS["anylayer"], **common}
    return {
        "state_dir": str(state),
        "sources": [
            {
                **openai,
                "name": "oa-1m",
                "bucket_width": "1m",
                "backfill": "10m",
                "lookback": "5m",
                "group_by": usage_keys,
                **filters,
            },
            {
                **openai,
                "name": "oa-1h",
                "bucket_width": "1h",
                "backfill": "5h",
                "group_by": usage_keys,
                "overrides": {
                    "costs": {"group_by": ["user_id", "line_item", "api_source"]},
                    "completions": {"group_by": ["model", "batch"]},
                },
            },
            {**openai, "name": "oa-1d", "bucket_width": "1d", "backfill": "3d"},
            {**arthur, "name": "ar-both", "group_by": ["rule_type", "task"], "backfill": "3h"},
            {
                **arthur,
                "name": "ar-rule",
                "group_by": ["rule_type"],
                "window": "15m",
                "backfill": "1h",
            },
            {**arthur, "name": "ar-task", "group_by": ["task"], "backfill": "2h"},
            {**telnyx, "name": "tx-list", "buckets": ["app-logs", "backups"], "backfill": "6h"},
            {
                **telnyx,
                "name": "tx-auto",
                "buckets": "auto",
                "s3_endpoint": sim + "/s3/{region}",
                "backfill": "2h",
            },
            {
                **anylayer,
                "name": "al-keys",
                "key_ids": ["key_8f3a", "key_c21b"],
                "timeframe": "24h",
                "granularity": "hour",
                "backfill": "6h",
            },
            {
                **anylayer,
                "name": "al-all",
                "timeframe": "7d",
                "granularity": "day",
                "path_prefix": "/api/v1",
                "backfill": "3d",
            },
            {
                **anylayer,
                "name": "al-min",
                "timeframe": "1h",
                "granularity": "minute",
                "backfill": "20m",
                "key_ids": ["key_8f3a"],
            },
        ],
    }


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("requests")
    extra = (
        *("--openai-key", f"{KEYS['openai']}=org-req", "--arthur-key", f"{KEYS['arthur']}=eng"),
        *("--telnyx-key", f"{KEYS['telnyx']}=acct", "--anylayer-key", f"{KEYS['anylayer']}=acct"),
        *("--max-page-buckets", "4"),  # every OpenAI read follows cursors
    )
    with simulator(tmp, extra=extra) as sim:
        # every names-and-limits list follows `after` cursors too
        http_json(
            f"{sim.url}/_sim/openai/admin", method="POST", body={"action": "page_size", "size": 2}
        )
        path = tmp / "config.yaml"
        path.write_text(yaml.safe_dump(config(sim.url, tmp / "state")))
        done = subprocess.run(
            exporter_argv("once", "--config", str(path)),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        log = http_json(f"{sim.url}/_sim/requests")
        assert len(log["requests"]) < log["capacity"], "the request log overflowed"
        yield log["requests"]


def test_every_request_matches_an_operation_of_the_spec(captured: list[dict[str, str]]) -> None:
    problems: list[str] = []
    checked: defaultdict[str, int] = defaultdict(int)
    for request in captured:
        vendor = vendor_of(request["path"])
        if vendor is None:
            continue
        checked[vendor] += 1
        for problem in spec.request_problems(
            vendor, request["method"], request["path"], request["query"]
        ):
            problems.append(f"{request['method']} {request['path']}?{request['query']}: {problem}")
    assert not problems, "\n".join(problems[:40])
    assert set(checked) == set(spec.VENDORS), dict(checked)


def _params(request: dict[str, str]) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(request["query"], keep_blank_values=True)


def test_the_run_used_every_option(captured: list[dict[str, str]]) -> None:
    """The check above saw what it claims to: every endpoint, width, group key, filter, cursor."""
    openai = [r for r in captured if vendor_of(r["path"]) == "openai"]
    usage_paths = {e.path for e in openai_api.ENDPOINTS.values()}
    paths = {r["path"] for r in openai}
    assert usage_paths <= paths
    # names and limits: every list and limit, organization-wide and per project
    admin = {re.sub(r"/projects/[^/]+/", "/projects/{id}/", p) for p in paths - usage_paths}
    assert admin == {
        "/v1/organization/projects",
        "/v1/organization/users",
        "/v1/organization/spend_limit",
        "/v1/organization/spend_alerts",
        *(f"/v1/organization/projects/{{id}}/{r}" for r in ADMIN_PER_PROJECT),
    }, admin
    admin_params = [
        (r["path"], n, v) for r in openai if r["path"] not in usage_paths for n, v in _params(r)
    ]
    assert ("/v1/organization/projects", "include_archived", "true") in admin_params
    assert any(n == "owner_project_access" and v == "any" for _, n, v in admin_params)
    assert any(n == "after" for _, n, _ in admin_params), "no paginated list read"
    searches = [r for r in captured if r["path"] == "/api/v2/tasks/search"]
    assert searches and all(r["method"] == "POST" for r in searches)
    params = [(r["path"], n, v) for r in openai for n, v in _params(r)]
    assert {v for _, n, v in params if n == "bucket_width"} == {"1m", "1h", "1d"}
    assert any(n == "page" for _, n, _ in params), "no paginated read"
    for endpoint in openai_api.ENDPOINTS.values():
        sent = {v for p, n, v in params if p == endpoint.path and n == "group_by"}
        assert sent == set(endpoint.group_by), (endpoint.name, sent)
        names = {n for p, n, _ in params if p == endpoint.path}
        assert set(endpoint.filters) <= names, (endpoint.name, set(endpoint.filters) - names)
    arthur = [_params(r) for r in captured if vendor_of(r["path"]) == "arthur"]
    scopes = {tuple(v for n, v in p if n == "group_by") for p in arthur}
    assert {("rule_type", "task"), ("rule_type",), ("task",)} <= scopes
    telnyx = {r["path"] for r in captured if r["path"].startswith(("/v2/", "/s3/"))}
    assert any(p.startswith("/s3/") for p in telnyx), "buckets: auto was not exercised"
    assert {p.rsplit("/", 1)[1] for p in telnyx if p.startswith("/v2/")} == {"api", "storage"}
    anylayer = [r for r in captured if vendor_of(r["path"]) == "anylayer"]
    assert {r["path"] for r in anylayer} == {"/v1/developer/usage", "/api/v1/developer/usage"}
    assert any(n == "keyId" for r in anylayer for n, _ in _params(r))


def test_the_request_checker_rejects_what_the_spec_does_not_allow(
    captured: list[dict[str, str]],
) -> None:
    """Each check can fail: mutate a request the exporter really sent."""

    def first(vendor: str, contains: str = "") -> tuple[str, list[tuple[str, str]]]:
        request = next(
            r for r in captured if vendor_of(r["path"]) == vendor and contains in r["path"]
        )
        return request["path"], _params(request)

    def problems(
        vendor: str, path: str, params: list[tuple[str, str]], method: str = "GET"
    ) -> list[str]:
        return spec.request_problems(vendor, method, path, urllib.parse.urlencode(params))

    path, params = first("openai", "completions")
    assert not problems("openai", path, params)
    without = [p for p in params if p[0] not in ("limit", "bucket_width")]
    mutations = {
        "extra parameter": [*params, ("verbose", "true")],
        "bad enum value": [*params, ("group_by", "organization_id")],
        "a costs-only key on completions": [*params, ("group_by", "line_item")],
        "limit over the 1d maximum": [*without, ("bucket_width", "1d"), ("limit", "32")],
        "limit over the 1h maximum": [*without, ("bucket_width", "1h"), ("limit", "169")],
        "limit over the 1m maximum": [*without, ("bucket_width", "1m"), ("limit", "1441")],
        "brackets instead of repeat": [(n + "[]" if n == "group_by" else n, v) for n, v in params],
        "start_time not an integer": [
            (n, "2026-01-01" if n == "start_time" else v) for n, v in params
        ],
        "required start_time missing": [p for p in params if p[0] != "start_time"],
        "batch not a boolean": [*params, ("batch", "yes")],
        "end_time twice": [*params, ("end_time", "1")],
    }
    for what, mutated in mutations.items():
        assert problems("openai", path, mutated), what
    assert problems("openai", "/v1/organization/usage/nonsense", params)
    assert problems("openai", path, params, method="POST")
    costs_path, costs = first("openai", "costs")
    assert not problems("openai", costs_path, costs)
    assert problems(
        "openai", costs_path, [*[p for p in costs if p[0] != "limit"], ("limit", "181")]
    )
    assert problems("openai", costs_path, [*costs, ("bucket_width", "1h")])

    path, params = first("telnyx", "/usage/api")
    assert not problems("telnyx", path, params)
    assert problems("telnyx", path, [p for p in params if p[0] != "filter[end_time]"])
    assert problems("telnyx", path, [*params, ("filter[bucket]", "x")])
    assert problems("telnyx", path, [(n.replace("filter[", "").rstrip("]"), v) for n, v in params])
    assert problems("telnyx", path, [(n, "yesterday") for n, _ in params])

    path, params = first("openai", "/projects")
    assert not problems("openai", path, params)
    assert problems("openai", path, [*params, ("include_archived", "yes")])
    assert problems("openai", path, [*params, ("status", "active")])
    path, params = first("openai", "/api_keys")
    assert not problems("openai", path, params)
    assert problems(
        "openai", path, [(n, "all" if n == "owner_project_access" else v) for n, v in params]
    )

    path, params = first("arthur", "/tasks/search")
    assert not problems("arthur", path, params, method="POST")
    assert problems("arthur", path, params)  # GET: no such operation
    assert problems("arthur", path, [*params, ("sort", "newest")], method="POST")
    assert problems(
        "arthur", path, [(n, "x" if n == "page_size" else v) for n, v in params], method="POST"
    )

    path, params = first("arthur", "/usage/")
    assert not problems("arthur", path, params)
    assert problems("arthur", path, [*params, ("group_by", "model")])
    assert problems("arthur", path, [*params, ("page_size", "10")])

    path, params = first("anylayer")
    assert not problems("anylayer", path, params)
    assert problems("anylayer", path, [*params, ("timeframe", "2w")])
    assert problems("anylayer", path, [p for p in params if p[0] != "limit"] + [("limit", "1001")])


def test_the_request_log_is_bounded_and_skips_control_calls() -> None:
    import asyncio
    import collections

    from exporter.simulator.app import REQUEST_LOG_SIZE, RequestLog

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])

    log: collections.deque[dict[str, str]] = collections.deque(maxlen=3)
    middleware = RequestLog(app, log)
    for i, path in enumerate(["/v1/a", "/_sim/requests", "/v1/b", "/v1/c", "/v1/d"]):
        scope = {"type": "http", "method": "GET", "path": path, "query_string": f"n={i}".encode()}
        asyncio.run(middleware(scope, None, None))  # type: ignore[arg-type]
    assert seen == ["/v1/a", "/_sim/requests", "/v1/b", "/v1/c", "/v1/d"]  # all passed on
    assert [(r["path"], r["query"]) for r in log] == [
        ("/v1/b", "n=2"),
        ("/v1/c", "n=3"),
        ("/v1/d", "n=4"),
    ]
    assert 1000 <= REQUEST_LOG_SIZE <= 100_000
