"""The configuration file: one YAML document, validated before anything listens.

Errors name the field the way a user reads it (`sources[0].interval: ...`) and never echo a
secret. `${VAR}` in any string is replaced from the environment; `api_key_file` is read at load.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (86400, 3600, 60, 1)


# --syntax-only: files named by the config (api_key_file, tls_config) are not read
_SYNTAX_ONLY: ContextVar[bool] = ContextVar("syntax_only", default=False)


class ConfigError(Exception):
    """A configuration problem, worded for the operator; never contains a secret."""


def parse_duration(value: Any) -> int:
    """Seconds from `30s`, `5m`, `1h30m`, `7d` or a whole number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r} (expected e.g. 30s, 5m, 1h, 7d)")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    else:
        match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
        if not match or not any(match.groups()):
            shown = str(value)[:40]
            raise ValueError(f"invalid duration {shown!r} (expected e.g. 30s, 5m, 1h, 7d)")
        seconds = sum(int(g or 0) * u for g, u in zip(match.groups(), _UNITS, strict=True))
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]


def parse_instant(value: Any) -> int:
    """Unix seconds from a YAML date (`2026-01-01`, midnight UTC), a date-time
    (`2026-01-01T06:00:00Z`; one without a zone is UTC) or either as a string. Not in the
    future."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"invalid date {text[:40]!r} (expected e.g. 2026-01-01 or 2026-01-01T06:00:00Z)"
            ) from None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    else:
        raise ValueError(f"invalid date {str(value)[:40]!r} (expected e.g. 2026-01-01)")
    seconds = int(moment.timestamp())
    if seconds > time.time():
        raise ValueError(f"{moment.isoformat()} is in the future: counting starts in the past")
    return seconds


Instant = Annotated[int, BeforeValidator(parse_instant)]

OPENAI_GROUP_BY: dict[str, tuple[str, ...]] = {
    "completions": (
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
        "api_source",
    ),
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
    "decisions": (
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
        "api_source",
    ),
}
# Keys an endpoint takes only from its `overrides.<endpoint>.group_by`, never from the source's
# `group_by` list: costs grouped by `user_id` may be refused (HTTP 400) together with `project_id`
# grouping or the `project_ids` filter, and a list written for the usage endpoints before costs
# accepted `user_id` must keep working.
OPENAI_OVERRIDE_ONLY: dict[str, tuple[str, ...]] = {"costs": ("user_id",)}
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
_ALL_GROUP_BY = tuple(dict.fromkeys(k for keys in OPENAI_GROUP_BY.values() for k in keys))


def _check_keys(keys: list[str], allowed: tuple[str, ...]) -> list[str]:
    for key in keys:
        if key not in allowed:
            raise ValueError(f"{key!r} is not one of {', '.join(allowed)}")
    if len(set(keys)) != len(keys):
        raise ValueError("a key is listed twice")
    return keys


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSConfig(_Strict):
    """Prometheus-style `tls_config` for the calls to the upstream."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _files(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together")
        if _SYNTAX_ONLY.get():
            return self
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        return self


class BaseSource(_Strict):
    """Keys every source kind shares."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    base_url: HttpUrl | None = None
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    interval: Duration = 300
    timeout: Duration | None = None
    lookback: Duration | None = None
    backfill: Duration = 7 * 86400
    count_from: Instant | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=16)] = 2
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    max_series_per_family: Annotated[int, Field(ge=1)] = 10_000
    proxy_url: HttpUrl | None = None
    proxy_from_environment: bool = False
    tls_config: TLSConfig | None = None

    @field_validator("proxy_url")
    @classmethod
    def _proxy_scheme(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and value.scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// proxy URL")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and value.scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _secret_and_timeout(self) -> BaseSource:
        if (self.api_key is None) == (self.api_key_file is None):
            raise ValueError("give exactly one of api_key or api_key_file")
        if self.proxy_url is not None and self.proxy_from_environment:
            raise ValueError("give proxy_url or proxy_from_environment, not both")
        if self.api_key_file is not None and not _SYNTAX_ONLY.get():
            try:
                text = self.api_key_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ValueError(
                    f"api_key_file: cannot read {self.api_key_file}: {err.strerror}"
                ) from None
            if not text:
                raise ValueError(f"api_key_file: {self.api_key_file} is empty")
            object.__setattr__(self, "api_key", SecretStr(text))
        if self.timeout is None:
            object.__setattr__(self, "timeout", max(1, min(int(self.interval * 0.8), 120)))
        elif self.timeout > self.interval:
            raise ValueError(
                f"timeout ({self.timeout}s) must not exceed interval ({self.interval}s)"
            )
        return self

    def secret(self) -> str:
        return self.api_key.get_secret_value() if self.api_key is not None else ""


class OpenAIEndpointOverride(_Strict):
    group_by: list[str] | None = None
    lookback: Duration | None = None


class OpenAIResources(_Strict):
    """Which of the organization's names and limits to read (each one switchable off)."""

    projects: bool = True
    api_keys: bool = True
    users: bool = True
    spend_limits: bool = True
    spend_alerts: bool = True
    rate_limits: bool = True


