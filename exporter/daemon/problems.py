"""One warning per upstream problem, not one per request.

A wrong key refuses every request of a poll the same way (18 for an OpenAI organization: its
usage endpoints and listings). The operator needs to read that once per target and poll, with
the number of requests it affected; each request's own error (its endpoint and URL) stays in the
log at debug. Failures are one problem when they say the same thing once the request is taken
out of the text (`cause`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from exporter.upstream import UpstreamError

# `GET https://host/path...` -> `GET https://host`: the host stays part of the cause
_REQUEST = re.compile(r"\b((?:GET|POST) https?://[^/\s]+)/[^\s:;,]*")


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed read: the full, secret-free text and the cause it shares with others."""

    error: str
    cause: str


def failure(name: str, error: BaseException, text: str) -> Failure:
    """The failure of the read of stream or resource `name` whose message is `text`."""
    said = error.message if isinstance(error, UpstreamError) else text.removeprefix(f"{name}: ")
    return Failure(text, _REQUEST.sub(r"\1", said))


class ProblemLog:
    """Says the failures of a target's polls: one warning per cause, with `requests`."""

    def __init__(self, log: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._clock = clock
        self._said: dict[tuple[str, str], float] = {}  # (target, cause) -> when warned
        self._held: list[tuple[str, str, list[Failure], float]] | None = None

    def report(
        self, message: str, target: str, failures: Sequence[Failure], *, quiet: float
    ) -> None:
        """Each failure at debug; then, per cause, one warning with the first failure's text and
        the number of requests, unless the target warned of that cause less than `quiet`
        seconds ago (its other job, the usage poll or the listings, said it already)."""
        for each in failures:
            self._log.debug(message, extra={"target": target, "error": each.error})
        if self._held is not None:
            self._held.append((message, target, list(failures), quiet))
            return
        self._warn(message, target, failures, quiet)

    @contextmanager
    def held(self, message: str) -> Iterator[None]:
        """Collect the reports and say them at the end as `message`, merged per target and
        cause: `once` polls a target's usage and listings together, and that is one poll."""
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            merged: dict[str, tuple[list[Failure], float]] = {}
            for _, target, failures, quiet in held:
                merged.setdefault(target, ([], quiet))[0].extend(failures)
            for target, (together, quiet) in merged.items():
                self._warn(message, target, together, quiet)

    def _warn(self, message: str, target: str, failures: Sequence[Failure], quiet: float) -> None:
        groups: dict[str, list[Failure]] = {}
        for each in failures:
            groups.setdefault(each.cause, []).append(each)
        now = self._clock()
        for cause, group in groups.items():
            key = (target, cause)
            said = self._said.get(key)
            if said is not None and now - said < quiet:
                continue
            self._said[key] = now
            self._log.warning(
                message, extra={"target": target, "requests": len(group), "error": group[0].error}
            )
        if len(self._said) > 10_000:  # causes carry upstream text: keep the memory bounded
            self._said = {k: v for k, v in self._said.items() if now - v < quiet}
