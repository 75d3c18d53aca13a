"""Renders the ledger's samples and the self-metrics to exposition bytes, once per change.

Two variants are kept ready, text 0.0.4 and OpenMetrics, each as one gzip member, so a gzip
scrape is a memory copy whatever the number of series (a plain one inflates as it sends). Label
values are untrusted upstream text: the ledger bounds them before a series is keyed
(`model.bound_label`) and they are escaped here, and nowhere else. `_created` goes into
OpenMetrics only; in the text format it would double the series count.
"""

from __future__ import annotations

import functools
import math
import operator
import struct
import threading
from array import array
from collections.abc import Iterable
from itertools import repeat
from typing import NamedTuple

from isal import isal_zlib
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from exporter.exposition.served import Exposition
from exporter.model import Family, FamilySamples, Kind, Labels, bound_label

disable_created_metrics()  # self-metrics: no `_created` series in the text format either


def escape_label(value: str) -> str:
    """A label value made safe: bounded, valid UTF-8, with `\\`, `"` and newline escaped."""
    value = bound_label(value)
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _value(value: float) -> str:
    """floatToGoString's text, with the common case (no exponent, finite) taken first."""
    if -1e6 < value < 1e6:
        return repr(value)
    return str(floatToGoString(value))


# Creation times repeat: every series that began in one poll shares its origin.
_created = functools.lru_cache(maxsize=4096)(_value)


class _Escaped(dict[str, str]):
    """Escaped label values of one render: most values (projects, models) repeat."""

    def __missing__(self, value: str) -> str:
        escaped = self[value] = escape_label(value)
        return escaped


class _Part(NamedTuple):
    """A piece of the exposition as its two gzip variants hold it: each format's deflate segment,
    and the CRC-32 and length of the plain bytes it compresses (the trailer combines them)."""

    text: bytes | memoryview
    openmetrics: bytes | memoryview
    text_crc: int
    text_size: int
    openmetrics_crc: int
    openmetrics_size: int


class _Chunk(NamedTuple):
    """Up to `Renderer.CHUNK` series of one family and target as last rendered: what they were
    rendered from (label values, values, creation times), where their deflate segments sit in
    the previous exposition's gzip variants (offset, length; text then OpenMetrics), their plain
    CRC-32s and lengths, and the label part of each series' lines joined by newlines (an escaped
    label value holds none). Kept per chunk, in a few large blocks, not per series: a string and
    a sample each (about 230 bytes a series) would be small objects made anew after every poll,
    and each pins the allocator's arena it lands in (bench/RESULTS.md, round three)."""

    labels: list[Labels]
    values: bytes  # the values as doubles: compared bit for bit (a NaN equals itself)
    created: list[float | None]
    spans: tuple[tuple[int, int], tuple[int, int]]
    sums: tuple[int, int, int, int]
    labels_text: str


# ISA-L's level 1: about 4x less CPU than zlib's level 1, and fewer bytes (bench/RESULTS.md)
GZIP_LEVEL = 1
# RFC 1952: deflate, no flags, mtime 0, no extra flags, OS unknown
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_DEFLATE_END = b"\x03\x00"  # an empty final block (fixed Huffman codes)


