"""The counters an OpenAI target must show, from the twin's ground truth (dev-only).

The mapping from the API's quantities to metric families is written out here on its own, not
imported from the source, so a mistake in the source's table shows up as a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, label, origin
from exporter.vendors.openai.config import OpenAIConfig
from exporter.vendors.openai.source import FAMILIES

GROUP_BY = [
    "project_id",
    "model",
    "line_item",
    "size",
    "source",
    "batch",
    "context_level",
    "api_source",
]

_COMPLETIONS = (
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
    "api_source",
)

SUPPORTED = {
    "completions": _COMPLETIONS,
    "decisions": _COMPLETIONS,
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
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
    # user_id only from overrides.costs.group_by, never from the source's group_by list
    "costs": ("project_id", "line_item", "api_key_id", "api_source"),
}

TOKEN_FIELDS = [
    "input_tokens",
    "output_tokens",
    "input_cached_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "input_cache_write_tokens",
    "input_cache_write_12h_tokens",
    "input_cache_write_30m_tokens",
    "input_uncached_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_cached_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
]


def _requests(endpoint: str) -> tuple[str, dict[str, str]]:
    return "openai_model_requests_total", {"endpoint": endpoint}


QUANTITIES: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "completions": {
        **{f: (f"openai_{f}_total", {"endpoint": "completions"}) for f in TOKEN_FIELDS},
        "num_model_requests": _requests("completions"),
    },
    "decisions": {
        **{f: (f"openai_{f}_total", {"endpoint": "decisions"}) for f in TOKEN_FIELDS},
        "num_model_requests": _requests("decisions"),
    },
    "embeddings": {
        "input_tokens": ("openai_input_tokens_total", {"endpoint": "embeddings"}),
        "num_model_requests": _requests("embeddings"),
    },
    "moderations": {
        "input_tokens": ("openai_input_tokens_total", {"endpoint": "moderations"}),
        "num_model_requests": _requests("moderations"),
    },
    "images": {"images": ("openai_images_total", {}), "num_model_requests": _requests("images")},
    "audio_speeches": {
        "characters": ("openai_audio_characters_total", {}),
        "num_model_requests": _requests("audio_speeches"),
    },
    "audio_transcriptions": {
        "seconds": ("openai_audio_transcription_seconds_total", {}),
        "num_model_requests": _requests("audio_transcriptions"),
    },
    "code_interpreter_sessions": {"num_sessions": ("openai_code_interpreter_sessions_total", {})},
    "file_search_calls": {"num_requests": ("openai_tool_calls_total", {"tool": "file_search"})},
    "web_search_calls": {
        "num_requests": ("openai_tool_calls_total", {"tool": "web_search"}),
        "num_model_requests": _requests("web_search_calls"),
    },
    "costs": {
        "amount": ("openai_cost_usd_total", {}),
        # the unit label comes from the truth row (the simulator's unit of the line item)
        "quantity": ("openai_cost_quantity_total", {}),
    },
}

LABELS = {f.name: f.labels for f in FAMILIES}


def expected(
    sim_url: str, config: OpenAIConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """`who`: the key's organization in the twin. Each endpoint from its own origin."""
    out: dict[SeriesKey, float] = {}
    for endpoint, quantities in QUANTITIES.items():
        if endpoint not in config.endpoints:
            continue
        owned = {(family, frozenset(fixed.items())) for family, fixed in quantities.values()}

        def belongs(
            k: SeriesKey, owned: set[tuple[str, frozenset[tuple[str, str]]]] = owned
        ) -> bool:
            return any(k[0] == family and fixed <= k[1] for family, fixed in owned)

        override = config.overrides.get(endpoint)
        keys = [k for k in config.group_by if k in SUPPORTED[endpoint]]
        if override is not None and override.group_by is not None:
            keys = list(override.group_by)
        query = [("org", who), ("endpoint", endpoint), ("start", origin(got, belongs))]
        for row in get(sim_url, "/_sim/openai/truth", query + [("group_by", k) for k in keys])[
            "rows"
        ]:
            group = {k: label(row["group"].get(k)) for k in keys}
            for name, (family, fixed) in quantities.items():
                if name == "amount":
                    value = row["values"]["micro_usd"] / 1e6
                elif name in row["values"]:
                    value = row["values"][name]
                else:
                    continue
                if name == "quantity":  # the unit label comes from the truth row
                    fixed = {"quantity_unit": label(row.get("quantity_unit"))}
                labels = {k: v for k, v in group.items() if k in LABELS[family]} | dict(fixed)
                series = key(family, labels)
                out[series] = out.get(series, 0) + value
    return out
