"""OpenAI organization Usage & Costs API: every usage endpoint and costs, as exact counters.

One stream per endpoint. A read asks for every bucket of the window (following `has_more` /
`next_page` to the end) and turns each result into flows, one per quantity, labelled by the group
keys the endpoint supports. It knows the vendor's JSON and nothing of Prometheus or the ledger.

Exposition (one sample per family; every series also carries `target`):

    # HELP openai_input_tokens_total Input tokens (completions, embeddings, moderations) ...
    # TYPE openai_input_tokens_total counter
    openai_input_tokens_total{target="acme",endpoint="completions",project_id="proj_a",user_id="",
      api_key_id="",model="gpt-4o-mini",batch="false",service_tier=""} 184220
    # TYPE openai_cost_usd_total counter
    openai_cost_usd_total{target="acme",project_id="proj_a",line_item="gpt-4o-mini, input",
      api_key_id=""} 12.34
    # TYPE openai_cost_month_to_date_usd gauge
    openai_cost_month_to_date_usd{target="acme",project_id="proj_a",line_item="...",
      api_key_id=""} 3.2
    # TYPE openai_vector_store_bytes gauge
    openai_vector_store_bytes{target="acme",project_id="proj_a"} 1.048576e+06
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.model import Family, Flow, Kind, Level, Period, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import quantity
from exporter.vendors.openai.config import (
    OPENAI_GROUP_BY,
    OPENAI_OVERRIDE_ONLY,
    OpenAIConfig,
    OpenAIEndpointOverride,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com"
API_VERSION = "/v1"  # part of every path below: a base_url ending in it is cut (cli warns)
ERROR_HINTS = {
    401: "OpenAI refused the key: the Usage and Costs APIs need an Admin key (sk-admin-..., "
    "organization settings > Admin keys); project and user keys are refused",
    403: "the key is not allowed to read this organization's usage: use an Admin key of this "
    "organization (and check `organization`)",
    404: "no such API path: base_url must be the API root without /v1 "
    "(e.g. https://api.openai.com), or the endpoint is not offered there",
}
WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
PAGE_LIMIT = {"1m": 1440, "1h": 168, "1d": 31}  # the API's maximum buckets per page
COSTS_PAGE_LIMIT = 180
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read
DEFAULT_LOOKBACK = {"1m": 15 * 60, "1h": 3 * 3600, "1d": 2 * 86400}
DAY = 86400

MODEL_LABELS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
# `api_source` came later: a label added to an existing family goes at the end of its tuple, so
# the ledger can read series stored before with the new label empty (see CHANGELOG.md).
TOKEN_LABELS = ("endpoint", *MODEL_LABELS, "api_source")
SPEECH_LABELS = ("project_id", "user_id", "api_key_id", "model")
IMAGE_LABELS = ("project_id", "user_id", "api_key_id", "model", "size", "source")
TOOL_LABELS = (
    "tool",
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "vector_store_id",
    "context_level",
    "api_source",
)
COST_LABELS = ("project_id", "line_item", "api_key_id", "api_source", "user_id")
QUANTITY_LABELS = (*COST_LABELS, "quantity_unit")

# Completions token fields, each its own family (a family never mixes a quantity with a part of it).
COMPLETION_TOKEN_FIELDS: dict[str, str] = {
    "input_tokens": "Input tokens, including cached, cache-write, text, audio and image tokens.",
    "output_tokens": "Output tokens, including audio and image output tokens.",
    "input_cached_tokens": "Input tokens served from the prompt cache.",
    "input_audio_tokens": "Audio input tokens.",
    "output_audio_tokens": "Audio output tokens.",
    "input_cache_write_tokens": "Input tokens written to the prompt cache (the sum of the 12h "
    "and 30m families, where the API reports them).",
    "input_cache_write_12h_tokens": "Input tokens written to the prompt cache with a 12-hour "
    "retention period.",
    "input_cache_write_30m_tokens": "Input tokens written to the prompt cache with a 30-minute "
    "retention period.",
    "input_uncached_tokens": "Input tokens not served from the cache, excluding cache writes.",
    "input_text_tokens": "Uncached text input tokens, excluding cache writes.",
    "output_text_tokens": "Text output tokens.",
    "input_cached_text_tokens": "Cached text input tokens.",
    "input_cached_audio_tokens": "Cached audio input tokens.",
    "input_image_tokens": "Image input tokens.",
    "input_cached_image_tokens": "Cached image input tokens.",
    "output_image_tokens": "Image output tokens.",
}


def _token_family(field: str, help_text: str) -> Family:
    scope = (
        "completions, decisions, embeddings and moderations"
        if field == "input_tokens"
        else "completions and decisions"
    )
    return Family(
        f"openai_{field}_total",
        Kind.COUNTER,
        f"{help_text} From the {scope} usage endpoint(s), per bucket as last reported.",
        TOKEN_LABELS,
    )


FAMILIES: tuple[Family, ...] = (
    *(_token_family(f, h) for f, h in COMPLETION_TOKEN_FIELDS.items()),
    Family(
        "openai_model_requests_total",
        Kind.COUNTER,
        "Model requests (num_model_requests) of every usage endpoint that reports them.",
        TOKEN_LABELS,
    ),
    Family(
        "openai_images_total",
        Kind.COUNTER,
        "Images generated, edited or varied (images endpoint).",
        IMAGE_LABELS,
    ),
    Family(
        "openai_audio_characters_total",
        Kind.COUNTER,
        "Characters synthesised to speech (audio_speeches endpoint).",
        SPEECH_LABELS,
    ),
    Family(
        "openai_audio_transcription_seconds_total",
        Kind.COUNTER,
        "Seconds of audio transcribed (audio_transcriptions endpoint).",
        SPEECH_LABELS,
        unit="seconds",
    ),
    Family(
        "openai_code_interpreter_sessions_total",
        Kind.COUNTER,
        "Code interpreter sessions (code_interpreter_sessions endpoint).",
        ("project_id",),
    ),
    Family(
        "openai_tool_calls_total",
        Kind.COUNTER,
        "Built-in tool calls (num_requests of the file_search_calls and web_search_calls "
        "endpoints), by tool.",
        TOOL_LABELS,
    ),
    Family(
        "openai_vector_store_bytes",
        Kind.GAUGE,
        "Bytes stored in vector stores, from the newest daily bucket (vector_stores endpoint).",
        ("project_id",),
        unit="bytes",
    ),
    Family(
        "openai_cost_usd_total",
        Kind.COUNTER,
        "Cost in US dollars (costs endpoint, daily buckets). Use this, not token counts, for "
        "financial figures: OpenAI says usage may not reconcile exactly with costs.",
        COST_LABELS,
        unit="usd",
        history=True,
    ),
    Family(
        "openai_cost_quantity_total",
        Kind.COUNTER,
        "Billed quantity of a cost line item (costs endpoint, daily buckets, reported when "
        "grouped by line_item), in `quantity_unit` as the API names it (e.g. tokens, "
        "1000_tokens, duration_seconds, gibibyte_hours, images, characters; kept verbatim, "
        "empty when the API gives no unit): sum it only within one unit.",
        QUANTITY_LABELS,
        history=True,
    ),
    Family(
        "openai_cost_budget_usd",
        Kind.GAUGE,
        "The monthly budget in US dollars configured for this organization "
        "(`monthly_budget_usd`), for alerts on month-to-date and projected spend.",
        (),
        unit="usd",
    ),
    Family(
        "openai_cost_today_usd",
        Kind.GAUGE,
        "Cost in US dollars so far in the current UTC day (derived from the costs buckets).",
        COST_LABELS,
        unit="usd",
        sums="openai_cost_usd_total",
        period=Period.DAY,
    ),
    Family(
        "openai_cost_month_to_date_usd",
        Kind.GAUGE,
        "Cost in US dollars so far in the current UTC calendar month (derived from the costs "
        "buckets; counting starts at the month's first day on a first start).",
        COST_LABELS,
        unit="usd",
        sums="openai_cost_usd_total",
        period=Period.MONTH,
    ),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one OpenAI endpoint reports and how its results become flows or levels.

    `quantities` maps a result field to its family and the fixed labels it adds (`endpoint`,
    `tool`). The group keys an endpoint accepts are the config's `OPENAI_GROUP_BY[name]`;
    `fields_as_labels` are result fields that are not group keys but become labels where a
    family declares them (`quantity_unit`).
    """

    name: str
    path: str
    filters: tuple[str, ...]
    result_object: str
    quantities: Mapping[str, tuple[str, Mapping[str, str]]]
    level: bool = False
    fields_as_labels: tuple[str, ...] = ()

    @property
    def group_by(self) -> tuple[str, ...]:
        return OPENAI_GROUP_BY[self.name]


