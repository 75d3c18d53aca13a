"""Structured logging (logfmt or JSON) with a last line of defence against leaked secrets.

Every line passes the redactor: a registered credential, or anything after `Bearer `, becomes
`<redacted>`, at every level, whatever a library chose to log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE)
_SECRETS: set[str] = set()
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_NOISY = ("httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler")


def register_secret(value: str) -> None:
    """Never print `value` (values under 4 characters are too common to redact)."""
    if len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    text = _BEARER.sub(r"\1<redacted>", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    fields: dict[str, Any] = {
        "ts": f"{stamp}.{int(record.msecs):03d}Z",
        "level": record.levelname.lower().replace("warning", "warn"),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and not any(c in text for c in ' ="\\\n\t') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(json.dumps(_fields(record), default=str, ensure_ascii=False))


def configure_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Configure the root logger to write one structured line per record to stderr."""
    if level not in _LEVELS:
        raise ValueError(f"--log.level: {level!r} is not one of debug, info, warn, error")
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"--log.format: {fmt!r} is not one of logfmt, json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
