"""What a failed upstream call says: a secret-free error, and the human message of the
vendors' common error envelopes."""

from __future__ import annotations

import json


class UpstreamError(Exception):
    """A call that did not yield a usable answer, after retries. The message is secret-free."""

    def __init__(self, endpoint: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.message = message
        self.status = status


def error_message(body: bytes) -> str:
    """The human message of the common error envelopes (`error`, `errors[]`, `detail`, ...)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return " ".join(str(first[k]) for k in ("code", "title", "detail") if first.get(k))
    if isinstance(data.get("message"), str):
        prefix = f"{error}: " if isinstance(error, str) else ""
        return prefix + str(data["message"])
    detail = data.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p is not None)
                parts.append(f"{loc}: {item.get('msg', '')}")
        return "; ".join(parts)
    return ""
