"""A series' numbers in one array (`Series.nums`): its open buckets opened, changed in place,
dropped (their places squeezed out once they outnumber the buckets) and restored, checked
against a plain dict of (end, value) through random operations. (That a poll changes the
series in place: tests/unit/ledger/test_ledger.py.)"""

from __future__ import annotations

import random

from exporter.ledger.series import Series, kept_labels

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
