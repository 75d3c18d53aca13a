"""The simulator speaks the vendors' specs: every answer it gives, on every endpoint and variant,
validates against the schema the spec declares for that status (draft 2020-12, date-time checked).

Driven over loopback against a real simulator process. Coverage per vendor:

- OpenAI: every endpoint the exporter declares (`exporter.vendors.openai.api.ENDPOINTS`, so a
  new one is covered when it lands), every subset of the group keys it declares for that endpoint
  (the whole powerset: 2^6 = 64 for completions, 8 to 64 elsewhere) on daily buckets, every bucket
  width with every page of a paginated answer (limit 2), the `group_by[]` form the official SDK
  sends (same answer as the repeated form), and every error the simulator sends (429 with and
  without Retry-After, 500/502/503, 400, 401, 403).
- Arthur: every `group_by` (none, each scope, both) over windows of one minute to a day; 422 for
  a bad scope and a bad time; 401, 403, 429, 500.
- Telnyx: both operations for every bucket; 401, 404, 422, 429, 500.
- Anylayer: every timeframe x granularity whose series is at most 2000 points (a covering set:
  `all` and `1y` by the minute are too long to page through here), every page (limit 250), with
  and without a key id; 400 (timeframe, granularity, limit), 401, 404, 429, 500.

Not checked, on purpose: the faults that exist to send what no spec allows (`malformed`,
`truncate`, `reset`, `drift`, `types`, `missing`, `extra`: see exporter/simulator/faults/),
and Telnyx's `copy_obj` category on bucket `backups` (expected as the only departure).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exporter.vendors.anylayer import twin as sim_anylayer
from exporter.vendors.openai import api as openai_api
from exporter.vendors.telnyx import twin as sim_telnyx
from tests.conformance import spec
from tests.harness import Process, http_json, simulator

OPENAI_KEY = "sk-admin-conformance"
OPENAI_PROJECT_KEY = "sk-proj-conformance"  # not an admin key: 403
ARTHUR_KEY, ARTHUR_WEAK_KEY = "arthur-conf", "arthur-weak"
TELNYX_KEY, ANYLAYER_KEY = "KEYconformance01", "zk_prod_conformance"

# Documented envelopes for statuses whose spec declares no schema.
FASTAPI_ERROR = {  # Arthur 401/403 (and faults): FastAPI's HTTPException body, `{"detail": ...}`
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
TELNYX_ERRORS = {  # upstream-apis.md 1d: `{"errors":[{code,title,detail}]}`, 429 quoted verbatim
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                },
                "required": ["code", "title", "detail"],
            },
        }
    },
    "required": ["errors"],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    extra = (
        *(
            "--openai-key",
            f"{OPENAI_KEY}=org-conf",
            "--openai-key",
            f"{OPENAI_PROJECT_KEY}=org-conf",
        ),
        *("--arthur-key", f"{ARTHUR_KEY}=engine-conf"),
        *("--arthur-key", f"{ARTHUR_WEAK_KEY}=engine-conf:TASK-ADMIN"),
        *("--telnyx-key", f"{TELNYX_KEY}=acct-conf", "--anylayer-key", f"{ANYLAYER_KEY}=acct-conf"),
    )
    with simulator(tmp_path_factory.mktemp("sim"), extra=extra) as process:
        yield process


@pytest.fixture(scope="module")
def client(sim: Process) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=30) as c:
        yield c


def call(
    client: httpx.Client, path: str, params: Any = None, key: str = "", method: str = "GET"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.request(method, path, params=params, headers=headers)


def fault(sim: Process, upstream: str, path_contains: str, **kind: Any) -> None:
    body = {"upstream": upstream, "faults": [{"path_contains": path_contains, **kind}]}
    http_json(f"{sim.url}/_sim/faults", method="POST", body=body)


ERROR_FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 429, "retry_after": 3},
    {"kind": "status", "status": 429},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 502},
    {"kind": "status", "status": 503},
)


def assert_conforms(vendor: str, response: httpx.Response, *, envelope: Any = None) -> None:
    """The body validates against the spec's schema for its status; where the spec declares
    none, against `envelope` (the vendor's documented error body), which the caller must give."""
    path = response.request.url.path
    body = response.json()
    try:
        problems = spec.body_problems(vendor, "GET", path, response.status_code, body)
    except LookupError:
        assert envelope is not None, f"{path} {response.status_code}: no schema and no envelope"
        problems = spec.validate(envelope, body)
    assert not problems, (
        f"{path}?{response.request.url.query.decode()} -> {response.status_code}:\n"
        + ("\n".join(problems[:20]))
    )


# -- OpenAI ------------------------------------------------------------------------------------


def _openai_path(endpoint: openai_api.Endpoint) -> str:
    return endpoint.path


def _full_group_by(name: str) -> list[str]:
    """Every key the exporter declares for the endpoint, less costs' `user_id`, which with
    `project_id` may answer 400 (covered in the powerset test)."""
    keys = openai_api.ENDPOINTS[name].group_by
    return [k for k in keys if not (name == "costs" and k == "user_id")]


def _subsets(keys: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for size in range(len(keys) + 1):
        yield from itertools.combinations(keys, size)


@pytest.mark.parametrize("name", sorted(openai_api.ENDPOINTS))
def test_openai_every_group_by_width_and_page(client: httpx.Client, name: str) -> None:
    endpoint = openai_api.ENDPOINTS[name]
    now = int(time.time())
    day = now - now % 86400
    checked = 0
    for keys in _subsets(endpoint.group_by):
        params = {"start_time": day - 86400, "end_time": now, "bucket_width": "1d"}
        response = call(
            client, endpoint.path, [*params.items(), *(("group_by", k) for k in keys)], OPENAI_KEY
        )
        if name == "costs" and {"user_id", "project_id"} <= set(keys):
            # documented (package docstring): this combination may answer 400
            assert response.status_code in (200, 400), response.text
            assert_conforms("openai", response, envelope=spec.load("openai")["generic_error"])
            continue
        assert response.status_code == 200, response.text
        assert_conforms("openai", response)
        checked += 1
    widths = ("1d",) if name in ("costs",) else ("1m", "1h", "1d")
    for width in widths:
        span = {"1m": 60, "1h": 3600, "1d": 86400}[width]
        start = now - now % span - 4 * span
        query = [
            ("start_time", str(start)),
            ("end_time", str(now)),
            ("bucket_width", width),
            ("limit", "2"),
            *(("group_by", k) for k in _full_group_by(name)),
        ]
        pages = 0
        while True:
            response = call(client, endpoint.path, query, OPENAI_KEY)
            assert response.status_code == 200, response.text
            assert_conforms("openai", response)
            pages += 1
            page = response.json()
            if not page["has_more"]:
                break
            assert pages < 10, "pagination does not end"
            query = [p for p in query if p[0] != "page"] + [("page", page["next_page"])]
        assert pages >= 2, f"{width}: expected a paginated answer"
        checked += pages
    assert checked >= 2 ** (len(endpoint.group_by) - 1)


@pytest.mark.parametrize("name", sorted(openai_api.ENDPOINTS))
def test_openai_accepts_the_sdks_bracket_form(client: httpx.Client, name: str) -> None:
    endpoint = openai_api.ENDPOINTS[name]
    now = int(time.time())
    base = [("start_time", str(now - now % 86400 - 2 * 86400)), ("end_time", str(now))]
    repeated = call(
        client, endpoint.path, [*base, *(("group_by", k) for k in _full_group_by(name))], OPENAI_KEY
    )
    brackets = call(
        client,
        endpoint.path,
        [*base, *(("group_by[]", k) for k in _full_group_by(name))],
        OPENAI_KEY,
    )
    assert repeated.status_code == brackets.status_code == 200
    assert_conforms("openai", brackets)
    grouped = {
        k
        for bucket in brackets.json()["data"]
        for result in bucket["results"]
        for k in endpoint.group_by
        if result.get(k) is not None
    }
    assert grouped, "the bracket form was ignored: no result carries a group key"
    assert repeated.json()["data"][0] == brackets.json()["data"][0]  # two days ago: final


@pytest.mark.parametrize("name", ["completions", "costs", "vector_stores"])
def test_openai_errors(sim: Process, client: httpx.Client, name: str) -> None:
    endpoint = openai_api.ENDPOINTS[name]
    generic = spec.load("openai")["generic_error"]
    params = {"start_time": int(time.time()) - 86400}
    for kind in ERROR_FAULTS:
        fault(sim, "openai", endpoint.path, **kind)
        response = call(client, endpoint.path, params, OPENAI_KEY)
        assert response.status_code == kind["status"]
        # the spec declares 429 (ErrorResponse, Retry-After integer >= 1) and nothing for 5xx:
        # 5xx bodies are checked against the same generic ErrorResponse
        assert_conforms("openai", response, envelope=generic)
        if "retry_after" in kind:
            assert int(response.headers["Retry-After"]) >= 1
    bad = [
        (call(client, endpoint.path, params, "sk-admin-unknown"), 401),
        (call(client, endpoint.path, params, OPENAI_PROJECT_KEY), 403),
        (call(client, endpoint.path, {**params, "group_by": "nonsense"}, OPENAI_KEY), 400),
        (call(client, endpoint.path, {"end_time": 1}, OPENAI_KEY), 400),
    ]
    for response, status in bad:
        assert response.status_code == status, response.text
        # undeclared by the spec (only 200 and 429 are): the generic ErrorResponse it declares
        assert_conforms("openai", response, envelope=generic)


# -- Arthur ------------------------------------------------------------------------------------

ARTHUR = "/api/v2/usage/tokens"


def _iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_arthur_every_group_by_and_window(client: httpx.Client) -> None:
    now = int(time.time())
    hour = now - now % 3600
    for keys in ((), ("rule_type",), ("task",), ("rule_type", "task"), ("task", "rule_type")):
        for start, end in ((hour - 60, hour), (hour - 3600, hour), (hour - 86400, hour + 3600)):
            params = [("start_time", _iso(start)), ("end_time", _iso(end))]
            response = call(client, ARTHUR, [*params, *(("group_by", k) for k in keys)], ARTHUR_KEY)
            assert response.status_code == 200, response.text
            assert_conforms("arthur", response)
    assert response.json(), "no usage rows: the check saw nothing"


def test_arthur_errors(sim: Process, client: httpx.Client) -> None:
    for params in ({"group_by": "model"}, {"start_time": "yesterday"}):
        response = call(client, ARTHUR, params, ARTHUR_KEY)
        assert response.status_code == 422
        assert_conforms("arthur", response)  # declared: HTTPValidationError
    for key, status in (("nobody", 401), (ARTHUR_WEAK_KEY, 403)):
        response = call(client, ARTHUR, {}, key)
        assert response.status_code == status
        # undeclared by the spec: FastAPI's `{"detail": "..."}` (upstream-apis.md section 3)
        assert_conforms("arthur", response, envelope=FASTAPI_ERROR)
    for kind in ERROR_FAULTS:
        fault(sim, "arthur", ARTHUR, **kind)
        response = call(client, ARTHUR, {}, ARTHUR_KEY)
        assert response.status_code == kind["status"]
        assert_conforms("arthur", response, envelope=FASTAPI_ERROR)


# -- Telnyx ------------------------------------------------------------------------------------


def _telnyx_filter(start: int, end: int) -> dict[str, str]:
    return {"filter[start_time]": _iso(start), "filter[end_time]": _iso(end)}


@pytest.mark.parametrize("bucket", sorted(sim_telnyx.BUCKETS))
def test_telnyx_both_operations(client: httpx.Client, bucket: str) -> None:
    now = int(time.time())
    api = call(
        client,
        f"/v2/storage/buckets/{bucket}/usage/api",
        _telnyx_filter(now - 12 * 3600, now),
        TELNYX_KEY,
    )
    assert api.status_code == 200 and api.json()["data"]
    off_spec = sim_telnyx.OFF_SPEC_CATEGORIES.get(bucket, frozenset())
    problems = spec.body_problems("telnyx", "GET", api.request.url.path, 200, api.json())
    expected = {
        f"[spec] data/{i}/categories/{j}/category: {c['category']!r} is not one of"
        for i, point in enumerate(api.json()["data"])
        for j, c in enumerate(point["categories"])
        if c["category"] in off_spec
    }
    # the only departure is the deliberate one: a category the spec's enum does not list
    assert {p.split(" [")[0] for p in problems} == expected
    storage = call(client, f"/v2/storage/buckets/{bucket}/usage/storage", None, TELNYX_KEY)
    assert storage.status_code == 200
    assert_conforms("telnyx", storage)


def test_telnyx_errors(sim: Process, client: httpx.Client) -> None:
    now = int(time.time())
    api = "/v2/storage/buckets/app-logs/usage/api"
    cases = [
        (call(client, api, _telnyx_filter(now - 3600, now), "KEYnobody"), 401),
        (
            call(
                client,
                "/v2/storage/buckets/nope/usage/api",
                _telnyx_filter(now - 3600, now),
                TELNYX_KEY,
            ),
            404,
        ),
        (call(client, api, {"filter[start_time]": _iso(now)}, TELNYX_KEY), 422),
        (
            call(
                client,
                api,
                {**_telnyx_filter(now - 3600, now), "filter[end_time]": "soon"},
                TELNYX_KEY,
            ),
            422,
        ),
        (call(client, "/v2/storage/buckets/nope/usage/storage", None, TELNYX_KEY), 404),
    ]
    for kind in ERROR_FAULTS:
        fault(sim, "telnyx", "/usage/", **kind)
        cases.append(
            (call(client, api, _telnyx_filter(now - 3600, now), TELNYX_KEY), kind["status"])
        )
    for response, status in cases:
        assert response.status_code == status, response.text
        # 401/404/422 are declared without a schema, 429/5xx not at all: the documented envelope
        assert_conforms("telnyx", response, envelope=TELNYX_ERRORS)


# -- Anylayer ----------------------------------------------------------------------------------

ANYLAYER = "/v1/developer/usage"


def _anylayer_variants() -> Iterator[tuple[str, str]]:
    for timeframe, span in sim_anylayer.TIMEFRAMES.items():
        for granularity, width in sim_anylayer.GRANULARITIES.items():
            points = (span or 61 * 86400) / (width or 30 * 86400)
            if 1 <= points <= 2000:
                yield timeframe, granularity


def test_anylayer_every_timeframe_granularity_and_page(client: httpx.Client) -> None:
    variants = list(_anylayer_variants())
    assert len(variants) >= 20
    for (timeframe, granularity), key in itertools.product(variants, (None, *sim_anylayer.KEYS)):
        if key is not None and granularity != "hour":
            continue
        params = {"timeframe": timeframe, "granularity": granularity, "limit": 250}
        if key:
            params["keyId"] = key
        offset, pages = 0, 0
        while True:
            response = call(client, ANYLAYER, {**params, "offset": offset}, ANYLAYER_KEY)
            assert response.status_code == 200, response.text
            assert_conforms("anylayer", response)
            pages += 1
            body = response.json()
            if not body["pagination"]["hasMore"]:
                break
            offset += len(body["timeSeries"])
            assert pages < 60
    prefixed = call(
        client, "/api" + ANYLAYER, {"timeframe": "1h", "granularity": "minute"}, ANYLAYER_KEY
    )
    assert_conforms("anylayer", prefixed)


def test_anylayer_errors(sim: Process, client: httpx.Client) -> None:
    cases = [
        (call(client, ANYLAYER, {"timeframe": "2w"}, ANYLAYER_KEY), 400),
        (call(client, ANYLAYER, {"granularity": "second"}, ANYLAYER_KEY), 400),
        (call(client, ANYLAYER, {"limit": 5000}, ANYLAYER_KEY), 400),
        (call(client, ANYLAYER, {}, "zk_prod_nobody"), 401),
        (call(client, ANYLAYER, {"keyId": "key_missing"}, ANYLAYER_KEY), 404),
    ]
    for kind in ERROR_FAULTS:
        fault(sim, "anylayer", ANYLAYER, **kind)
        cases.append((call(client, ANYLAYER, {}, ANYLAYER_KEY), kind["status"]))
    for response, status in cases:
        assert response.status_code == status, response.text
        assert_conforms("anylayer", response)  # the documented error envelope


# -- the checks can fail -----------------------------------------------------------------------


def test_the_body_validator_rejects_mutated_bodies(client: httpx.Client) -> None:
    now = int(time.time())
    response = call(
        client,
        openai_api.ENDPOINTS["completions"].path,
        [("start_time", now - 86400), ("group_by", "model")],
        OPENAI_KEY,
    )
    body = response.json()
    assert not spec.body_problems("openai", "GET", response.request.url.path, 200, body)
    result = next(r for b in body["data"] for r in b["results"])
    mutations = {
        "wrong type": lambda r: r.update(input_tokens="12"),
        "missing required": lambda r: r.pop("num_model_requests"),
        "unknown object": lambda r: r.update(object="organization.usage.nonsense.result"),
    }
    for what, mutate in mutations.items():
        saved = dict(result)
        mutate(result)
        assert spec.body_problems("openai", "GET", response.request.url.path, 200, body), what
        result.clear()
        result.update(saved)
    body.pop("next_page")
    assert any(
        "next_page" in p
        for p in spec.body_problems("openai", "GET", response.request.url.path, 200, body)
    )
    telnyx = {"data": [{"timestamp": "yesterday", "categories": [], "total": {}}]}
    assert spec.body_problems("telnyx", "GET", "/v2/storage/buckets/b/usage/api", 200, telnyx)
    anylayer = call(
        client, ANYLAYER, {"timeframe": "1h", "granularity": "minute"}, ANYLAYER_KEY
    ).json()
    del anylayer["usage"]["peakRequestsPerHour"]
    assert spec.body_problems("anylayer", "GET", ANYLAYER, 200, anylayer)
    arthur = [{"rule_type": "PIIDataRule", "count": {"inference": 1}}]
    assert spec.body_problems("arthur", "GET", ARTHUR, 200, arthur)


# -- names and limits --------------------------------------------------------------------------

ADMIN_LISTS = (
    "/v1/organization/projects",
    "/v1/organization/users",
    "/v1/organization/spend_alerts",
    "/v1/organization/projects/proj_alpha/api_keys",
    "/v1/organization/projects/proj_alpha/spend_alerts",
    "/v1/organization/projects/proj_alpha/rate_limits",
)


@pytest.mark.parametrize("path", ADMIN_LISTS)
def test_openai_names_and_limits_every_page(client: httpx.Client, path: str) -> None:
    params: dict[str, Any] = {"limit": 2}
    if path.endswith("/projects"):
        params["include_archived"] = "true"
    if path.endswith("/api_keys"):
        params["owner_project_access"] = "any"
    pages = items = 0
    while True:
        response = call(client, path, params, OPENAI_KEY)
        assert response.status_code == 200, response.text
        assert_conforms("openai", response)
        body = response.json()
        pages += 1
        items += len(body["data"])
        if not body["has_more"]:
            break
        params["after"] = body["last_id"]
        assert pages < 20
    assert items, f"{path}: nothing listed: the check saw nothing"


def test_openai_spend_limits_and_errors(client: httpx.Client) -> None:
    generic = spec.load("openai")["generic_error"]
    for path in (
        "/v1/organization/spend_limit",
        "/v1/organization/projects/proj_beta/spend_limit",
    ):
        response = call(client, path, None, OPENAI_KEY)
        assert response.status_code == 200
        assert_conforms("openai", response)
    cases = [
        (call(client, "/v1/organization/projects", None, OPENAI_PROJECT_KEY), 403),
        (call(client, "/v1/organization/users", None, "sk-admin-unknown"), 401),
        (call(client, "/v1/organization/projects/proj_nope/rate_limits", None, OPENAI_KEY), 404),
        (call(client, "/v1/organization/projects", {"limit": 500}, OPENAI_KEY), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert_conforms("openai", response, envelope=generic)


def test_arthur_task_search_every_page(client: httpx.Client) -> None:
    path = "/api/v2/tasks/search"
    seen: list[str] = []
    for page in range(10):
        response = client.post(
            path,
            params={"page": page, "page_size": 1, "sort": "asc"},
            json={"include_archived": True},
            headers={"Authorization": f"Bearer {ARTHUR_KEY}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        problems = spec.body_problems("arthur", "POST", path, 200, body)
        assert not problems, problems
        seen += [t["id"] for t in body["tasks"]]
        if len(seen) >= body["count"]:
            break
    assert len(seen) == len(set(seen)) >= 3
    request_schema = spec.load("arthur")["operations"]["search_tasks_api_v2_tasks_search_post"][
        "request_body"
    ]
    assert not spec.validate(request_schema, {"include_archived": True})  # what the exporter sends
    assert spec.validate(request_schema, {"include_archived": "yes"})  # the check can fail
    bad = client.post(
        path,
        params={"page_size": 0},
        json={},
        headers={"Authorization": f"Bearer {ARTHUR_KEY}"},
    )
    assert bad.status_code == 400
    assert not spec.validate(FASTAPI_ERROR, bad.json())
    broken = {"count": 1, "tasks": [{"id": "t", "name": "n", "created_at": 1}]}  # no rules
    assert spec.body_problems("arthur", "POST", path, 200, broken)
