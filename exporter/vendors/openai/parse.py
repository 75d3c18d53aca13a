"""The parser of OpenAI's usage and costs buckets: a bucket's results become flows, one per
quantity, labelled by the group keys the endpoint supports; tolerant of fields it does not know
(counted as drift), strict about numbers (garbage fails the read).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from exporter.model import Flow
from exporter.upstream import UpstreamError
from exporter.upstream.values import quantity
from exporter.vendors.openai.api import Endpoint
from exporter.vendors.openai.metrics import FAMILIES

_LABELS_OF = {f.name: f.labels for f in FAMILIES}
# Fields a result may carry that are neither quantities nor group keys, but are known.
_KNOWN_EXTRA = frozenset({"object"})


class BucketParser:
    """Turns the buckets of one endpoint into flows; tolerant of drift, strict about numbers."""

    def __init__(self, spec: Endpoint) -> None:
        self.spec = spec
        self.unknown: set[str] = set()
        self.non_usd: set[str] = set()
        self._known = (
            frozenset(spec.quantities)
            | frozenset(spec.group_by)
            | frozenset(spec.fields_as_labels)
            | _KNOWN_EXTRA
        )
        self._label_fields = (*spec.group_by, *spec.fields_as_labels)
        # A result's label values, then every quantity's fixed labels, then "": each quantity
        # picks its family's label tuple from that one row by position (a fixed label wins
        # over a result field of the same name; a label neither gives is "").
        width = len(self._label_fields)
        self._constants: list[str] = []
        self._quantities: list[tuple[str, str, Callable[[list[str]], tuple[str, ...]]]] = []
        for field, (family, fixed) in spec.quantities.items():
            at = {n: i for i, n in enumerate(self._label_fields)}
            for label, value in fixed.items():
                at[label] = width + len(self._constants)
                self._constants.append(value)
            self._quantities.append(
                (field, family, _picker([at.get(n, -1) for n in _LABELS_OF[family]]))
            )
        self._constants.append("")  # position -1

    def bucket(self, bucket: Any) -> Iterator[Flow]:
        name = self.spec.name
        if not isinstance(bucket, dict):
            raise UpstreamError(name, "a bucket is not an object")
        start = _integer(bucket.get("start_time"), name, "start_time")
        end = _integer(bucket.get("end_time"), name, "end_time")
        results = bucket.get("results", bucket.get("result"))  # older specs spelled it `result`
        if results is None:
            results = []
        if not isinstance(results, list):
            raise UpstreamError(name, "bucket results is not a list")
        for key in bucket:
            if key not in ("object", "start_time", "end_time", "results", "result"):
                self.unknown.add(f"bucket.{key}")
        for result in results:
            yield from self.result(result, start, end)

    def result(self, result: Any, start: int, end: int) -> list[Flow]:
        name = self.spec.name
        if not isinstance(result, dict):
            raise UpstreamError(name, "a result is not an object")
        if unknown := result.keys() - self._known:
            self.unknown |= unknown
        get = result.get
        row = [
            value if type(value) is str else label_value(value)
            for value in map(get, self._label_fields)
        ]
        row += self._constants
        flows = []
        for field, family, pick in self._quantities:
            raw = get(field)
            if raw is None:
                continue
            if field == "amount":
                value = self._amount(raw)
                if value is None:
                    continue
            elif type(raw) is int and raw >= 0:  # the usual count: `quantity`'s checks, inlined
                value = float(raw)
            else:
                value = quantity(raw, name, field, strings=True)
            flows.append(Flow(family, pick(row), start, end, value))
        return flows

    def _amount(self, raw: Any) -> float | None:
        if not isinstance(raw, dict):
            raise UpstreamError(self.spec.name, "amount is not an object")
        currency = str(raw.get("currency") or "usd").lower()
        if currency != "usd":
            self.non_usd.add(currency[:16])
            return None
        return quantity(raw.get("value", 0), self.spec.name, "amount.value", strings=True)


def _picker(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """A function of a row that returns the values at `positions` as a tuple."""
    if len(positions) == 1:
        only = positions[0]
        return lambda row: (row[only],)
    if not positions:
        return lambda row: ()
    return operator.itemgetter(*positions)


def label_value(value: Any) -> str:
    """A group value as a label: none is empty, a boolean is JSON's `true`/`false`.

    The tests' expected values write the same rule on their own (simulator's `label`), so that a
    change here shows as a mismatch instead of moving both sides at once."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _integer(value: Any, endpoint: str, field: str) -> int:
    number = quantity(value, endpoint, field)
    if number != int(number):
        raise UpstreamError(endpoint, f"{field}: expected whole seconds, got {number}")
    return int(number)
