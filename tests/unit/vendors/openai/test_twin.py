"""The OpenAI simulator speaks the API consistently: widths agree, pages add up, truth equals
what the API reports, late data arrives late, and faults do what they say."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from exporter.simulator.app import SimulatorConfig, create_app

KEY = "sk-admin-unit-test-key"
NOW = 1_763_900_000 - 1_763_900_000 % 3600 + 1800  # half past an hour
START = NOW - 3 * 86400


def client(**config: Any) -> httpx.AsyncClient:
    app = create_app(
        SimulatorConfig(
            seed=3, keys={"openai": {KEY: "org-u", "sk-proj-x": "org-u"}}, start=START, **config
        )
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim",
        headers={"Authorization": f"Bearer {KEY}"},
    )


async def freeze(c: httpx.AsyncClient, at: int = NOW) -> None:
    await c.post("/_sim/clock", json={"freeze": True, "at": at})


async def pages(c: httpx.AsyncClient, path: str, params: list[tuple[str, Any]]) -> list[Any]:
    buckets: list[Any] = []
    cursor = None
    for _ in range(100):
        query = params + ([("page", cursor)] if cursor else [])
        body = (await c.get(path, params=query)).json()
        buckets += body["data"]
        if not body["has_more"]:
            return buckets
        cursor = body["next_page"]
    raise AssertionError("pagination did not end")


def totals(buckets: list[Any], field: str, key: str = "model") -> dict[Any, float]:
    out: dict[Any, float] = {}
    for bucket in buckets:
        for result in bucket["results"]:
            out[result.get(key)] = out.get(result.get(key), 0) + result[field]
    return out


async def test_widths_agree_and_pages_add_up() -> None:
    async with client() as c:
        await freeze(c)
        day = NOW - NOW % 86400 - 86400
        common = [("start_time", str(day)), ("end_time", str(day + 86400)), ("group_by", "model")]
        path = "/v1/organization/usage/completions"
        daily = await pages(c, path, [*common, ("bucket_width", "1d")])
        hourly = await pages(c, path, [*common, ("bucket_width", "1h"), ("limit", "5")])
        minutes = await pages(c, path, [*common, ("bucket_width", "1m"), ("limit", "1440")])
        assert len(daily) == 1 and len(hourly) == 24 and len(minutes) == 1440
        assert (
            totals(daily, "input_tokens")
            == totals(hourly, "input_tokens")
            == totals(minutes, "input_tokens")
        )
        assert totals(daily, "input_tokens"), "there is usage"
        for bucket in hourly:
            for r in bucket["results"]:
                assert r["object"] == "organization.usage.completions.result"
                assert r["input_cached_tokens"] <= r["input_tokens"]
                assert r["project_id"] is None and r["batch"] is None


async def test_truth_equals_the_sum_of_what_the_api_reports() -> None:
    async with client() as c:
        await freeze(c)
        start = NOW - NOW % 3600 - 30 * 3600
        for endpoint, path, width, field in (
            ("completions", "/v1/organization/usage/completions", "1h", "output_tokens"),
            ("costs", "/v1/organization/costs", "1d", None),
        ):
            keys = (
                ["project_id", "model"]
                if endpoint == "completions"
                else ["project_id", "line_item"]
            )
            begin = start if width == "1h" else start - start % 86400
            params = [
                ("start_time", str(begin)),
                ("bucket_width", width),
                ("end_time", str(NOW + 86400)),
            ] + [("group_by", k) for k in keys]
            buckets = await pages(c, path, params)
            reported: dict[tuple[Any, ...], float] = {}
            for b in buckets:
                for r in b["results"]:
                    k = tuple(r[x] for x in keys)
                    v = r["amount"]["value"] if field is None else r[field]
                    reported[k] = reported.get(k, 0) + v
            query: list[tuple[str, Any]] = [
                ("org", "org-u"),
                ("endpoint", endpoint),
                ("start", str(begin)),
            ] + [("group_by", k) for k in keys]
            truth = (await c.get("/_sim/openai/truth", params=query)).json()["rows"]
            expected = {
                tuple(row["group"][x] for x in keys): (
                    row["values"]["amount"] if field is None else row["values"][field]
                )
                for row in truth
            }
            assert set(expected) == set(reported)
            for k, v in expected.items():
                assert reported[k] == pytest.approx(v, rel=1e-12), (endpoint, k)


async def test_a_closed_bucket_rises_until_late_data_is_in() -> None:
    async with client(late_seconds=180) as c:
        hour = NOW - NOW % 3600
        params: list[tuple[str, Any]] = [
            ("start_time", str(hour - 3600)),
            ("end_time", str(hour)),
            ("bucket_width", "1h"),
        ]
        values = []
        for t in (hour, hour + 60, hour + 180, hour + 600):
            await freeze(c, t)
            data = (await c.get("/v1/organization/usage/embeddings", params=params)).json()
            values.append(sum(r["input_tokens"] for r in data["data"][0]["results"]))
        assert values[0] < values[2] and values[2] == values[3], values


async def test_auth_and_bad_parameters() -> None:
    async with client() as c:
        path = "/v1/organization/usage/completions"
        r = await c.get(path, params={"start_time": 1}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and "nope" not in r.text.replace("***", "")
        r = await c.get(
            path, params={"start_time": 1}, headers={"Authorization": "Bearer sk-proj-x"}
        )
        assert r.status_code == 403 and "api.usage.read" in r.text
        refused: tuple[tuple[dict[str, Any], str], ...] = (
            ({}, "start_time"),
            ({"start_time": 1, "limit": 999}, "limit"),
            ({"start_time": 1, "group_by": "size"}, "group_by"),
            ({"start_time": 1, "page": "!!"}, "page"),
        )
        for params, param in refused:
            r = await c.get(path, params=params)
            assert r.status_code == 400 and r.json()["error"]["param"] == param
        r = await c.get("/v1/organization/costs", params={"start_time": 1, "bucket_width": "1h"})
        assert r.status_code == 400


async def test_group_by_bracket_spelling_is_the_same() -> None:
    async with client() as c:
        await freeze(c)
        base = [("start_time", str(NOW - 7200)), ("bucket_width", "1h")]
        a = await c.get("/v1/organization/usage/images", params=[*base, ("group_by", "size")])
        b = await c.get("/v1/organization/usage/images", params=[*base, ("group_by[]", "size")])
        assert a.json() == b.json() and a.json()["data"][0]["results"][0]["size"]


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (
            {"kind": "status", "status": 429, "retry_after": 3},
            lambda r: r.status_code == 429 and r.headers["retry-after"] == "3",
        ),
        ({"kind": "status", "status": 503}, lambda r: r.status_code == 503),
        ({"kind": "truncate"}, lambda r: r.status_code == 200 and not _json(r.content)),
        ({"kind": "malformed"}, lambda r: r.status_code == 200 and not _json(r.content)),
        ({"kind": "drift"}, lambda r: "x_added_in_a_future_version" in r.text),
    ],
)
async def test_faults_are_consumed_once(fault: dict[str, Any], check: Any) -> None:
    async with client() as c:
        await c.post("/_sim/faults", json={"upstream": "openai", "faults": [fault]})
        params: dict[str, Any] = {"start_time": NOW - 7200, "bucket_width": "1h"}
        first = await c.get("/v1/organization/usage/embeddings", params=params)
        second = await c.get("/v1/organization/usage/embeddings", params=params)
        assert check(first)
        assert second.status_code == 200 and _json(second.content)
        stats = (await c.get("/_sim/stats")).json()
        assert stats["faults_injected"] == {fault["kind"]: 1}


async def test_page_error_only_hits_a_cursor_request() -> None:
    async with client(max_page_buckets=2) as c:
        await c.post("/_sim/faults", json={"faults": [{"kind": "page_error"}]})
        params: list[tuple[str, Any]] = [
            ("start_time", str(NOW - 5 * 3600)),
            ("bucket_width", "1h"),
        ]
        first = await c.get("/v1/organization/usage/moderations", params=params)
        assert first.status_code == 200 and first.json()["has_more"]
        nxt = await c.get(
            "/v1/organization/usage/moderations",
            params=[*params, ("page", first.json()["next_page"])],
        )
        assert nxt.status_code == 500


def _json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


# -- the API as it is today --------------------------------------------------------------------


async def test_decisions_and_the_cache_write_split_add_up() -> None:
    async with client(late_seconds=120) as c:
        await freeze(c)
        start = NOW - NOW % 3600 - 6 * 3600
        seen_split = 0
        for endpoint in ("completions", "decisions"):
            params = [
                ("start_time", str(start)),
                ("bucket_width", "1h"),
                ("group_by", "model"),
                ("group_by", "api_source"),
            ]
            buckets = await pages(c, f"/v1/organization/usage/{endpoint}", params)
            for b in buckets:
                for r in b["results"]:
                    assert r["object"] == f"organization.usage.{endpoint}.result"
                    assert r["api_source"] in ("agents_api", "unlabeled")
                    assert (
                        r["input_cache_write_12h_tokens"] + r["input_cache_write_30m_tokens"]
                        == r["input_cache_write_tokens"]
                    )
                    seen_split += r["input_cache_write_12h_tokens"] > 0
                    seen_split += r["input_cache_write_30m_tokens"] > 0
            if endpoint == "decisions":
                models = {r["model"] for b in buckets for r in b["results"]}
                assert models == {"gpt-6-luna"}
            sources = {r["api_source"] for b in buckets for r in b["results"]}
            assert sources == {"agents_api", "unlabeled"}, endpoint
        assert seen_split > 10
        # without grouping by api_source the field is there and null
        body = (
            await c.get(
                "/v1/organization/usage/decisions",
                params={"start_time": start, "bucket_width": "1h"},
            )
        ).json()
        results = [r for b in body["data"] for r in b["results"]]
        assert results and all(r["api_source"] is None for r in results)


async def test_cost_quantities_follow_their_line_items() -> None:
    from exporter.vendors.openai.twin.catalogue import LINE_ITEMS

    async with client() as c:
        await freeze(c)
        day = NOW - NOW % 86400 - 2 * 86400
        base = [("start_time", str(day)), ("end_time", str(NOW)), ("bucket_width", "1d")]
        grouped = await pages(
            c,
            "/v1/organization/costs",
            [*base, ("group_by", "line_item"), ("group_by", "api_source")],
        )
        items = set()
        for b in grouped:
            for r in b["results"]:
                unit, price = LINE_ITEMS[r["line_item"]]
                assert r["quantity_unit"] == unit and r["api_source"] in ("agents_api", "unlabeled")
                assert r["quantity"] * price == round(r["amount"]["value"] * 1e6)
                items.add(r["line_item"])
        assert items == set(LINE_ITEMS)
        ungrouped = await pages(c, "/v1/organization/costs", [*base, ("group_by", "project_id")])
        results = [r for b in ungrouped for r in b["results"]]
        assert results and all(
            r["quantity"] is None and r["quantity_unit"] is None for r in results
        )
        by_user = await pages(c, "/v1/organization/costs", [*base, ("group_by", "user_id")])
        assert {r["user_id"] for b in by_user for r in b["results"]} == {"user-ana", "user-bo"}


async def test_costs_by_user_with_project_is_refused_with_400() -> None:
    async with client() as c:
        path = "/v1/organization/costs"
        refused: tuple[list[tuple[str, Any]], ...] = (
            [("start_time", "1"), ("group_by", "user_id"), ("group_by", "project_id")],
            [("start_time", "1"), ("group_by", "user_id"), ("project_ids", "proj_alpha")],
        )
        for params in refused:
            r = await c.get(path, params=params)
            assert r.status_code == 400, params
            error = r.json()["error"]
            assert error["param"] == "group_by" and "user_id" in error["message"]
        r = await c.get(path, params=[("start_time", "1"), ("group_by", "user_id")])
        assert r.status_code == 200


def test_a_revised_part_moves_the_cache_write_total_with_it() -> None:
    from exporter.vendors.openai.twin.catalogue import ENDPOINTS, field_of
    from exporter.vendors.openai.twin.usage import ROWS, OpenAIUsage

    usage = OpenAIUsage(seed=3, usage_start=START, late=60)
    spec = ENDPOINTS["decisions"]
    row = ROWS["decisions"][1]
    total, h12, m30 = (
        field_of(spec, f"input_cache_write{part}_tokens") for part in ("", "_12h", "_30m")
    )
    hour = NOW - NOW % 3600 - 3600

    def values() -> tuple[int, ...]:
        return tuple(
            int(usage.value("org-u", spec, row, f, hour, hour + 3600, NOW))
            for f in (total, h12, m30)
        )

    before = values()
    assert before[0] == before[1] + before[2]
    usage.revisions.add(("org-u", "decisions", row.index, h12.name), hour + 600, 7)
    after = values()
    assert after == (before[0] + 7, before[1] + 7, before[2])
