"""A series' numbers in one array (`Series.nums`): its open buckets opened, changed in place,
dropped (their places squeezed out once they outnumber the buckets) and restored, checked
against a plain dict of (end, value) through random operations; the layouts of open buckets
shared while they are few. (That a poll changes the series in place:
tests/unit/ledger/test_ledger.py.)"""

from __future__ import annotations

import random

import pytest

from exporter.ledger.layout import SHARED_UP_TO, Layout
from exporter.ledger.series import Series, kept_labels, new_nums

H = 3600
T0 = 1_760_000_400 - 1_760_000_400 % H


def test_buckets_follow_a_plain_dict_through_random_operations() -> None:
    rng = random.Random(5)
    series = Series.new(1, "f", ("a",), T0, 2.5, 7.0)
    model: dict[tuple[str, int], tuple[int, float]] = {}
    for _ in range(3000):
        key = ("s", T0 + rng.randrange(40) * H)
        action = rng.random()
        if action < 0.5:
            end, value = key[1] + H, float(rng.randrange(1, 10**6))
            series.set_bucket(key, end, value)
            model[key] = (end, value)
        elif action < 0.8 and model:
            key = rng.choice(sorted(model))
            assert series.drop_bucket(key) == model.pop(key)
        else:
            old = model.get(key) if rng.random() < 0.5 else (key[1] + 60, 1.5)
            series.restore_bucket(key, old)
            if old is None:
                model.pop(key, None)
            else:
                model[key] = old
        assert series.buckets == model
        assert {k: series.bucket(k) for k in model} == model
        assert sorted(series.bucket_values()) == sorted(v for _, v in model.values())
        # base and counter untouched; unused places never more than the buckets (and one)
        assert (series.base, series.emitted) == (2.5, 7.0)
        assert len(series.nums) <= 2 + 4 * len(model) + 2
        if not model:
            assert len(series.nums) == 2


def test_a_dropped_bucket_in_the_middle_leaves_its_place_until_squeezed() -> None:
    series = Series.new(1, "f", ("a",), T0, 0.0, 0.0)
    keys = [("s", T0 + i * H) for i in range(4)]
    for i, key in enumerate(keys):
        series.set_bucket(key, key[1] + H, float(i + 1))
    series.drop_bucket(keys[0])
    assert len(series.nums) == 2 + 2 * 4  # the first one's place unused
    assert series.true_sum() == 2 + 3 + 4
    series.drop_bucket(keys[1])
    series.drop_bucket(keys[2])  # three places unused, one bucket: squeezed
    assert len(series.nums) == 4 and series.buckets == {keys[3]: (keys[3][1] + H, 4.0)}
    series.drop_bucket(keys[3])
    assert len(series.nums) == 2 and series.true_sum() == 0.0


def test_a_copy_holds_its_own_numbers() -> None:
    series = Series.new(1, "f", ("a",), T0, 1.0, 3.0)
    series.set_bucket(("s", T0), T0 + H, 2.0)
    copy = series.copy()
    series.set_bucket(("s", T0), T0 + H, 5.0)
    series.base = 9.0
    assert copy.buckets == {("s", T0): (T0 + H, 2.0)} and copy.base == 1.0


def test_new_label_values_are_copied_and_interned() -> None:
    read = "".join(["user-", "1234567"])  # made at run time, as a parser makes it
    kept = kept_labels((read, "gpt"))
    assert kept == (read, "gpt") and kept[0] is not read
    assert kept_labels(("".join(["user-", "1234567"]), "gpt"))[0] is kept[0]  # interned


@pytest.mark.parametrize("room", [0, 1, 3, 7])
def test_a_new_series_opens_the_buckets_it_has_room_for_in_its_first_buffer(room: int) -> None:
    series = Series(1, "f", ("a",), T0, new_nums(room))
    assert list(series.nums) == [0.0, 0.0]
    buffer = series.nums.buffer_info()[0]
    for i in range(room):
        series.set_bucket(("s", T0 + i * H), T0 + (i + 1) * H, float(i + 1))
    assert series.nums.buffer_info()[0] == buffer  # never grown (moved)
    assert series.buckets == {("s", T0 + i * H): (T0 + (i + 1) * H, i + 1.0) for i in range(room)}


def test_series_with_the_same_open_buckets_share_one_layout() -> None:
    one, two = (Series.new(i, "f", (str(i),), T0, 0.0, 0.0) for i in (1, 2))
    for series in (one, two):
        for hour in range(3):
            series.set_bucket(("s", T0 + hour * H), T0 + (hour + 1) * H, 1.0 + hour)
    assert one.open is two.open and type(one.open) is Layout
    with pytest.raises(TypeError):
        one.open[("s", 0)] = 9  # shared: a series moves to another layout instead
    one.drop_bucket(("s", T0))
    assert one.open is not two.open and len(two.open) == 3
    two.drop_bucket(("s", T0))
    assert one.open is two.open and one.nums == two.nums


def test_beyond_a_few_buckets_each_series_has_a_dict_of_its_own() -> None:
    """Two series that cross `SHARED_UP_TO` by the same move get a dict each (one handed to
    both would take one's buckets into the other)."""
    one, two = (Series.new(i, "f", (str(i),), T0, 0.0, 0.0) for i in (1, 2))
    for hour in range(SHARED_UP_TO + 3):
        for series in (one, two):
            series.set_bucket(("s", T0 + hour * H), T0 + (hour + 1) * H, float(series.id))
    assert type(one.open) is dict and one.open is not two.open
    one.set_bucket(("t", T0), T0 + H, 5.0)
    assert ("t", T0) not in two.open
    assert set(two.bucket_values()) == {2.0} and 5.0 in one.bucket_values()
