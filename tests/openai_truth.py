"""The expected OpenAI series, computed from the simulator's ground truth.

The mapping from the API's quantities to metric families is written out here on its own, not
imported from the source, so a mistake in the source's table shows up as a mismatch.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from exporter.sources.openai import FAMILIES
from tests.harness import created, http_json, parse_samples, scrape

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

Expected = dict[tuple[str, frozenset[tuple[str, str]]], float]


def write_config(
    tmp: Path,
    sim_url: str,
    key: str,
    *,
    name: str,
    interval: str = "4s",
    timeout: str = "3s",
    extra: str = "",
) -> Path:
    config = tmp / "config.yaml"
    config.write_text(
        f"state_dir: {tmp / 'state'}\n"
        "sources:\n"
        "  - kind: openai\n"
        f"    name: {name}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {key}\n"
        f"    interval: {interval}\n"
        f"    timeout: {timeout}\n"
        "    bucket_width: 1h\n"
        "    backfill: 1d\n"
        "    retries: 4\n"
        f"    group_by: [{', '.join(GROUP_BY)}]\n" + extra
    )
    return config


def _label(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def origins(exporter_url: str, target: str) -> tuple[int, int]:
    """(usage origin, costs origin) as the exporter reports them in `_created`."""
    where = f'target="{target}"'
    return (
        created(exporter_url, "openai_input_tokens", where),
        created(exporter_url, "openai_cost_usd", where),
    )


def expected_series(
    sim_url: str,
    exporter_url: str,
    org: str,
    target: str,
    overrides: dict[str, list[str]] | None = None,
) -> Expected:
    """`overrides`: per endpoint, the group keys of `overrides.<endpoint>.group_by`."""
    usage_origin, costs_origin = origins(exporter_url, target)
    expected: Expected = {}
    for endpoint, quantities in QUANTITIES.items():
        keys = [k for k in GROUP_BY if k in SUPPORTED[endpoint]]
        if overrides and endpoint in overrides:
            keys = list(overrides[endpoint])
        start = costs_origin if endpoint == "costs" else usage_origin
        query = urllib.parse.urlencode(
            [("org", org), ("endpoint", endpoint), ("start", str(start))]
            + [("group_by", k) for k in keys]
        )
        truth = http_json(f"{sim_url}/_sim/openai/truth?{query}")
        for row in truth["rows"]:
            group = {k: _label(row["group"].get(k)) for k in keys}
            for field, (family, fixed) in quantities.items():
                if field == "amount":
                    value = row["values"]["micro_usd"] / 1e6
                elif field in row["values"]:
                    value = row["values"][field]
                else:
                    continue
                if field == "quantity":
                    fixed = {"quantity_unit": _label(row.get("quantity_unit"))}
                labels = (
                    {n: "" for n in LABELS[family]}
                    | {k: v for k, v in group.items() if k in LABELS[family]}
                    | fixed
                )
                labels["target"] = target
                key = (family, frozenset(labels.items()))
                expected[key] = expected.get(key, 0) + value
    return {k: v for k, v in expected.items() if v != 0}


def exporter_counters(exporter_url: str, target: str) -> Expected:
    """The exporter's own counter samples for `target`, in the same shape."""
    samples = parse_samples(scrape(exporter_url))
    families = {n for n, _ in ((f.name, f) for f in FAMILIES if f.kind.value == "counter")}
    return {
        (name, labels): value
        for (name, labels), value in samples.items()
        if name in families and ("target", target) in labels
    }


def assert_exact(sim_url: str, exp_url: str, org: str, target: str) -> None:
    """Every counter of `target` equals the simulator's truth for `org`; none is extra."""
    expected = expected_series(sim_url, exp_url, org, target)
    got = exporter_counters(exp_url, target)
    mismatches = [
        f"{name}{dict(labels)}: exporter {got.get((name, labels))}, truth {value}"
        for (name, labels), value in expected.items()
        if abs(got.get((name, labels), -1.0) - value) > 1e-9 * max(1.0, abs(value))
    ]
    extra = [k for k, v in got.items() if k not in expected and v != 0]
    assert not mismatches and not extra, (len(mismatches), mismatches[:20], extra[:20])
    assert len(expected) > 50
