"""OpenAI's usage and costs metrics, declared once: every family the Usage & Costs API feeds,
with its labels (the API's group keys, and `endpoint`/`tool` where one family gathers several
endpoints). `docs/metrics/openai.md` and the dashboard are generated from `FAMILIES`.

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

from exporter.model import Family, Kind, Period

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