_KEY_FILTERS = ("project_ids", "user_ids", "api_key_ids", "models")


def _usage(
    name: str,
    filters: tuple[str, ...],
    quantities: Mapping[str, tuple[str, Mapping[str, str]]],
    result: str = "",
) -> Endpoint:
    return Endpoint(
        name,
        f"/v1/organization/usage/{name}",
        filters,
        f"organization.usage.{result or name}.result",
        quantities,
    )


def _requests(endpoint: str) -> dict[str, tuple[str, Mapping[str, str]]]:
    return {"num_model_requests": ("openai_model_requests_total", {"endpoint": endpoint})}


def _tokens(endpoint: str) -> dict[str, tuple[str, Mapping[str, str]]]:
    return {"input_tokens": ("openai_input_tokens_total", {"endpoint": endpoint})}


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        _usage(
            "completions",
            (*_KEY_FILTERS, "batch"),
            {
                **{
                    f: (f"openai_{f}_total", {"endpoint": "completions"})
                    for f in COMPLETION_TOKEN_FIELDS
                },
                **_requests("completions"),
            },
        ),
        _usage(
            "decisions",
            (*_KEY_FILTERS, "batch"),
            {
                **{
                    f: (f"openai_{f}_total", {"endpoint": "decisions"})
                    for f in COMPLETION_TOKEN_FIELDS
                },
                **_requests("decisions"),
            },
        ),
        _usage("embeddings", _KEY_FILTERS, {**_tokens("embeddings"), **_requests("embeddings")}),
        _usage("moderations", _KEY_FILTERS, {**_tokens("moderations"), **_requests("moderations")}),
        _usage(
            "images",
            (*_KEY_FILTERS, "sources", "sizes"),
            {"images": ("openai_images_total", {}), **_requests("images")},
        ),
        _usage(
            "audio_speeches",
            _KEY_FILTERS,
            {"characters": ("openai_audio_characters_total", {}), **_requests("audio_speeches")},
        ),
        _usage(
            "audio_transcriptions",
            _KEY_FILTERS,
            {
                "seconds": ("openai_audio_transcription_seconds_total", {}),
                **_requests("audio_transcriptions"),
            },
        ),
        Endpoint(
            "vector_stores",
            "/v1/organization/usage/vector_stores",
            ("project_ids",),
            "organization.usage.vector_stores.result",
            {"usage_bytes": ("openai_vector_store_bytes", {})},
            level=True,
        ),
        _usage(
            "code_interpreter_sessions",
            ("project_ids",),
            {"num_sessions": ("openai_code_interpreter_sessions_total", {})},
        ),
        _usage(
            "file_search_calls",
            ("project_ids", "user_ids", "api_key_ids", "vector_store_ids"),
            {"num_requests": ("openai_tool_calls_total", {"tool": "file_search"})},
            result="file_searches",
        ),
        _usage(
            "web_search_calls",
            (*_KEY_FILTERS, "context_levels"),
            {
                "num_requests": ("openai_tool_calls_total", {"tool": "web_search"}),
                **_requests("web_search_calls"),
            },
            result="web_searches",
        ),
        Endpoint(
            "costs",
            "/v1/organization/costs",
            ("project_ids", "api_key_ids"),
            "organization.costs.result",
            {
                "amount": ("openai_cost_usd_total", {}),
                "quantity": ("openai_cost_quantity_total", {}),
            },
            fields_as_labels=("quantity_unit",),
        ),
    )
}

