"""The configuration file: one YAML document, validated before anything listens.

Each entry of `sources` is validated by the model of its `kind`'s plug-in (exporter/vendors);
the keys every kind shares are in exporter/config/source.py.

Errors name the field the way a user reads it (`sources[0].interval: ...`) and never echo a
secret. `${VAR}` in any string is replaced from the environment; `api_key_file` is read at load.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import types
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from exporter.config.source import (
    SYNTAX_ONLY,
    BaseSource,
    Duration,
    Instant,
    Strict,
    parse_duration,
    parse_instant,
)
from exporter.vendors import kinds, plugin, plugins

__all__ = [
    "BaseSource",
    "Config",
    "ConfigError",
    "Duration",
    "Instant",
    "load_config",
    "parse_duration",
    "parse_instant",
    "secrets",
]


# The environment overrides docs/configuration.md documents, and the only ones read: the
# `USAGE_EXPORTER_` prefix, then the key, `__` between nested keys.
ENV_PREFIX = "USAGE_EXPORTER_"
ENV_OVERRIDES = ("state_dir", "web__listen_address")
_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("config_env", default=None)


class _DocumentedEnv(EnvSettingsSource):
    """pydantic-settings' own environment source (prefix and nested delimiter from the model's
    settings), reading the `env` given to `load_config` and only the documented overrides."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            key.lower(): value
            for key, value in (_ENV.get() or {}).items()
            if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in ENV_OVERRIDES
        }


class ConfigError(Exception):
    """A configuration problem, worded for the operator; never contains a secret."""


class WebConfig(Strict):
    listen_address: str = ":9868"


class ConfigBase(BaseSettings):
    """The whole file. Environment variables override top-level scalars. `sources` is validated
    by the union of the registered kinds' models: see `Config` and `schema()`."""

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True
    )

    state_dir: Path = Path("./usage-exporter-state")
    web: WebConfig = Field(default_factory=WebConfig)
    count_from: Instant | None = None
    # months of daily cost history kept before the current one (the FOCUS export's reach)
    cost_history_months: Annotated[int, Field(ge=1, le=120)] = 13
    # validated as the union of the registered kinds' models (`schema()`)
    sources: Annotated[list[BaseSource], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> ConfigBase:
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
        # the environment (documented overrides only) over the file, the file over defaults
        return (_DocumentedEnv(settings_cls), init_settings)


def source_union(models: tuple[type[BaseSource], ...]) -> Any:
    """The `sources` entry: one of the models, told apart by `kind`."""
    if len(models) == 1:  # (a union of one is no union: nothing to tell apart)
        return models[0]
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007 (built at run time)


@functools.cache
def _schema(models: tuple[type[BaseSource], ...]) -> type[ConfigBase]:
    entry = source_union(models)
    sources: Any = Annotated[list[entry], Field(min_length=1)]  # type: ignore[valid-type]
    return create_model("Config", __base__=ConfigBase, sources=(sources, ...))


if TYPE_CHECKING:
    Config = ConfigBase
else:  # the plug-ins registered at import (exporter/vendors)
    Config = _schema(tuple(p.config_model for p in plugins()))


def schema() -> type[ConfigBase]:
    """`Config`, or with a plug-in registered since, a `Config` that also validates its kind."""
    return _schema(tuple(p.config_model for p in plugins()))


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


# Every key renamed since 0.1.0; a rename is added here (never by dropping the old name),
# tested in tests/unit/config/test_compat.py. The words: docs/architecture.md, "Words".
RENAMED_KEYS: tuple[Rename, ...] = (
    # names and limits are *resources* (Stream.every, usage_exporter_resource_*)
    Rename("source", "info_interval", "resource_interval", "0.2.0"),
)


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


_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _raw_source(raw: Any, index: int) -> Mapping[str, Any]:
    """Entry `index` of the file's `sources` as written (empty when it is not a mapping)."""
    sources = raw.get("sources") if isinstance(raw, dict) else None
    if isinstance(sources, list) and 0 <= index < len(sources):
        entry = sources[index]
        if isinstance(entry, dict):
            return entry
    return {}


def source_label(index: int, name: object) -> str:
    """`sources[3] (acme-prod)`: the position, and the name the operator searches the file for
    (only a well-formed one: the message must stay one short line)."""
    if isinstance(name, str) and _NAME.match(name):
        return f"sources[{index}] ({name})"
    return f"sources[{index}]"


def _location(loc: tuple[int | str, ...], raw: Any = None) -> str:
    text = ""
    for position, part in enumerate(loc):
        if isinstance(part, int):
            if loc[:position] == ("sources",):
                text = source_label(part, _raw_source(raw, part).get("name"))
            else:
                text += f"[{part}]"
        elif part in kinds() and text.endswith(("]", ")")):
            continue  # the discriminator's tag adds nothing for a reader
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_in(annotation: Any) -> Any:
    """The model, or the dict or list of them, inside an `Optional`/`Annotated` annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
        return None
    if origin in (dict, list):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _keys_at(loc: tuple[int | str, ...], raw: Any) -> list[str]:
    """The valid keys of the mapping at `loc`, for a suggestion (empty when unknown)."""
    parts = list(loc)
    model: Any = schema()
    if len(parts) >= 2 and parts[0] == "sources" and isinstance(parts[1], int):
        tagged = len(parts) > 2 and parts[2] in kinds()
        kind = parts[2] if tagged else _raw_source(raw, parts[1]).get("kind")
        if not isinstance(kind, str) or kind not in kinds():
            return []
        model = plugin(kind).config_model
        parts = parts[3 if tagged else 2 :]
    for part in parts:
        model = _model_in(model)
        if get_origin(model) in (dict, list):
            model = get_args(model)[-1]  # `part` is the key or index: the element's model next
        elif (
            isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields
        ):
            model = model.model_fields[str(part)].annotation
        else:
            return []
    model = _model_in(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _did_you_mean(word: object, choices: Sequence[str]) -> str:
    """`; did you mean `interval`?` for the closest choice, or nothing when none is close."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return f"; did you mean `{close[0]}`?" if close else ""


def _describe(error: Mapping[str, Any], raw: Any = None) -> str:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        hint = _did_you_mean(loc[-1], _keys_at(loc[:-1], raw)) if loc else ""
        return f"{_location(loc, raw)}: unknown key{hint}"
    if kind == "missing":
        return f"{_location(loc[:-1], raw) or 'config'}: missing key '{loc[-1]}'"
    if kind == "union_tag_invalid":
        written = (
            _raw_source(raw, loc[-1]).get("kind") if loc and isinstance(loc[-1], int) else None
        )
        return (
            f"{_location(loc, raw)}.kind: kind must be one of: {', '.join(kinds())}"
            f"{_did_you_mean(written, kinds())}"
        )
    if kind == "union_tag_not_found":
        return f"{_location(loc, raw)}: missing key 'kind'"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{_location(loc, raw) or 'config'}: {message}"


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
    token, env_token = SYNTAX_ONLY.set(syntax_only), _ENV.set(env)
    try:
        return schema()(**data)
    except ValidationError as err:
        errors = err.errors(include_input=False, include_url=False)
        raise ConfigError("; ".join(_describe(e, raw) for e in errors[:5])) from None
    finally:
        SYNTAX_ONLY.reset(token)
        _ENV.reset(env_token)


def secrets(config: Config) -> list[str]:
    """Every credential in the config (API keys, proxy passwords), for the log redactor."""
    found = [s.secret() for s in config.sources if s.secret()]
    found += [s.proxy_url.password for s in config.sources if s.proxy_url and s.proxy_url.password]
    return found
