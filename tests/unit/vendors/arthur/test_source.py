"""The Arthur source: aligned windows with both bounds, current fields before deprecated ones,
null task ids, and the role hint on 403."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from exporter.model import Source, Window
from exporter.upstream import UpstreamError
from exporter.vendors.arthur import PLUGIN
from exporter.vendors.arthur.source import ArthurSource
from tests.fakes import Answers, make_source


def source(handler: Answers, **config: Any) -> Source:
    """The usage source alone (not the task names read beside it)."""
    return make_source(PLUGIN, handler, ArthurSource, **config)


async def test_windows_send_both_bounds_and_parse_rows() -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(parse_qs(urlsplit(str(request.url)).query))
        return httpx.Response(
            200,
            json=[
                {
                    "rule_type": "PIIDataRule",
                    "task_id": None,
                    "count": {
                        "inference": 10,
                        "eval_prompt": 0,
                        "eval_completion": 0,
                        "user_input": 999,
                        "prompt": 0,
                        "completion": 0,
                    },
                },
                {
                    "rule_type": "KeywordRule",
                    "task_id": "t1",
                    "count": {"user_input": 7, "prompt": 1, "completion": 2, "brand_new": 5},
                },
            ],
        )

    src = source(handler, window="15m", group_by=["task", "rule_type"])
    stream = (await src.streams())[0]
    read = await src.read(stream, Window(0, 1800))
    assert sorted(q["start_time"][0] for q in seen) == [
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:15:00Z",
    ]
    assert all(q["end_time"] and q["group_by"] == ["task", "rule_type"] for q in seen)
    flows = {(f.family, f.labels, f.start): f.value for f in read.flows}
    assert flows[("arthur_inference_tokens_total", ("PIIDataRule", ""), 0)] == 10
    assert flows[("arthur_inference_tokens_total", ("KeywordRule", "t1"), 900)] == 7
    assert flows[("arthur_eval_completion_tokens_total", ("KeywordRule", "t1"), 0)] == 2
    assert read.unknown_fields == 1


async def test_403_names_the_role_to_grant() -> None:
    src = source(lambda r: httpx.Response(403, json={"detail": "Forbidden"}))
    with pytest.raises(UpstreamError, match="ORG-AUDITOR"):
        await src.read((await src.streams())[0], Window(0, 3600))


async def test_422_shows_the_engine_message() -> None:
    body = {"detail": [{"loc": ["query", "start_time"], "msg": "Input should be a valid datetime"}]}
    src = source(lambda r: httpx.Response(422, json=body))
    with pytest.raises(UpstreamError, match=r"query\.start_time: Input should be a valid datetime"):
        await src.read((await src.streams())[0], Window(0, 3600))
