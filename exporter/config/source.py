"""What every source's configuration shares: durations, instants, `tls_config` and the keys
common to all kinds (`BaseSource`). A vendor's own model (exporter/vendors/<kind>/config.py)
extends `BaseSource`; exporter/config/load.py assembles them into the file's schema.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (86400, 3600, 60, 1)


# --syntax-only: files named by the config (api_key_file, tls_config) are not read
SYNTAX_ONLY: ContextVar[bool] = ContextVar("syntax_only", default=False)


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


def check_keys(keys: list[str], allowed: tuple[str, ...]) -> list[str]:
    for key in keys:
        if key not in allowed:
            raise ValueError(f"{key!r} is not one of {', '.join(allowed)}")
    if len(set(keys)) != len(keys):
        raise ValueError("a key is listed twice")
    return keys


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSConfig(Strict):
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
        if SYNTAX_ONLY.get():
            return self
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        return self


class BaseSource(Strict):
    """Keys every source kind shares."""

    kind: str  # narrowed by each kind's model to its `Literal` (the union's discriminator)
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

    def lookbacks(self) -> list[tuple[str, Duration | None]]:
        """Each lookback this source sets, by its field's path: check-config warns of one shorter
        than the vendor's documented lateness. A kind with more (per endpoint) lists them all."""
        return [("lookback", self.lookback)]

    def groupings(self) -> list[tuple[str, list[str]]]:
        """Each grouping this source sets, by its field's path: check-config warns of keys that
        grow with the organization (`Plugin.wide_keys`). None by default."""
        return []

    @field_validator("proxy_url", "base_url")
    @classmethod
    def _http_only(cls, value: HttpUrl | None, info: ValidationInfo) -> HttpUrl | None:
        if value is not None and value.scheme not in ("http", "https"):
            what = "proxy URL" if info.field_name == "proxy_url" else "URL"
            raise ValueError(f"must be an http:// or https:// {what}")
        return value

    @model_validator(mode="after")
    def _secret_and_timeout(self) -> BaseSource:
        if (self.api_key is None) == (self.api_key_file is None):
            raise ValueError("give exactly one of api_key or api_key_file")
        if self.proxy_url is not None and self.proxy_from_environment:
            raise ValueError("give proxy_url or proxy_from_environment, not both")
        if self.api_key_file is not None and not SYNTAX_ONLY.get():
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
        """The credential (from `api_key`, or `api_key_file` read at load): the one place the
        daemon's Authorization header and the log redactor take it from."""
        return self.api_key.get_secret_value() if self.api_key is not None else ""


def check_endpoints(endpoints: list[str]) -> list[str]:
    """An `endpoints:` list (of a kind that reads several): at least one, none twice."""
    if not endpoints:
        raise ValueError("list at least one endpoint")
    if len(set(endpoints)) != len(endpoints):
        raise ValueError("an endpoint is listed twice")
    return endpoints