class OpenAISource(BaseSource):
    """An OpenAI organization, read with an Admin API key."""

    kind: Literal["openai"]
    organization: str | None = None
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    endpoints: list[OpenAIEndpoint] = Field(default_factory=lambda: list(get_args(OpenAIEndpoint)))
    bucket_width: Literal["1m", "1h", "1d"] = "1h"
    group_by: list[str] = Field(default_factory=lambda: ["project_id", "model"])
    overrides: dict[OpenAIEndpoint, OpenAIEndpointOverride] = Field(default_factory=dict)
    project_ids: list[str] | None = None
    user_ids: list[str] | None = None
    api_key_ids: list[str] | None = None
    models: list[str] | None = None
    sources: list[str] | None = None
    sizes: list[str] | None = None
    context_levels: list[str] | None = None
    vector_store_ids: list[str] | None = None
    batch: bool | None = None
    # names and limits (openai_*_info, spend limits, rate limits), on their own schedule
    info_interval: Annotated[Duration, Field(ge=1)] = 900
    resources: OpenAIResources = Field(default_factory=OpenAIResources)
    user_email: bool = False  # personal data: exported (openai_user_info{email}) only if true

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        return _check_keys(value, _ALL_GROUP_BY)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one endpoint")
        if len(set(value)) != len(value):
            raise ValueError("an endpoint is listed twice")
        return value

    @model_validator(mode="after")
    def _override_group_by(self) -> OpenAISource:
        for endpoint, override in self.overrides.items():
            if override.group_by is not None:
                try:
                    _check_keys(override.group_by, OPENAI_GROUP_BY[endpoint])
                except ValueError as err:
                    raise ValueError(f"overrides.{endpoint}.group_by: {err}") from None
        return self


ArthurScope = Literal["rule_type", "task"]


