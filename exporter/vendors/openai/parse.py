"""The parser of OpenAI's usage and costs buckets: a bucket's results become flows, one per
quantity, labelled by the group keys the endpoint supports; tolerant of fields it does not know
(counted as drift), strict about numbers (garbage fails the read).
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def result(self, result: Any, start: int, end: int) -> Iterator[Flow]:
        name = self.spec.name
        if not isinstance(result, dict):
            raise UpstreamError(name, "a result is not an object")
        for key in result:
            if key not in self._known:
                self.unknown.add(key)
        keys = {k: label_value(result.get(k)) for k in self._label_fields}
        for field, (family, fixed) in self.spec.quantities.items():
            raw = result.get(field)
            if raw is None:
                continue
            if field == "amount":
                value = self._amount(raw)
                if value is None:
                    continue
            else:
                value = quantity(raw, name, field, strings=True)
            labels = {**keys, **fixed}
            yield Flow(
                family, tuple(labels.get(n, "") for n in _LABELS_OF[family]), start, end, value
            )

    def _amount(self, raw: Any) -> float | None:
        if not isinstance(raw, dict):
            raise UpstreamError(self.spec.name, "amount is not an object")
        currency = str(raw.get("currency") or "usd").lower()
        if currency != "usd":
            self.non_usd.add(currency[:16])
            return None
        return quantity(raw.get("value", 0), self.spec.name, "amount.value", strings=True)


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