def _deflate(data: bytes) -> bytes:
    """A deflate segment on its own: compressed without a dictionary from what precedes it and
    ended by a sync flush (non-final blocks ending on a byte boundary), so segments can be cut
    out of one stream and joined into another. ISA-L releases the GIL while it compresses, so
    scrapes keep being answered while a worker thread renders."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


def _part(text: bytes, openmetrics: bytes) -> _Part:
    """Plain text and OpenMetrics bytes compressed (once when they are the same bytes)."""
    text_deflated = _deflate(text)
    if openmetrics is text:
        crc = isal_zlib.crc32(text)
        return _Part(text_deflated, text_deflated, crc, len(text), crc, len(text))
    return _Part(
        text_deflated,
        _deflate(openmetrics),
        isal_zlib.crc32(text),
        len(text),
        isal_zlib.crc32(openmetrics),
        len(openmetrics),
    )


def _gzip_member(segments: list[bytes | memoryview], crc: int, size: int) -> bytes:
    """One gzip member of deflate segments (each ended by a sync flush) and its plain bytes'
    CRC-32 and length."""
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return b"".join([_GZIP_HEADER, *segments, _DEFLATE_END, trailer])


class Renderer:
    """Renders in chunks and keeps them: a family's series of one target are cut into chunks of
    `CHUNK` series; a chunk whose samples equal those it was last rendered from is not rendered
    again, its deflate segments are taken from the previous exposition. Each gzip variant is one
    gzip member whose deflate stream is the chunks' segments joined (each compressed on its own,
    ended by a sync flush), then an empty final block and the trailer (the chunks' CRC-32s
    combined, so no plain bytes are kept or joined). One member, not one per chunk: Go's reader
    (Prometheus) reads concatenated members, but httpx and others stop after the first. The label
    part of a chunk's lines is kept with it, so a chunk whose series are the same but whose values
    changed costs a split of its kept label text and a join with the value text.

    The output equals the straightforward renderer's byte for byte (plain) and after gzip
    decompression (tests/unit/exposition/test_render_chunks.py). A chunk's values are compared as
    doubles, bit for bit, so equal values have equal text (a NaN equals itself; -0.0 and 0.0
    differ).
    """

    CHUNK = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Exposition | None = None
        self._chunks: dict[tuple[str, str, int, int], _Chunk] = {}
        self._headers: dict[Family, _Part] = {}

    def render(self, families: Iterable[FamilySamples], registry: CollectorRegistry) -> Exposition:
        with self._lock:
            return self._render(families, registry)

    def _render(self, families: Iterable[FamilySamples], registry: CollectorRegistry) -> Exposition:
        grouped: dict[str, tuple[Family, list[FamilySamples]]] = {}
        for item in families:
            entry = grouped.setdefault(item.family.name, (item.family, []))
            entry[1].append(item)
        last = self._last
        old = (
            (memoryview(last.text_gzip), memoryview(last.openmetrics_gzip))
            if last is not None
            else None
        )
        pieces: list[_Part] = []
        keys: list[tuple[str, str, int, int] | None] = []
        chunks: dict[tuple[str, str, int, int], _Chunk] = {}
        seen: dict[tuple[str, str], int] = {}
        headers: dict[Family, _Part] = {}
        escaped = _Escaped()
        count = 0
        for family, items in grouped.values():
            header = self._headers.get(family) or _header(family)
            headers[family] = header
            pieces.append(header)
            keys.append(None)
            for item in items:
                group = (family.name, item.target)
                occurrence = seen[group] = seen.get(group, -1) + 1
                samples = list(item.samples)
                count += len(samples)
                for index, begin in enumerate(range(0, len(samples), self.CHUNK)):
                    part = samples[begin : begin + self.CHUNK]
                    labels = list(map(_labels_of, part))
                    values = array("d", map(_value_of, part))
                    raw = values.tobytes()
                    created = list(map(_created_of, part))
                    key = (family.name, item.target, occurrence, index)
                    chunk = self._chunks.get(key)
                    # (the ledger's label tuples are the same objects: equal by identity)
                    kept = (
                        chunk.labels_text if chunk is not None and chunk.labels == labels else None
                    )
                    if (
                        old is not None
                        and chunk is not None
                        and kept is not None
                        and chunk.values == raw
                        and chunk.created == created
                    ):
                        (to, tn), (oo, on) = chunk.spans
                        piece = _Part(old[0][to : to + tn], old[1][oo : oo + on], *chunk.sums)
                    else:
                        piece, labels_text = _render_chunk(
                            family, item.target, labels, values, created, kept, escaped
                        )
                        sums = (piece[2], piece[3], piece[4], piece[5])
                        chunk = _Chunk(labels, raw, created, ((0, 0), (0, 0)), sums, labels_text)
                    chunks[key] = chunk
                    pieces.append(piece)
                    keys.append(key)
        self_text = generate_latest(registry)
        self_om = generate_openmetrics(registry).removesuffix(b"# EOF\n") + b"# EOF\n"
        pieces.append(_part(self_text, self_om))
        keys.append(None)
        crcs, sizes = [0, 0], [0, 0]
        offsets = [len(_GZIP_HEADER), len(_GZIP_HEADER)]
        for at, piece in zip(keys, pieces, strict=True):
            crcs[0] = isal_zlib.crc32_combine(crcs[0], piece.text_crc, piece.text_size)
            om_crc, om_size = piece.openmetrics_crc, piece.openmetrics_size
            crcs[1] = isal_zlib.crc32_combine(crcs[1], om_crc, om_size)
            sizes[0] += piece.text_size
            sizes[1] += om_size
            if at is not None:
                spans = ((offsets[0], len(piece.text)), (offsets[1], len(piece.openmetrics)))
                chunks[at] = chunks[at]._replace(spans=spans)
            offsets[0] += len(piece.text)
            offsets[1] += len(piece.openmetrics)
        exposition = Exposition(
            text_gzip=_gzip_member([p.text for p in pieces], crcs[0], sizes[0]),
            openmetrics_gzip=_gzip_member([p.openmetrics for p in pieces], crcs[1], sizes[1]),
            text_size=sizes[0],
            openmetrics_size=sizes[1],
            series=count,
        )
        del old, pieces
        self._last, self._chunks, self._headers = exposition, chunks, headers
        return exposition


def _header(family: Family) -> _Part:
    help_text = _escape_help(family.help)
    base = family.base_name
    kind = family.kind.value
    text = f"# HELP {family.name} {help_text}\n# TYPE {family.name} {kind}\n".encode()
    om = f"# HELP {base} {help_text}\n# TYPE {base} {kind}\n"
    if family.unit and base.endswith(f"_{family.unit}"):
        om += f"# UNIT {base} {family.unit}\n"
    return _part(text, om.encode())


def _values(values: array[float]) -> list[str]:
    """The value texts of a chunk: `repr` for all when every value is finite and below 1e6
    (where floatToGoString's text is repr's), checked once for the chunk in C."""
    if math.isfinite(sum(values)) and max(values) < 1e6:
        return list(map(repr, values))
    return list(map(_value, values))


def _interleave(count: int, *columns: Iterable[str] | str) -> str:
    """Row i of the columns joined, for every i: a column is `count` texts or one text for all.
    Slice assignments and one join, so the per-series work runs in C."""
    parts = [""] * (len(columns) * count)
    for index, column in enumerate(columns):
        parts[index :: len(columns)] = repeat(column, count) if isinstance(column, str) else column
    return "".join(parts)


_labels_of = operator.itemgetter(0)
_value_of = operator.itemgetter(1)
_created_of = operator.itemgetter(2)


def _render_chunk(
    family: Family,
    target: str,
    labels_values: list[Labels],
    values: array[float],
    created: list[float | None],
    kept: str | None,
    escaped: _Escaped,
) -> tuple[_Part, str]:
    """A chunk's bytes, joined from whole columns (name, label text, value text) so a render
    costs about what its bytes cost; and its label text to keep (`_Chunk.labels_text`). The
    label text is `kept`, when the chunk's series are those it was made for; each series' text
    ends with the space before its value."""
    if kept is not None:
        labels_text = kept.split("\n")
    else:
        names = [f',{label}="' for label in family.labels]
        opening = '{target="' + escaped[target] + '"'
        labels_text = [
            opening
            + "".join(n + escaped[v] + '"' for n, v in zip(names, labels, strict=True))
            + "} "
            for labels in labels_values
        ]
        kept = "\n".join(labels_text)
    value_text = _values(values)
    count = len(values)
    text_bytes = _interleave(count, family.name, labels_text, value_text, "\n").encode("utf-8")
    if family.kind is not Kind.COUNTER:
        return _part(text_bytes, text_bytes), kept
    total = family.base_name + "_total"
    if None in created:
        om = "".join(
            f"{total}{prefix}{value}\n"
            + ("" if at is None else f"{family.base_name}_created{prefix}{_created(at)}\n")
            for prefix, value, at in zip(labels_text, value_text, created, strict=True)
        )
    else:
        texts = {at: _created(at) for at in set(created)}
        om = _interleave(
            count,
            total,
            labels_text,
            value_text,
            "\n" + family.base_name + "_created",
            labels_text,
            map(texts.__getitem__, created),
            "\n",
        )
    return _part(text_bytes, om.encode("utf-8")), kept


def render(families: Iterable[FamilySamples], registry: CollectorRegistry) -> Exposition:
    """Render once, with nothing kept (the daemon keeps a `Renderer` across polls)."""
    return Renderer().render(families, registry)
