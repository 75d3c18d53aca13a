"""The read side: a family's samples from the in-memory model, for a rendering. Runs off the
event loop: its caller (`Ledger.samples`) holds the publish lock, so no commit changes a series
while it reads."""

from __future__ import annotations

import math

from exporter.ledger.series import TargetState, day_start
from exporter.model import Family, Kind, Labels, Period, Sample, month_start


def period_start(period: Period, t: int) -> int:
    return day_start(t) if period is Period.DAY else month_start(t)


def family_samples(state: TargetState, family: Family, now: int) -> list[Sample]:
    if family.kind is Kind.COUNTER:
        series = state.series.get(family.name, {})
        # In creation order (stable across restarts: loaded by id), not sorted: sorting
        # 100k label tuples on every render costs more than the rest of this method.
        return [s.make_sample() for s in list(series.values())]
    if family.sums and family.period is not None:
        start = period_start(family.period, now)
        series = state.series.get(family.sums, {})
        samples = []
        for labels, s in list(series.items()):
            settled = s.periods.get((family.period.value, start), 0.0)
            open_values = [s.nums[at + 1] for (_, b), at in s.open.items() if b >= start]
            samples.append(Sample(labels, math.fsum([settled, *open_values])))
        return samples
    values: dict[Labels, float] = {}
    for levels in list(state.levels.values()):
        for (name, labels), value in list(levels.items()):
            if name == family.name:
                values[labels] = values.get(labels, 0.0) + value
    return [Sample(labels, v) for labels, v in sorted(values.items())]
