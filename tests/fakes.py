"""One fake of each collaborator the tests share, so that a change to a collaborator is made once
and a new vendor's unit test is a few lines of set-up:

- `Recorder`: the self-metrics, as an `Upstream` reports to them (`RequestRecorder`);
- `mock_upstream`: an `Upstream` whose requests a function (or an app) answers in process;
- `make_source`: a vendor's source built as the daemon builds it (`Plugin.config_model`,
  `upstream_settings`, `Plugin.build`), over such an upstream.

Nothing listens at `LOOPBACK`: a request that got past the fake would fail, not leave the machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx

from exporter.config.source import BaseSource
from exporter.model import Source
from exporter.plugin import Plugin, upstream_settings
from exporter.upstream import Upstream, UpstreamSettings

LOOPBACK = "http://127.0.0.1:1"
KEY = "unit-test-key"  # a target's key: long enough that its redaction blots out no word

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)
# what answers the requests: a handler (httpx.MockTransport) or a transport (an app in process)
Answers = Handler | httpx.AsyncBaseTransport
C = TypeVar("C", bound=BaseSource)


class Recorder:
    """The self-metrics an `Upstream` reports to, kept for the test to read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (endpoint, status code) of every request
        self.remaining: list[float] = []  # every rate-limit header read

    def upstream_request(self, target: str, source: str, endpoint: str, code: str) -> None:
        self.calls.append((endpoint, code))

    def rate_limit_remaining(self, target: str, source: str, value: float) -> None:
        self.remaining.append(value)

    @property
    def codes(self) -> list[str]:
        return [code for _, code in self.calls]


def answered(
    settings: UpstreamSettings,
    answers: Answers,
    recorder: Recorder | None,
    sleep: Callable[[float], Awaitable[None]] | None,
) -> Upstream:
    """An `Upstream` of `settings` whose requests `answers` answers."""
    if not isinstance(answers, httpx.AsyncBaseTransport):
        answers = httpx.MockTransport(answers)
    extra = {} if sleep is None else {"sleep": sleep}
    recorder = Recorder() if recorder is None else recorder
    return Upstream(settings, recorder, transport=answers, **extra)


def mock_upstream(
    answers: Answers,
    kind: str = "test",
    *,
    recorder: Recorder | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **settings: Any,
) -> Upstream:
    """An `Upstream` of a target of `kind` whose requests `answers` answers. `settings` replace
    `UpstreamSettings`' fields (by default: target `t`, no headers, no secret, no retries);
    `sleep` stands in for the waits between retries."""
    fields: dict[str, Any] = {
        "target": "t",
        "source": kind,
        "base_url": LOOPBACK,
        "headers": {},
        "secret": "",
        "retries": 0,
        **settings,
    }
    return answered(UpstreamSettings(**fields), answers, recorder, sleep)


def make_source(
    plugin: Plugin[C],
    answers: Answers,
    build: Callable[[C, Upstream], Source] | None = None,
    *,
    recorder: Recorder | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **config: Any,
) -> Source:
    """`plugin`'s source for one target (name `t`, key `KEY`, no retries; `config` adds and
    replaces keys), its upstream set up from the config as the daemon does it (the key is its
    secret, redacted from errors) and answered by `answers`. `build` makes one part of the
    plug-in's source instead of the whole (the usage source without the names and limits read
    beside it, say); `sleep` as in `mock_upstream`."""
    model = plugin.config_model.model_validate(
        {"kind": plugin.kind, "name": "t", "api_key": KEY, "retries": 0, **config}
    )
    upstream = answered(upstream_settings(plugin, model, LOOPBACK), answers, recorder, sleep)
    return (plugin.build if build is None else build)(model, upstream)
