"""The counters an OpenAI target must show, from the twin's ground truth (dev-only).

The mapping from the API's quantities to metric families is written out here on its own, not
imported from the source, so a mistake in the source's table shows up as a mismatch. The group
keys each endpoint takes come from the twin's catalogue (the simulated API's own list), not from
the source's `OPENAI_GROUP_BY`, for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, label, origin
from exporter.vendors.openai.config import OpenAIConfig
from exporter.vendors.openai.metrics import FAMILIES
from exporter.vendors.openai.twin.catalogue import ENDPOINTS

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
# keys an endpoint takes only from `overrides.<endpoint>.group_by`, never from `group_by`
OVERRIDE_ONLY = {"costs": ("user_id",)}
# per counted endpoint, the keys a source's `group_by` may group it by
SUPPORTED = {
    endpoint: tuple(
        k for k in ENDPOINTS[endpoint].group_keys if k not in OVERRIDE_ONLY.get(endpoint, ())
    )
    for endpoint in QUANTITIES
}


def truth_series(
    sim_url: str, who: Any, endpoint: str, start: int, keys: list[str]
) -> Iterator[tuple[str, dict[str, str], float]]:
    """What one endpoint's ground truth from `start` to now, grouped by `keys`, adds to each
    counter: (family, the labels of the group the family has, value); labels the family has
    and the group does not are left out."""
    query = [("org", who), ("endpoint", endpoint), ("start", start)]
    rows = get(sim_url, "/_sim/openai/truth", query + [("group_by", k) for k in keys])["rows"]
    for row in rows:
        group = {k: label(row["group"].get(k)) for k in keys}
        for name, (family, fixed) in QUANTITIES[endpoint].items():
            if name == "amount":
                value = row["values"]["micro_usd"] / 1e6
            elif name in row["values"]:
                value = row["values"][name]
            else:
                continue
            if name == "quantity":  # the unit label comes from the truth row
                fixed = {"quantity_unit": label(row.get("quantity_unit"))}
            yield family, {k: v for k, v in group.items() if k in LABELS[family]} | fixed, value


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
        for family, labels, value in truth_series(
            sim_url, who, endpoint, origin(got, belongs), keys
        ):
            series = key(family, labels)
            out[series] = out.get(series, 0) + value
    return out
