"""The shared HTTP policy: retries, Retry-After, caps, counting, and no secret in errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from exporter.upstream import Upstream, UpstreamError, error_message
from tests.fakes import Recorder, mock_upstream

SECRET = "sk-admin-SECRET-CANARY-1234"


def client(
    handler: Callable[[httpx.Request], httpx.Response], **overrides: object
) -> tuple[Upstream, Recorder, list[float]]:
    """An upstream presenting SECRET, with the default retries, and the waits it asked for."""
    recorder = Recorder()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = {"headers": {"Authorization": f"Bearer {SECRET}"}, "secret": SECRET, "retries": 3}
    upstream = mock_upstream(
        handler, "openai", recorder=recorder, sleep=sleep, **{**settings, **overrides}
    )
    return upstream, recorder, sleeps


def sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_retry_after_is_honoured_then_success() -> None:
    up, rec, sleeps = client(
        sequence(
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow"}}),
            httpx.Response(200, json={"ok": 1}),
        )
    )
    assert await up.get_json("completions", "/x") == {"ok": 1}
    assert sleeps == [7.0]
    assert rec.codes == ["429", "200"]


async def test_5xx_and_network_errors_are_retried_with_bounded_backoff() -> None:
    up, rec, sleeps = client(
        sequence(
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=[1]),
        ),
        retries=3,
        backoff_base=1.0,
        backoff_cap=4.0,
    )
    assert await up.get_json("costs", "/x") == [1]
    assert rec.codes == ["503", "error", "200"]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


async def test_retries_exhausted_raises_with_last_status() -> None:
    up, rec, _ = client(sequence(*[httpx.Response(502)] * 3), retries=2)
    with pytest.raises(UpstreamError) as info:
        await up.get_json("costs", "/x")
    assert info.value.status == 502
    assert rec.codes == ["502"] * 3


async def test_4xx_is_not_retried_and_the_secret_never_reaches_the_message() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    up, rec, sleeps = client(sequence(httpx.Response(401, json=body)))
    with pytest.raises(UpstreamError) as info:
        await up.get_json("completions", "/x")
    assert info.value.status == 401
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert "Incorrect API key" in str(info.value)
    assert sleeps == [] and rec.codes == ["401"]
    assert SECRET not in repr(up) and SECRET not in repr(up.settings)


async def test_too_long_retry_after_gives_up_for_this_poll() -> None:
    up, _, sleeps = client(
        sequence(httpx.Response(429, headers={"Retry-After": "3600"})), max_retry_after=60
    )
    with pytest.raises(UpstreamError, match="exceeds"):
        await up.get_json("completions", "/x")
    assert sleeps == []


async def test_body_over_the_cap_is_refused() -> None:
    up, _, _ = client(
        sequence(httpx.Response(200, content=b"[" + b"1," * 5000 + b"1]")),
        max_body_bytes=1000,
        retries=0,
    )
    with pytest.raises(UpstreamError, match="cap"):
        await up.get_json("completions", "/x")


async def test_invalid_json_is_retried() -> None:
    up, rec, _ = client(
        sequence(httpx.Response(200, content=b'{"data": ['), httpx.Response(200, json={"data": []}))
    )
    assert await up.get_json("completions", "/x") == {"data": []}
    assert rec.codes == ["200", "200"]


async def test_rate_limit_header_is_recorded() -> None:
    answer = httpx.Response(200, headers={"x-ratelimit-remaining": "41"}, json={})
    up, rec, _ = client(sequence(answer), rate_limit_header="x-ratelimit-remaining")
    await up.get_json("usage", "/x")
    assert rec.remaining == [41.0]


async def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={})

    up = mock_upstream(handler, max_concurrency=2)
    await asyncio.gather(*(up.get_json("e", "/x") for _ in range(8)))
    assert peak == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "m"}}', "m"),
        (
            b'{"errors": [{"code": "10011", "title": "Too many requests"}]}',
            "10011 Too many requests",
        ),
        (b'{"success": false, "error": "FORBIDDEN", "message": "no"}', "FORBIDDEN: no"),
        (b'{"detail": [{"loc": ["query", "start_time"], "msg": "bad"}]}', "query.start_time: bad"),
        (b"not json", ""),
    ],
)
def test_error_message_of_each_envelope(body: bytes, expected: str) -> None:
    assert error_message(body) == expected


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ConnectError("refused"), "network error: ConnectError"),
        (httpx.ReadTimeout("slow"), "timed out"),
    ],
)
async def test_a_network_error_names_the_host_and_path_it_tried(
    failure: Exception, words: str
) -> None:
    """`ListBuckets: network error: ConnectError` named no host: the operator could not tell
    which endpoint key to fix. The query (which may carry tokens) and user info stay out."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise failure

    upstream, _, _ = client(refuse, retries=0, base_url="http://user:pw@127.0.0.1:1/api")
    with pytest.raises(UpstreamError) as caught:
        await upstream.get("usage", "/v1/usage", [("token", SECRET), ("limit", "7")])
    text = str(caught.value)
    assert words in text
    assert "GET http://127.0.0.1:1/api/v1/usage" in text, text
    assert SECRET not in text and "limit" not in text and "pw" not in text

    with pytest.raises(UpstreamError) as absolute:
        await upstream.get("ListBuckets", "https://eu-central-1.s3.example.invalid/")
    assert "GET https://eu-central-1.s3.example.invalid/" in str(absolute.value)