class ArthurSource(BaseSource):
    """An Arthur GenAI Engine, read with a key holding a usage-read role (ORG-AUDITOR)."""

    kind: Literal["arthur"]
    window: Duration = 3600
    group_by: list[ArthurScope] = Field(default_factory=lambda: list(get_args(ArthurScope)))
    task_names: bool = True  # arthur_task_info from POST /api/v2/tasks/search (TASK_READ)
    info_interval: Annotated[Duration, Field(ge=1)] = 900

    @field_validator("group_by")
    @classmethod
    def _unique(cls, value: list[ArthurScope]) -> list[ArthurScope]:
        if not value or len(set(value)) != len(value):
            raise ValueError("list rule_type, task or both, once each")
        return value

    @field_validator("window")
    @classmethod
    def _whole_divisor(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError("must divide a day evenly (e.g. 5m, 15m, 1h, 6h, 1d)")
        return value


class TelnyxSource(BaseSource):
    """A Telnyx account's Cloud Storage buckets, read with a Telnyx API v2 key."""

    kind: Literal["telnyx"]
    buckets: list[Annotated[str, Field(min_length=1, max_length=255)]] | Literal["auto"]
    regions: list[str] = Field(default_factory=lambda: ["us-central-1", "eu-central-1"])
    s3_endpoint: str = "https://{region}.telnyxcloudstorage.com"
    storage: bool = True

    @field_validator("buckets")
    @classmethod
    def _some_buckets(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("list each bucket once, or say `auto`")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_template(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "{region}" not in value:
            raise ValueError("must be an http(s) URL template containing {region}")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not re.fullmatch(r"[a-z0-9-]{2,32}", region):
                raise ValueError(f"{region!r} is not a region name like us-central-1")
        return value


AnylayerTimeframe = Literal["1h", "24h", "7d", "30d", "90d", "1y", "all"]
AnylayerGranularity = Literal["minute", "hour", "day", "week", "month"]
ANYLAYER_TIMEFRAME_SECONDS = {
    "1h": 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
    "1y": 365 * 86400,
    "all": 0,
}
ANYLAYER_GRANULARITY_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 31 * 86400,
}


class AnylayerSource(BaseSource):
    """An Anylayer (formerly ZKScore) developer account, read through "Get Usage"."""

    kind: Literal["anylayer"]
    path_prefix: Literal["/v1", "/api/v1"] = "/v1"
    timeframe: AnylayerTimeframe = "24h"
    granularity: AnylayerGranularity = "hour"
    key_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = None

    @model_validator(mode="after")
    def _window_fits(self) -> AnylayerSource:
        span = ANYLAYER_TIMEFRAME_SECONDS[self.timeframe]
        width = ANYLAYER_GRANULARITY_SECONDS[self.granularity]
        if span and width >= span:
            raise ValueError(
                f"granularity {self.granularity!r} is not finer than timeframe {self.timeframe!r}"
            )
        if span and self.lookback is not None and self.lookback + 2 * width > span:
            raise ValueError(
                f"lookback ({self.lookback}s) plus two {self.granularity} buckets must fit in "
                f"the timeframe {self.timeframe!r}: what the API no longer returns is not re-read"
            )
        return self


SourceConfig = Annotated[
    OpenAISource | ArthurSource | TelnyxSource | AnylayerSource, Field(discriminator="kind")
]
KIND_NAMES = ("openai", "arthur", "telnyx", "anylayer")


class WebConfig(_Strict):
    listen_address: str = ":9868"


class Config(BaseSettings):
    """The whole file. Environment variables override top-level scalars."""

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="USAGE_EXPORTER_", env_nested_delimiter="__", frozen=True
    )

    state_dir: Path = Path("./usage-exporter-state")
    web: WebConfig = Field(default_factory=WebConfig)
    count_from: Instant | None = None
    sources: Annotated[list[SourceConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [s.name for s in self.sources]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"source name {name!r} is used twice: names become `target`")
        if self.count_from is not None:  # the global origin, for sources without their own
            for source in self.sources:
                if source.count_from is None:
                    object.__setattr__(source, "count_from", self.count_from)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is merged explicitly in load_config


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, env: Mapping[str, str], path: str, keep_unset: bool = False) -> Any:
    """`${VAR}` replaced from `env`; with `keep_unset` (--syntax-only) an unset one stays as
    written, which is fine for `api_key` but not for a field that must be a URL or a number."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                if keep_unset:
                    return match.group(0)
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return env[name]

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _expand(v, env, f"{path}.{k}" if path else str(k), keep_unset)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, env, f"{path}[{i}]", keep_unset) for i, v in enumerate(value)]
    return value


@dataclass(frozen=True, slots=True)
class Rename:
    """A key renamed in `since`: the old name is still accepted, with a deprecation note.

    `scope` is where the key lives: "" (top level), "web", "source" (every entry of
    `sources`) or "source.<key>" (a mapping inside every source, e.g. "source.tls_config")."""

    scope: str
    old: str
    new: str
    since: str


# Every key renamed since 0.1.0. Nothing is renamed yet; a rename is added here (never by
# dropping the old name), tested in tests/unit/test_config_compat.py.
RENAMED_KEYS: tuple[Rename, ...] = ()


def _rename(
    mapping: Any, scope: str, where: str, renames: Sequence[Rename], notes: list[str]
) -> None:
    if not isinstance(mapping, dict):
        return
    for rename in renames:
        if rename.scope != scope or rename.old not in mapping:
            continue
        if rename.new in mapping:
            raise ConfigError(
                f"{where}{rename.old}: renamed to {rename.new!r} in {rename.since}; "
                f"both are given: keep only {rename.new!r}"
            )
        mapping[rename.new] = mapping.pop(rename.old)
        notes.append(
            f"{where}{rename.old}: deprecated since {rename.since}, read as {rename.new!r}: "
            "rename it (the old name will be removed in a future major version)"
        )


def apply_renames(data: dict[str, Any], renames: Sequence[Rename], notes: list[str]) -> None:
    """Move every renamed key to its new name in the raw document (before validation)."""
    _rename(data, "", "", renames, notes)
    _rename(data.get("web"), "web", "web.", renames, notes)
    sources = data.get("sources")
    if isinstance(sources, list):
        for index, source in enumerate(sources):
            where = f"sources[{index}]."
            _rename(source, "source", where, renames, notes)
            if isinstance(source, dict):
                for key, value in source.items():
                    _rename(value, f"source.{key}", f"{where}{key}.", renames, notes)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    prefix = "USAGE_EXPORTER_"
    for key, value in env.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].lower().split("__")
        if parts == ["state_dir"]:
            overrides["state_dir"] = value
        elif parts == ["web", "listen_address"]:
            overrides.setdefault("web", {})["listen_address"] = value
    return overrides


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in KIND_NAMES and text.endswith("]"):
            continue  # the discriminator's tag adds nothing for a reader
        else:
            text += f".{part}" if text else str(part)
    return text


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"{_location(loc)}: unknown key"
    if kind == "missing":
        return f"{_location(loc[:-1]) or 'config'}: missing key '{loc[-1]}'"
    if kind == "union_tag_invalid":
        return f"{_location(loc)}: kind must be one of: {', '.join(KIND_NAMES)}"
    if kind == "union_tag_not_found":
        return f"{_location(loc)}: missing key 'kind'"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{_location(loc) or 'config'}: {message}"


def load_config(
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    syntax_only: bool = False,
    notes: list[str] | None = None,
    renames: Sequence[Rename] = RENAMED_KEYS,
) -> Config:
    """Read, expand and validate the file; ConfigError names the field on any problem.

    `syntax_only` checks the structure without the secrets: an unset `${VAR}` stays as written
    and `api_key_file`/`tls_config` files are not read. Deprecation notes (renamed keys) are
    appended to `notes`: the caller logs or prints them."""
    env = os.environ if env is None else env
    notes = [] if notes is None else notes
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a `sources` list")
    apply_renames(raw, renames, notes)
    data = _expand(raw, env, "", keep_unset=syntax_only)
    for key, value in _env_overrides(env).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    token = _SYNTAX_ONLY.set(syntax_only)
    try:
        return Config(**data)
    except ValidationError as err:
        errors = err.errors(include_input=False, include_url=False)
        raise ConfigError("; ".join(_describe(e) for e in errors[:5])) from None
    finally:
        _SYNTAX_ONLY.reset(token)


def secrets(config: Config) -> list[str]:
    """Every credential in the config (API keys, proxy passwords), for the log redactor."""
    found = [s.secret() for s in config.sources if s.secret()]
    found += [s.proxy_url.password for s in config.sources if s.proxy_url and s.proxy_url.password]
    return found


def openai_costs_user_warning(source: OpenAISource) -> str | None:
    """Why the Costs API may refuse this source's costs grouping (HTTP 400), or None.

    The API documents that grouping costs by `user_id` together with `project_id` grouping or
    the `project_ids` filter is supported for some organizations and time ranges only."""
    if "costs" not in source.endpoints:
        return None
    override = source.overrides.get("costs")
    keys = override.group_by if override is not None and override.group_by is not None else []
    if "user_id" not in keys:
        return None
    clash = [
        what
        for what, present in (
            ("group_by project_id", "project_id" in keys),
            ("the project_ids filter", source.project_ids is not None),
        )
        if present
    ]
    if not clash:
        return None
    return (
        f"overrides.costs.group_by: user_id with {' and '.join(clash)}: the Costs API answers "
        "HTTP 400 for this combination in some organizations and time ranges; if costs fail "
        "with 400, drop user_id there (or project_id and the project_ids filter)"
    )


def warnings(config: Config) -> list[str]:
    """Valid settings the upstream may still refuse, worded for the operator (check-config)."""
    out = []
    for index, source in enumerate(config.sources):
        if isinstance(source, OpenAISource):
            warning = openai_costs_user_warning(source)
            if warning:
                out.append(f"sources[{index}].{warning}")
    return out
