"""The HTTP client every source reads its upstream through.

It owns what all upstreams share: timeouts, retries with backoff and jitter on network errors and
5xx, `Retry-After` on 429, a bound on calls in flight per target, a cap on response size, and one
`usage_exporter_upstream_requests_total` increment per HTTP call. It never lets the credential
into an exception message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import json
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from exporter.upstream.errors import UpstreamError, error_message
from exporter.upstream.settings import TLSSettings, UpstreamSettings

log = logging.getLogger("exporter.upstream")

Params = Sequence[tuple[str, str]]
T = TypeVar("T")


class RequestRecorder(Protocol):
    """Where the client reports each call; `exporter.selfmetrics.SelfMetrics` is one."""

    def upstream_request(self, target: str, source: str, endpoint: str, code: str) -> None: ...

    def rate_limit_remaining(self, target: str, source: str, value: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    data: Any = None  # the decoded JSON, when asked for
    url: str = ""  # scheme, host and path only: no query, no user info


class Upstream:
    """An async client for one target: `get_json` and `get` with the shared policy applied."""

    def __init__(
        self,
        settings: UpstreamSettings,
        recorder: RequestRecorder,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._recorder = recorder
        self._sleep = sleep
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        tls = settings.tls
        verify: ssl.SSLContext | bool = True
        if tls is not None or not settings.trust_env:
            # An explicit context: with trust_env httpx would also read SSL_CERT_FILE/DIR.
            verify = (tls or TLSSettings()).context()
        self._extensions = {"sni_hostname": tls.server_name} if tls and tls.server_name else {}
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            headers=dict(settings.headers),
            timeout=httpx.Timeout(settings.timeout),
            transport=transport,
            follow_redirects=False,
            verify=verify,
            proxy=settings.proxy,
            trust_env=settings.trust_env,
        )

    def __repr__(self) -> str:
        return f"Upstream(target={self.settings.target!r})"

    def with_own_slots(self, slots: int = 1) -> Upstream:
        """The same client (headers, TLS, proxy, retries, metrics) with a concurrency limit of
        its own: calls made through it (names and limits, read on their own schedule) neither
        wait for nor hold a slot of the usage reads. Closed with this one."""
        twin = copy.copy(self)
        twin._slots = asyncio.Semaphore(slots)
        return twin

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, endpoint: str, path: str, params: Params = ()) -> Any:
        """GET and decode JSON; a 2xx answer that is not JSON is retried like a 5xx."""
        response = await self.get(endpoint, path, params, decode_json=True)
        return response.data

    async def post_json(self, endpoint: str, path: str, params: Params, body: Any) -> Any:
        """POST a JSON body to a read-only search operation (a vendor's search endpoint) and decode
        the JSON answer; retried like a GET, since it changes nothing upstream."""
        response = await self.get(endpoint, path, params, decode_json=True, json_body=body)
        return response.data

    async def get(
        self,
        endpoint: str,
        path: str,
        params: Params = (),
        *,
        headers: Mapping[str, str] | None = None,
        decode_json: bool = False,
        json_body: Any = None,
    ) -> Response:
        """GET with retries. Raises UpstreamError for a non-2xx answer after the retries.

        `endpoint` is the short name used in metrics and messages, never a URL with a query.
        """
        attempts = self.settings.retries + 1
        last: UpstreamError | None = None
        for attempt in range(attempts):
            delay: float | None = None
            try:
                response = await self._call(endpoint, path, params, headers, json_body)
            except UpstreamError as err:  # network error, timeout, oversized body
                last = err
            else:
                if 200 <= response.status < 300:
                    if not decode_json:
                        return response
                    try:
                        data = json.loads(response.body)
                    except (ValueError, UnicodeDecodeError):
                        last = UpstreamError(
                            endpoint, "answer is not valid JSON", status=response.status
                        )
                    else:
                        return Response(response.status, response.headers, response.body, data)
                elif response.status == 429:
                    retry_after = _retry_after(response.headers)
                    last = UpstreamError(
                        endpoint, f"rate limited (429){self._detail(response)}", status=429
                    )
                    if retry_after is not None:
                        if retry_after > self.settings.max_retry_after:
                            raise UpstreamError(
                                endpoint,
                                f"rate limited (429), Retry-After {retry_after:.0f}s exceeds "
                                f"{self.settings.max_retry_after:.0f}s: will retry next poll",
                                status=429,
                            )
                        delay = retry_after
                elif response.status >= 500:
                    last = UpstreamError(
                        endpoint,
                        f"server error {response.status}{self._detail(response)}",
                        status=response.status,
                    )
                else:  # 4xx other than 429: retrying will not help
                    hint = self.settings.hints.get(response.status)
                    raise UpstreamError(
                        endpoint,
                        f"HTTP {response.status} from {'GET' if json_body is None else 'POST'}"
                        f" {response.url}"
                        f"{': ' + hint if hint else ''}{self._detail(response)}",
                        status=response.status,
                    )
            if attempt + 1 < attempts:
                if delay is None:
                    delay = self._backoff(attempt)
                log.debug(
                    "retrying upstream call",
                    extra={
                        "target": self.settings.target,
                        "endpoint": endpoint,
                        "attempt": attempt + 1,
                        "delay": round(delay, 3),
                        "error": str(last),
                    },
                )
                await self._sleep(delay)
        assert last is not None
        raise last

    async def _call(
        self,
        endpoint: str,
        path: str,
        params: Params,
        headers: Mapping[str, str] | None,
        json_body: Any = None,
    ) -> Response:
        code = "error"
        method = "GET" if json_body is None else "POST"
        try:
            async with (
                self._slots,
                self._client.stream(
                    method,
                    path,
                    params=list(params),
                    json=json_body,
                    headers=headers,
                    extensions=self._extensions or None,
                ) as response,
            ):
                code = str(response.status_code)
                body = await self._read_capped(endpoint, response)
                self._note_rate_limit(response.headers)
                url = response.url.copy_with(query=None, fragment=None, userinfo=b"")
                return Response(response.status_code, response.headers, body, url=str(url))
        except httpx.TimeoutException:
            raise UpstreamError(endpoint, f"timed out on {self._where(method, path)}") from None
        except httpx.HTTPError as err:
            raise UpstreamError(
                endpoint, f"network error: {type(err).__name__} on {self._where(method, path)}"
            ) from None
        finally:
            self._recorder.upstream_request(
                self.settings.target, self.settings.source, endpoint, code
            )

    def _where(self, method: str, path: str) -> str:
        """The request a network error names, so the operator knows which host (and which
        endpoint key) to fix: method, scheme, host and path; never the query or user info."""
        url = self._client.build_request(method, path).url
        return f"{method} {url.copy_with(query=None, fragment=None, userinfo=b'')}"

    async def _read_capped(self, endpoint: str, response: httpx.Response) -> bytes:
        cap = self.settings.max_body_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise UpstreamError(
                endpoint, f"response of {declared} bytes exceeds the {cap}-byte cap"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise UpstreamError(endpoint, f"response exceeds the {cap}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        name = self.settings.rate_limit_header
        value = headers.get(name) if name else None
        if value is None:
            return
        try:
            remaining = float(value)
        except ValueError:
            return
        self._recorder.rate_limit_remaining(self.settings.target, self.settings.source, remaining)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2**attempt)
        return random.uniform(0, ceiling)

    def _detail(self, response: Response) -> str:
        """A short, secret-free excerpt of the upstream's own error message."""
        message = error_message(response.body)
        if not message:
            return ""
        if self.settings.secret:
            message = message.replace(self.settings.secret, "<redacted>")
        return f": {message[:300]}"


async def gather_all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run calls concurrently; on the first failure cancel the rest and raise that failure."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_wrap(call)) for call in calls]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _wrap(call: Awaitable[T]) -> T:
    return await call


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
