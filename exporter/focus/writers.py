"""A dataset's rows as CSV or Parquet bytes, in chunks: memory stays flat in the rows.

CSV writes decimals as the ledger's floats exactly (`columns.decimal_text`) and null as an
empty field. Parquet (the optional extra `usage-exporter[parquet]`, pyarrow) writes decimals
as float64, the ledger's own values bit for bit, in row groups of `ROWS_PER_CHUNK`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from exporter.focus import columns as c
from exporter.focus.dataset import Dataset, Row

ROWS_PER_CHUNK = 10_000
FORMATS = {"csv": "text/csv; charset=us-ascii", "parquet": "application/vnd.apache.parquet"}
PARQUET_MISSING = (
    "Parquet needs pyarrow: pip install 'usage-exporter[parquet]' (or use the CSV format)"
)


class FormatUnavailable(Exception):
    """The format's library is not installed (Parquet without the `parquet` extra)."""


def csv_chunks(dataset: Dataset) -> Iterator[bytes]:
    """LedgerError (before any byte) when the state file is refused."""
    return _csv(dataset, dataset.rows())


def _csv(dataset: Dataset, rows: Iterator[Row]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(dataset.columns)
    decimals = {dataset.columns.index(name) for name in c.DECIMALS}
    for count, row in enumerate(rows, 1):
        writer.writerow(
            [
                ""
                if value is None
                else c.decimal_text(value)
                if i in decimals and isinstance(value, float)
                else value
                for i, value in enumerate(row)
            ]
        )
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("ascii")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("ascii")


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError:
        raise FormatUnavailable(PARQUET_MISSING) from None
    return pyarrow, pyarrow.parquet


def parquet_available() -> bool:
    try:
        _pyarrow()
    except FormatUnavailable:
        return False
    return True


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written since it was last asked."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def parquet_chunks(dataset: Dataset) -> Iterator[bytes]:
    """FormatUnavailable (before any byte) when pyarrow is missing; LedgerError when the state
    file is refused."""
    pa, pq = _pyarrow()
    decimals = set(c.DECIMALS)
    schema = pa.schema(
        [pa.field(n, pa.float64() if n in decimals else pa.string()) for n in dataset.columns]
    )
    return _parquet(dataset.columns, dataset.rows(), pa, pq, schema)


def _parquet(
    columns: tuple[str, ...], rows: Iterator[Row], pa: Any, pq: Any, schema: Any
) -> Iterator[bytes]:
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)
    width = len(columns)
    batch: list[list[Any]] = [[] for _ in range(width)]

    def flush() -> None:
        writer.write_table(pa.table(batch, schema=schema))
        for column in batch:
            column.clear()

    count = 0
    for row in rows:
        for i in range(width):
            batch[i].append(row[i])
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            flush()
            yield sink.take()
    if count % ROWS_PER_CHUNK or count == 0:
        flush()
    writer.close()
    yield sink.take()


def chunks(dataset: Dataset, fmt: str) -> Iterator[bytes]:
    return parquet_chunks(dataset) if fmt == "parquet" else csv_chunks(dataset)
