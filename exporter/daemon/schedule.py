"""When a target is polled: two APScheduler jobs per target, its usage poll every `interval`
(with jitter, never overlapping itself) and its resources' job, which ticks often and reads each
resource only when its own interval has passed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter.daemon.resources import RESOURCE_TICK, resources_job
from exporter.daemon.targets import Target


def schedule(
    scheduler: AsyncIOScheduler,
    target: Target,
    first: dt.datetime,
    poll: Callable[[Target], Awaitable[Any]],
    poll_resources: Callable[[Target], Awaitable[Any]],
) -> None:
    """Add (or replace) the target's two jobs, the first run of each shortly after `first`."""
    scheduler.add_job(
        poll,
        "interval",
        args=[target],
        id=target.name,
        replace_existing=True,
        seconds=target.interval,
        jitter=min(target.interval * 0.1, 30.0),
        next_run_time=first + dt.timedelta(seconds=random.uniform(0, 0.5)),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(target.interval)),
    )
    # resources (names, limits): a job of their own, so they never delay a usage poll;
    # it ticks often and reads each resource only when its own interval has passed
    tick = min(target.interval, RESOURCE_TICK)
    scheduler.add_job(
        poll_resources,
        "interval",
        args=[target],
        id=resources_job(target.name),
        replace_existing=True,
        seconds=tick,
        next_run_time=first + dt.timedelta(seconds=random.uniform(0, 0.5)),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(tick)),
    )


def jobs(target: str) -> tuple[str, str]:
    """The ids of a target's jobs (and the keys of its polls in flight)."""
    return target, resources_job(target)
