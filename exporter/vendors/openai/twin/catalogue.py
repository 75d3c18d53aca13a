"""The OpenAI Usage & Costs API as the simulator knows it: the endpoints, the group keys and
filters each takes, the dimensions of the rows it generates, the fields it reports and the page
limits, following the OpenAI section of the upstream notes.

Independent of the exporter's tables (api.py, metrics.py) on purpose: a twin that shared the
table it is checked against would agree with any mistake in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}  # the bucket widths the API takes
# per width, the `limit` of buckets a page holds: (when not asked, the most it may ask)
LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)

PROJECTS = ("proj_alpha", "proj_beta", "proj_gamma")
USERS = ("user-ana", "user-bo")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    maximum: int = 0  # root field: per-minute rate below 2*maximum
    parent: str = ""  # part field: a share of the parent's rate
    share: int = 0  # at most this percentage of the parent
    sum_of: tuple[str, ...] = ()  # total field: exactly the sum of these fields, revisions too


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    result_object: str
    group_keys: tuple[str, ...]
    dims: dict[str, tuple[Any, ...]]
    fields: tuple[FieldSpec, ...]
    filters: dict[str, str]  # query filter name -> dimension
    level: bool = False


def _usage_filters(*extra: tuple[str, str]) -> dict[str, str]:
    return {
        "project_ids": "project_id",
        "user_ids": "user_id",
        "api_key_ids": "api_key_id",
        "models": "model",
        **dict(extra),
    }


_TOKENS = (
    FieldSpec("input_tokens", 1500),
    FieldSpec("output_tokens", 400),
    FieldSpec("num_model_requests", 4),
    FieldSpec("input_cached_tokens", parent="input_tokens", share=60),
    FieldSpec("input_audio_tokens", parent="input_tokens", share=10),
    FieldSpec("output_audio_tokens", parent="output_tokens", share=10),
    FieldSpec("input_cache_write_12h_tokens", parent="input_tokens", share=6),
    FieldSpec("input_cache_write_30m_tokens", parent="input_tokens", share=6),
    FieldSpec(
        "input_cache_write_tokens",
        sum_of=("input_cache_write_12h_tokens", "input_cache_write_30m_tokens"),
    ),
    FieldSpec("input_uncached_tokens", parent="input_tokens", share=40),
    FieldSpec("input_text_tokens", parent="input_tokens", share=40),
    FieldSpec("output_text_tokens", parent="output_tokens", share=90),
    FieldSpec("input_cached_text_tokens", parent="input_cached_tokens", share=90),
    FieldSpec("input_cached_audio_tokens", parent="input_cached_tokens", share=5),
    FieldSpec("input_image_tokens", parent="input_tokens", share=10),
    FieldSpec("input_cached_image_tokens", parent="input_image_tokens", share=20),
    FieldSpec("output_image_tokens", parent="output_tokens", share=5),
)
_BASE = {"project_id": PROJECTS, "user_id": USERS}
_FOUR = ("project_id", "user_id", "api_key_id", "model")
_COMPLETIONS_KEYS = (*_FOUR, "batch", "service_tier", "api_source")
API_SOURCES = ("agents_api", "unlabeled")


def _by_four(name: str, models: tuple[str, ...], *fields: FieldSpec) -> EndpointSpec:
    """An endpoint grouped and filtered by the four keys: project, user, API key and model."""
    return EndpointSpec(
        name,
        f"organization.usage.{name}.result",
        _FOUR,
        {**_BASE, "model": models},
        fields,
        _usage_filters(),
    )


# Costs line items: the unit the API names for `quantity` and the price of one unit in
# micro-dollars. Prices are powers of two, so quantity = cost / price is exact in binary and
# sums of quantities are exact in any order. `calls` is not one of the units the API lists: a
# unit the exporter has not seen must still be exported verbatim.
LINE_ITEMS: dict[str, tuple[str, int]] = {
    "gpt-4o-mini, input": ("1000_tokens", 128),
    "gpt-4o-mini, output": ("1000_tokens", 512),
    "gpt-4.1, input": ("tokens", 2),
    "web search tool calls": ("calls", 8192),
}

ENDPOINTS: dict[str, EndpointSpec] = {
    e.name: e
    for e in (
        EndpointSpec(
            "completions",
            "organization.usage.completions.result",
            _COMPLETIONS_KEYS,
            {
                **_BASE,
                "model": ("gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "o3-mini"),
                "batch": (False, True),
            },
            _TOKENS,
            _usage_filters(("batch", "batch")),
        ),
        EndpointSpec(
            "decisions",
            "organization.usage.decisions.result",
            _COMPLETIONS_KEYS,
            {**_BASE, "model": ("gpt-6-luna",), "batch": (False, True)},
            _TOKENS,
            _usage_filters(("batch", "batch")),
        ),
        _by_four(
            "embeddings",
            ("text-embedding-3-small", "text-embedding-3-large"),
            FieldSpec("input_tokens", 3000),
            FieldSpec("num_model_requests", 6),
        ),
        _by_four(
            "moderations",
            ("omni-moderation-latest",),
            FieldSpec("input_tokens", 800),
            FieldSpec("num_model_requests", 5),
        ),
        EndpointSpec(
            "images",
            "organization.usage.images.result",
            (*_FOUR, "size", "source"),
            {
                **_BASE,
                "model": ("gpt-image-1", "dall-e-3"),
                "size": ("1024x1024", "1792x1792"),
                "source": ("image.generation", "image.edit"),
            },
            (FieldSpec("images", 3), FieldSpec("num_model_requests", 2)),
            _usage_filters(("sources", "source"), ("sizes", "size")),
        ),
        _by_four(
            "audio_speeches",
            ("tts-1", "gpt-4o-mini-tts"),
            FieldSpec("characters", 900),
            FieldSpec("num_model_requests", 3),
        ),
        _by_four(
            "audio_transcriptions",
            ("whisper-1",),
            FieldSpec("seconds", 120),
            FieldSpec("num_model_requests", 2),
        ),
        EndpointSpec(
            "vector_stores",
            "organization.usage.vector_stores.result",
            ("project_id",),
            {"project_id": PROJECTS},
            (FieldSpec("usage_bytes"),),
            {"project_ids": "project_id"},
            level=True,
        ),
        EndpointSpec(
            "code_interpreter_sessions",
            "organization.usage.code_interpreter_sessions.result",
            ("project_id",),
            {"project_id": PROJECTS},
            (FieldSpec("num_sessions", 2),),
            {"project_ids": "project_id"},
        ),
        EndpointSpec(
            "file_search_calls",
            "organization.usage.file_searches.result",
            ("project_id", "user_id", "api_key_id", "vector_store_id"),
            {**_BASE, "vector_store_id": ("vs_docs", "vs_support")},
            (FieldSpec("num_requests", 5),),
            {
                "project_ids": "project_id",
                "user_ids": "user_id",
                "api_key_ids": "api_key_id",
                "vector_store_ids": "vector_store_id",
            },
        ),
        EndpointSpec(
            "web_search_calls",
            "organization.usage.web_searches.result",
            (*_FOUR, "context_level", "api_source"),
            {**_BASE, "model": ("gpt-4.1-2025-04-14",), "context_level": ("low", "medium", "high")},
            (FieldSpec("num_requests", 4), FieldSpec("num_model_requests", 3)),
            _usage_filters(("context_levels", "context_level")),
        ),
        EndpointSpec(
            "costs",
            "organization.costs.result",
            ("project_id", "line_item", "api_key_id", "api_source", "user_id"),
            {"project_id": PROJECTS, "user_id": USERS, "line_item": tuple(LINE_ITEMS)},
            (FieldSpec("micro_usd", 2500),),
            {"project_ids": "project_id", "api_key_ids": "api_key_id"},
        ),
    )
}


def field_of(spec: EndpointSpec, name: str) -> FieldSpec:
    return next(f for f in spec.fields if f.name == name)


def iter_paths() -> Iterator[tuple[str, str]]:
    for name in ENDPOINTS:
        path = "/v1/organization/costs" if name == "costs" else f"/v1/organization/usage/{name}"
        yield name, path
