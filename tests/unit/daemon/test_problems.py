"""One upstream problem, one warning: a wrong key refuses every request of a poll the same way
(18 for an OpenAI organization: 12 usage endpoints and 6 listings), and the operator reads it
once per target and poll, with the number of requests it affected; each request's own line is
at debug."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon

NOW = 1_763_900_000 - 1_763_900_000 % 3600 + 600
REFUSED = {
    "error": {
        "message": "Incorrect API key provided: sk-ad...rong.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


def config(tmp_path: Path, *names: str) -> Config:
    return Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "sources": [
                {
                    "kind": "openai",
                    "name": name,
                    "api_key": "sk-admin-wrong",
                    "base_url": "http://127.0.0.1:1",
                    "interval": 300,
                    "retries": 0,
                }
                for name in names
            ],
        }
    )


def refusing(counts: dict[str, int]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        counts[request.url.path] = counts.get(request.url.path, 0) + 1
        return httpx.Response(401, json=REFUSED)

    return httpx.MockTransport(handler)


def refusals(records: list[logging.LogRecord], level: int) -> list[logging.LogRecord]:
    return [
        r
        for r in records
        if r.levelno == level and "Incorrect API key" in str(getattr(r, "error", ""))
    ]


async def test_a_wrong_key_is_one_warning_per_target_with_the_requests_it_affected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counts: dict[str, int] = {}
    daemon = Daemon(
        config(tmp_path, "acme-prod", "acme-research"),
        clock=lambda: float(NOW),
        transport=refusing(counts),
    )
    caplog.set_level(logging.DEBUG)
    try:
        assert not await daemon.poll_all()
    finally:
        await daemon.aclose()
    requests = sum(counts.values())
    assert requests >= 2 * 13, counts  # every usage endpoint and every listing, per target
    warned = refusals(caplog.records, logging.WARNING)
    assert sorted(getattr(r, "target", "") for r in warned) == ["acme-prod", "acme-research"]
    assert sum(int(getattr(r, "requests", 0)) for r in warned) == requests
    assert all("HTTP 401 from GET http://127.0.0.1:1/v1/organization/" in r.error for r in warned)  # type: ignore[attr-defined]
    # the per-request detail is still there, at debug: one line per refused request
    assert len(refusals(caplog.records, logging.DEBUG)) == requests


async def test_the_next_poll_says_it_again_and_a_different_problem_is_its_own_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Grouped by cause, not silenced: another poll warns again (the key is still wrong), and
    a problem with another cause (one endpoint a 500) gets a warning of its own."""
    broken = "/v1/organization/usage/images"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == broken:
            return httpx.Response(500, json={"error": {"message": "upstream fell over"}})
        return httpx.Response(401, json=REFUSED)

    clock = [float(NOW)]
    daemon = Daemon(
        config(tmp_path, "acme-prod"),
        clock=lambda: clock[0],
        transport=httpx.MockTransport(handler),
    )
    caplog.set_level(logging.INFO)
    target = daemon.targets[0]
    try:
        assert not await daemon.poll(target)
        first = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(refusals(first, logging.WARNING)) == 1
        assert sum("upstream fell over" in str(getattr(r, "error", "")) for r in first) == 1
        assert len(first) == 2, [r.getMessage() for r in first]
        caplog.clear()
        clock[0] += 300
        assert not await daemon.poll(target)
        assert len(refusals(caplog.records, logging.WARNING)) == 1
    finally:
        await daemon.aclose()
