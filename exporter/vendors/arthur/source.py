"""Arthur GenAI Engine token usage (`GET /api/v2/usage/tokens`), as exact counters.

The endpoint has no buckets: it returns one total per `[start_time, end_time)`. This source makes
the buckets itself by asking for aligned windows (`window`, default one hour), always sending
both bounds (an omitted bound means all time to the engine), and re-reading the lookback windows
plus the open one, so late rule results land in the window they belong to.

    # HELP arthur_inference_tokens_total Prompt and response tokens of inferences ...
    # TYPE arthur_inference_tokens_total counter
    arthur_inference_tokens_total{target="guardrails",rule_type="PIIDataRule",
      task_id="7c1e..."} 91170
    # TYPE arthur_eval_prompt_tokens_total counter
    arthur_eval_prompt_tokens_total{target="guardrails",rule_type="ModelHallucinationRuleV2",
      task_id=""} 401222
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from exporter.model import Family, Flow, Kind, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError, gather_all
from exporter.upstream.values import quantity
from exporter.vendors.arthur.config import ArthurConfig

DEFAULT_BASE_URL = "http://localhost:3030"
PATH = "/api/v2/usage/tokens"
DEFAULT_LOOKBACK = 3 * 3600
LABELS = ("rule_type", "task_id")
ROLES = "ORG-AUDITOR (read-only), ORG-ADMIN or TENANT-USER"
ERROR_HINTS = {
    401: f"the engine refused the key: use an API key of this engine with the role {ROLES}",
    404: "no usage API at this path: base_url must be the engine's root (e.g. "
    "https://arthur.internal:3030, without /api/v2), and the engine must be 2.1 or later",
}

_ONCE_PER_RULE = (
    " Counted once per rule that evaluated the inference: summing over rule_type counts an "
    "inference once per rule, so do not read that sum as tokens sent to Arthur."
)
FAMILIES: tuple[Family, ...] = (
    Family(
        "arthur_inference_tokens_total",
        Kind.COUNTER,
        "Prompt and response tokens of inferences evaluated by rules of this type and task."
        + _ONCE_PER_RULE,
        LABELS,
    ),
    Family(
        "arthur_eval_prompt_tokens_total",
        Kind.COUNTER,
        "Prompt tokens the engine's LLM-judged rules spent evaluating (eval_prompt).",
        LABELS,
    ),
    Family(
        "arthur_eval_completion_tokens_total",
        Kind.COUNTER,
        "Completion tokens the engine's LLM-judged rules spent evaluating (eval_completion).",
        LABELS,
    ),
)
# current field -> (family, deprecated copy read only when the current one is absent)
_FIELDS = {
    "inference": ("arthur_inference_tokens_total", "user_input"),
    "eval_prompt": ("arthur_eval_prompt_tokens_total", "prompt"),
    "eval_completion": ("arthur_eval_completion_tokens_total", "completion"),
}
_KNOWN_COUNT = frozenset(_FIELDS) | {deprecated for _, deprecated in _FIELDS.values()}


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArthurSource:
    """Reads one Arthur engine (one target) in aligned windows."""

    def __init__(self, config: ArthurConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        width = int(config.window)
        self._stream = Stream(
            "tokens",
            width,
            lookback=max(int(config.lookback or DEFAULT_LOOKBACK), 2 * width),
            backfill=int(config.backfill),
        )

    def __repr__(self) -> str:
        return f"ArthurSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return (self._stream,)

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        starts = range(window.start, window.end, stream.width)
        answers = await gather_all(self._get(s, s + stream.width) for s in starts)
        flows: list[Flow] = []
        unknown: set[str] = set()
        for start, rows in zip(starts, answers, strict=True):
            for row in rows:
                flows += self._row(row, start, start + stream.width, unknown)
        return StreamRead(stream.name, window.start, window.end, flows, unknown_fields=len(unknown))

    async def _get(self, start: int, end: int) -> list[Any]:
        params = [("start_time", iso(start)), ("end_time", iso(end))]
        params += [("group_by", key) for key in self._config.group_by]
        try:
            rows = await self._upstream.get_json("usage/tokens", PATH, params)
        except UpstreamError as err:
            if err.status == 403:
                raise UpstreamError(
                    "usage/tokens",
                    f"403 forbidden: the key lacks the usage-read permission; create one with "
                    f"the role {ROLES} (POST /auth/api_keys/). {err.message}",
                    status=403,
                ) from None
            if err.status == 422:
                raise UpstreamError(
                    "usage/tokens", f"the engine rejected the query: {err.message}", status=422
                ) from None
            raise
        if not isinstance(rows, list):
            raise UpstreamError("usage/tokens", "answer is not a list of token usage rows")
        return rows

    def _row(self, row: Any, start: int, end: int, unknown: set[str]) -> list[Flow]:
        if not isinstance(row, dict) or not isinstance(row.get("count"), dict):
            raise UpstreamError("usage/tokens", "a row is not an object with a count object")
        labels = tuple("" if row.get(k) is None else str(row.get(k)) for k in LABELS)
        unknown.update(k for k in row if k not in ("rule_type", "task_id", "count"))
        count = row["count"]
        unknown.update(f"count.{k}" for k in count if k not in _KNOWN_COUNT)
        flows = []
        for current, (family, deprecated) in _FIELDS.items():
            raw = count.get(current)
            if raw is None:
                raw = count.get(deprecated)
            if raw is None:
                continue
            flows.append(
                Flow(family, labels, start, end, quantity(raw, "usage/tokens", f"count.{current}"))
            )
        return flows
