"""What the simulator frame offers a vendor's twin, and what a twin hands back.

A vendor package's twin (`exporter/vendors/<kind>/routes.py`) mounts its routes on the frame:
the upstream API's paths and its `/_sim/<kind>/...` ground truth. The frame (simulator/app.py)
owns the clock, the fault injector, the request log and the control endpoints.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from exporter.plugin import Twin, plain_key
from exporter.simulator.compare import Series, SeriesKey
from exporter.simulator.usage import HOUR, Revisions

if TYPE_CHECKING:  # the faults package uses `Shape` and `Reviser` from here
    from exporter.simulator.faults import Fault, FaultInjector


@dataclass(frozen=True, slots=True)
class Shape:
    """What body faults need to know of an upstream's JSON answers.

    `quantities`: the counted fields (an object holding one is a record). `required`: fields a
    reader cannot do without. A record's time is its own `start_time` or `timestamp`, or the
    nearest enclosing object's, or the time the call asked for (windows asked for by time).
    """

    quantities: frozenset[str]
    required: tuple[str, ...]


# A reviser applies a late revision for one vendor: (who, request, up, rng) -> applied?
Reviser = Callable[[str, Request, bool, random.Random], bool]


@dataclass(frozen=True, slots=True)
class Frame:
    """The simulator's shared parts, as one twin sees them."""

    seed: int
    start: int  # unix time where generated usage begins
    late_seconds: int
    max_page_buckets: int | None
    keys: Mapping[str, Any]  # the keys this vendor accepts -> who (org, account, ...)
    faults: FaultInjector
    now: Callable[[], int]


@dataclass(frozen=True, slots=True)
class Mounted:
    """A twin's routes and the state the frame reports on (`/_sim/stats`, revisions)."""

    routes: list[BaseRoute]
    revisions: Revisions
    reviser: Reviser  # applies a late revision for a call (`revise_up`, `revise_down` faults)
    drift: bool = False  # the `drift` fault (unknown fields, amounts as strings) applies


# (twin URL, the target's config, who its key belongs to in the twin, the exporter's counters
# of the target) -> the counters the target must show, from the twin's ground truth
Expected = Callable[[str, Any, Any, Mapping[SeriesKey, Series]], dict[SeriesKey, float]]

# `Twin` (a plug-in's simulator hooks) is declared in exporter/plugin.py, where the daemon can
# read a plug-in without importing the simulator; named here too for plug-ins that import it
# from here (CONTRIBUTING.md, "A vendor outside this repository").
__all__ = ["Expected", "Frame", "Mounted", "Reviser", "Shape", "Twin", "plain_key", "with_headers"]


def with_headers(response: Response, headers: Mapping[str, str]) -> Response:
    response.headers.update(headers)
    return response


class GeneratedUsage:
    """A twin's usage, generated from the seed: none before `usage_start` (aligned down to the
    hour), each minute visible `late` seconds after it ends, plus the late revisions the
    `revise_up`/`revise_down` faults apply (`revisions`, reported by the frame)."""

    def __init__(self, seed: int, usage_start: int, late: int) -> None:
        self.seed = seed
        self.usage_start = usage_start - usage_start % HOUR
        self.late = late
        self.revisions = Revisions(late)


def admitted(
    frame: Frame, kind: str, request: Request, who: Any, *, json_answer: bool = True
) -> tuple[Any, Fault | None, int] | Response:
    """A call to a twin's API: the frame's fault queue admits it (a refusal, `who` being a
    Response, is counted and answered as it is), with the fault it meets, if any, and the
    simulator's time to answer it at."""
    admission = frame.faults.admit(kind, request, who, json_answer=json_answer)
    if isinstance(admission, Response):
        return admission
    caller, fault = admission
    return caller, fault, frame.now()