_LABELS_OF = {f.name: f.labels for f in FAMILIES}
# Fields a result may carry that are neither quantities nor group keys, but are known.
_KNOWN_EXTRA = frozenset({"object"})


class OpenAISource:
    """Reads one OpenAI organization (one target)."""

    def __init__(self, config: OpenAIConfig, upstream: Upstream) -> None:
        self._config = config
        self._overrides: dict[str, OpenAIEndpointOverride] = {
            str(k): v for k, v in config.overrides.items()
        }
        self._upstream = upstream
        self._streams = tuple(self._stream(name) for name in config.endpoints)

    def __repr__(self) -> str:
        return f"OpenAISource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    def _width_name(self, endpoint: str) -> str:
        return "1d" if endpoint in ("costs", "vector_stores") else str(self._config.bucket_width)

    def _stream(self, endpoint: str) -> Stream:
        width_name = self._width_name(endpoint)
        width = WIDTHS[width_name]
        override = self._overrides.get(endpoint)
        lookback = (override.lookback if override and override.lookback else None) or (
            self._config.lookback or DEFAULT_LOOKBACK[width_name]
        )
        if endpoint == "vector_stores":  # a level: only the newest buckets matter
            return Stream(endpoint, 0, 0, 0)
        return Stream(
            endpoint,
            width,
            lookback=max(int(lookback), 2 * width),
            backfill=int(self._config.backfill),
            month_origin=endpoint == "costs",
        )

    def group_by(self, endpoint: str) -> tuple[str, ...]:
        """The configured keys this endpoint supports (or its override, as given)."""
        spec = ENDPOINTS[endpoint]
        override = self._overrides.get(endpoint)
        if override is not None and override.group_by is not None:
            return tuple(override.group_by)
        only_override = OPENAI_OVERRIDE_ONLY.get(endpoint, ())
        return tuple(
            k for k in self._config.group_by if k in spec.group_by and k not in only_override
        )

    def _params(self, spec: Endpoint, window: Window) -> list[tuple[str, str]]:
        width_name = self._width_name(spec.name)
        limit = COSTS_PAGE_LIMIT if spec.name == "costs" else PAGE_LIMIT[width_name]
        params = [
            ("start_time", str(window.start)),
            ("end_time", str(window.end)),
            ("bucket_width", width_name),
            ("limit", str(limit)),
        ]
        params += [("group_by", key) for key in self.group_by(spec.name)]
        for name in spec.filters:
            value = getattr(self._config, name, None)
            if value is None:
                continue
            if isinstance(value, bool):
                params.append((name, "true" if value else "false"))
            else:
                params += [(name, str(v)) for v in value]
        return params

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        spec = ENDPOINTS[stream.name]
        if spec.level:
            width = WIDTHS["1d"]
            end = window.end - window.end % width + width
            window = Window(end - 2 * width, end)
        buckets = [b async for b in self._pages(spec, window)]
        parsed = BucketParser(spec)
        flows = [flow for bucket in buckets for flow in parsed.bucket(bucket)]
        if parsed.non_usd:
            log.warning(
                "costs in a currency other than USD were skipped",
                extra={"target": self._config.name, "currencies": ",".join(sorted(parsed.non_usd))},
            )
        if spec.name == "costs" and self._config.monthly_budget_usd is not None:
            budget = Level("openai_cost_budget_usd", (), float(self._config.monthly_budget_usd))
            return StreamRead(
                stream.name,
                window.start,
                window.end,
                flows=flows,
                levels=[budget],
                unknown_fields=len(parsed.unknown),
            )
        if spec.level:
            return StreamRead(
                stream.name,
                window.start,
                window.end,
                levels=_newest_levels(flows),
                unknown_fields=len(parsed.unknown),
            )
        return StreamRead(
            stream.name, window.start, window.end, flows=flows, unknown_fields=len(parsed.unknown)
        )

    async def _pages(self, spec: Endpoint, window: Window) -> Any:
        params = self._params(spec, window)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            try:
                page = await self._upstream.get_json(spec.name, spec.path, params)
            except UpstreamError as err:
                raise self._explained(spec, err) from None
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UpstreamError(spec.name, "answer is not a page object with a data list")
            for bucket in page["data"]:
                yield bucket
            cursor = page.get("next_page")
            if not page.get("has_more") or not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise UpstreamError(spec.name, "pagination cursor repeated or malformed")
            seen.add(cursor)
            params = [p for p in params if p[0] != "page"] + [("page", cursor)]
        raise UpstreamError(spec.name, f"more than {MAX_PAGES} pages: giving up on this read")

    def _explained(self, spec: Endpoint, err: UpstreamError) -> UpstreamError:
        """A 400 for costs grouped by user_id says which setting to change."""
        if err.status != 400 or spec.name != "costs" or "user_id" not in self.group_by("costs"):
            return err
        return UpstreamError(
            spec.name,
            f"{err.message} (costs grouped by user_id: the API refuses it with project_id "
            "grouping or the project_ids filter for some organizations and time ranges; remove "
            "user_id, or project_id and project_ids, from overrides.costs.group_by / the "
            "source's filters)",
            status=err.status,
        )


