"""The official `openai` package (pinned in the test extra) reads the simulator: every usage
endpoint and costs, every page, into its typed models, and no model carries a field the package
does not know. The package sends arrays as `group_by[]=` (brackets), the exporter repeats
`group_by=`: the simulator answers both the same (tests/conformance checks the bodies)."""

from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from exporter.vendors.openai import api as openai_api
from tests.harness import http_json, simulator

if os.environ.get("CI"):
    import openai  # the test extra installs it: missing in CI is a failure, not a skip
else:
    openai = pytest.importorskip("openai", reason="pip install '.[test]' installs the SDK")

KEY = "sk-admin-sdk-test"


def _extra_fields(model: Any, where: str) -> list[str]:
    """Fields the package's model did not declare, on this model and every model inside it."""
    found = [f"{where}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if hasattr(item, "model_extra"):
                found += _extra_fields(item, f"{where}.{name}[{i}]")
    return found


def test_the_sdk_reads_every_endpoint_and_page_into_its_models(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-sdk")) as sim:
        client = openai.OpenAI(
            admin_api_key=KEY, api_key="unused", base_url=f"{sim.url}/v1", max_retries=0
        )
        usage = client.admin.organization.usage
        now = int(time.time())
        start = now - now % 86400 - 2 * 86400
        pages_read, results_read = 0, 0
        for name, endpoint in sorted(openai_api.ENDPOINTS.items()):
            method = getattr(usage, name)  # a new endpoint the SDK lacks fails here, loudly
            keys = [k for k in endpoint.group_by if not (name == "costs" and k == "user_id")]
            page: str | None = None
            pages = 0
            while True:
                kwargs: dict[str, Any] = {"start_time": start, "end_time": now, "limit": 1}
                if keys:
                    kwargs["group_by"] = keys
                if name not in ("costs",):
                    kwargs["bucket_width"] = "1d"
                if page:
                    kwargs["page"] = page
                answer = method(**kwargs)
                pages += 1
                assert not _extra_fields(answer, name), _extra_fields(answer, name)
                for bucket in answer.data:
                    for result in bucket.results:
                        assert result.object == endpoint.result_object, (name, result.object)
                        results_read += 1
                if not answer.has_more:
                    break
                assert pages < 10, f"{name}: pagination does not end"
                page = answer.next_page
            assert pages == 3, f"{name}: {pages} pages for three daily buckets at limit=1"
            pages_read += pages
        client.close()
        sent = http_json(f"{sim.url}/_sim/requests")["requests"]
    assert pages_read == 3 * len(openai_api.ENDPOINTS)
    assert results_read > 0
    brackets = [r for r in sent if "group_by%5B%5D=" in r["query"] or "group_by[]=" in r["query"]]
    assert brackets, "the SDK did not send group_by[]: the bracket form went untested"
    grouped = urllib.parse.parse_qs(brackets[0]["query"])
    assert "group_by[]" in grouped


def test_a_field_the_package_does_not_know_is_seen() -> None:
    """The check can fail: a body with an unknown field leaves it in model_extra."""
    from openai.types.admin.organization.usage_completions_response import (
        UsageCompletionsResponse,
    )

    body = {
        "object": "page",
        "has_more": False,
        "next_page": None,
        "data": [
            {
                "object": "bucket",
                "start_time": 0,
                "end_time": 86400,
                "results": [
                    {
                        "object": "organization.usage.completions.result",
                        "input_tokens": 1,
                        "output_tokens": 1,
                        "num_model_requests": 1,
                        "input_cache_write_1y_tokens": 5,
                    }
                ],
            }
        ],
    }
    model = UsageCompletionsResponse.model_validate(body)
    assert _extra_fields(model, "completions") == [
        "completions.data[0].results[0].input_cache_write_1y_tokens"
    ]
