"""What the OpenAI Usage & Costs API is: its root, version and error hints, the bucket widths
and page limits it accepts, the group keys each endpoint takes, and the endpoints (`ENDPOINTS`):
their paths, filters, result objects and which result field feeds which family.

The config checks its keys against these facts (config.py imports this module, never the other
way round); the simulator's twin keeps its own catalogue on purpose (twin/catalogue.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from exporter.vendors.openai.metrics import COMPLETION_TOKEN_FIELDS

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


@dataclass(frozen=True, slots=True)
class BucketWidth:
    """A `bucket_width` the API accepts: its length, the most buckets one page may hold (the
    API's maximum) and the lookback a source re-reads when the config sets none."""

    seconds: int
    page_limit: int
    default_lookback: int


BUCKET_WIDTHS = {
    "1m": BucketWidth(60, page_limit=1440, default_lookback=15 * 60),
    "1h": BucketWidth(3600, page_limit=168, default_lookback=3 * 3600),
    "1d": BucketWidth(86400, page_limit=31, default_lookback=2 * 86400),
}
WIDTHS = {name: width.seconds for name, width in BUCKET_WIDTHS.items()}
COSTS_PAGE_LIMIT = 180  # costs come in daily buckets only, up to 180 a page
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read

OpenAIEndpoint = Literal[
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
    "vector_stores",
    "code_interpreter_sessions",
    "file_search_calls",
    "web_search_calls",
    "costs",
    "decisions",
]
ENDPOINT_NAMES: tuple[str, ...] = get_args(OpenAIEndpoint)  # in the order the config lists them

_COMPLETIONS_KEYS = (
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
    "api_source",
)
OPENAI_GROUP_BY: dict[str, tuple[str, ...]] = {
    "completions": _COMPLETIONS_KEYS,
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
    "vector_stores": ("project_id",),
    "code_interpreter_sessions": ("project_id",),
    "file_search_calls": ("project_id", "user_id", "api_key_id", "vector_store_id"),
    "web_search_calls": (
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "context_level",
        "api_source",
    ),
    "costs": ("project_id", "line_item", "api_key_id", "api_source", "user_id"),
    "decisions": _COMPLETIONS_KEYS,
}
# Keys an endpoint takes only from its `overrides.<endpoint>.group_by`, never from the source's
# `group_by` list: costs grouped by `user_id` may be refused (HTTP 400) together with `project_id`
# grouping or the `project_ids` filter, and a list written for the usage endpoints before costs
# accepted `user_id` must keep working.
OPENAI_OVERRIDE_ONLY: dict[str, tuple[str, ...]] = {"costs": ("user_id",)}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one OpenAI endpoint reports and how its results become flows or levels.

    `quantities` maps a result field to its family and the fixed labels it adds (`endpoint`,
    `tool`). The group keys an endpoint accepts are `OPENAI_GROUP_BY[name]`;
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