class BucketParser:
    """Turns the buckets of one endpoint into flows; tolerant of drift, strict about numbers."""

    def __init__(self, spec: Endpoint) -> None:
        self.spec = spec
        self.unknown: set[str] = set()
        self.non_usd: set[str] = set()
        self._known = (
            frozenset(spec.quantities)
            | frozenset(spec.group_by)
            | frozenset(spec.fields_as_labels)
            | _KNOWN_EXTRA
        )
        self._label_fields = (*spec.group_by, *spec.fields_as_labels)

    def bucket(self, bucket: Any) -> Iterator[Flow]:
        name = self.spec.name
        if not isinstance(bucket, dict):
            raise UpstreamError(name, "a bucket is not an object")
        start = _integer(bucket.get("start_time"), name, "start_time")
        end = _integer(bucket.get("end_time"), name, "end_time")
        results = bucket.get("results", bucket.get("result"))  # older specs spelled it `result`
        if results is None:
            results = []
        if not isinstance(results, list):
            raise UpstreamError(name, "bucket results is not a list")
        for key in bucket:
            if key not in ("object", "start_time", "end_time", "results", "result"):
                self.unknown.add(f"bucket.{key}")
        for result in results:
            yield from self.result(result, start, end)

    def result(self, result: Any, start: int, end: int) -> Iterator[Flow]:
        name = self.spec.name
        if not isinstance(result, dict):
            raise UpstreamError(name, "a result is not an object")
        for key in result:
            if key not in self._known:
                self.unknown.add(key)
        keys = {k: _label(result.get(k)) for k in self._label_fields}
        for field, (family, fixed) in self.spec.quantities.items():
            raw = result.get(field)
            if raw is None:
                continue
            if field == "amount":
                value = self._amount(raw)
                if value is None:
                    continue
            else:
                value = quantity(raw, name, field, strings=True)
            labels = {**keys, **fixed}
            yield Flow(
                family, tuple(labels.get(n, "") for n in _LABELS_OF[family]), start, end, value
            )

    def _amount(self, raw: Any) -> float | None:
        if not isinstance(raw, dict):
            raise UpstreamError(self.spec.name, "amount is not an object")
        currency = str(raw.get("currency") or "usd").lower()
        if currency != "usd":
            self.non_usd.add(currency[:16])
            return None
        return quantity(raw.get("value", 0), self.spec.name, "amount.value", strings=True)


def _newest_levels(flows: Sequence[Flow]) -> list[Level]:
    """A level per series from its newest bucket."""
    newest: dict[tuple[str, tuple[str, ...]], Flow] = {}
    for flow in flows:
        key = (flow.family, flow.labels)
        if key not in newest or flow.start > newest[key].start:
            newest[key] = flow
    return [Level(f.family, f.labels, f.value) for f in newest.values()]


def _label(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(value: Any, endpoint: str, field: str) -> int:
    number = quantity(value, endpoint, field)
    if number != int(number):
        raise UpstreamError(endpoint, f"{field}: expected whole seconds, got {number}")
    return int(number)
