"""Deflate for the gzip variants: zlib against ISA-L, on the renderer's own chunks.

Usage: python -m bench.compressors [N ...]   (default 100000)

Renders N series of the benchmark family (both formats), cuts each format's bytes into the
renderer's chunks (`Renderer.CHUNK` series each) and compresses every chunk on its own with a
sync flush, as `exporter.exposition.render` does, with zlib (levels 1 and 6) and ISA-L
(levels 1 and 2).
Prints the CPU seconds (`time.process_time`, least of five) and the bytes, and checks that the
joined segments inflate to the plain bytes.
"""

from __future__ import annotations

import functools
import sys
import time
import zlib
from collections.abc import Callable
from types import ModuleType

from isal import isal_zlib
from prometheus_client import CollectorRegistry

from bench.machine import machine_header
from exporter.exposition.render import Renderer, render
from exporter.model import FamilySamples, Sample

COMPRESSORS: tuple[tuple[str, ModuleType, int], ...] = (
    ("zlib level 6", zlib, 6),
    ("zlib level 1 (before)", zlib, 1),
    ("ISA-L level 1 (now)", isal_zlib, 1),
    ("ISA-L level 2", isal_zlib, 2),
)


def chunks(plain: bytes, lines_per_chunk: int) -> list[bytes]:
    lines = plain.splitlines(keepends=True)
    return [b"".join(lines[i : i + lines_per_chunk]) for i in range(0, len(lines), lines_per_chunk)]


def _deflate(module: ModuleType, level: int, parts: list[bytes]) -> list[bytes]:
    """Each part on its own, ended by a sync flush: the renderer's segments."""
    segments = []
    for part in parts:
        compressor = module.compressobj(level, module.DEFLATED, -15)
        segments.append(compressor.compress(part) + compressor.flush(module.Z_SYNC_FLUSH))
    return segments


def least_cpu(work: Callable[[], object], times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        began = time.process_time()
        work()
        best = min(best, time.process_time() - began)
    return best


def rows(n: int) -> list[str]:
    from bench.ledger_render import FAMILY

    samples = [
        Sample((f"proj_{i % 97}", f"model-{i % 13}", f"user-{i}"), float(i % 1000 + 1), 1.7e9)
        for i in range(n)
    ]
    exposition = render([FamilySamples(FAMILY, "t", samples)], CollectorRegistry())
    # OpenMetrics has two lines a counter series (the value and `_created`).
    formats = {
        "text": chunks(exposition.text, Renderer.CHUNK),
        "OpenMetrics": chunks(exposition.openmetrics, 2 * Renderer.CHUNK),
    }
    out: list[str] = []
    for name, module, level in COMPRESSORS:
        cells: list[str] = []
        for parts in formats.values():
            deflate = functools.partial(_deflate, module, level, parts)
            segments = deflate()
            inflated = zlib.decompressobj(-15).decompress(b"".join(segments) + b"\x03\x00")
            assert inflated == b"".join(parts), f"{name}: the joined segments do not inflate"
            cells += [f"{least_cpu(deflate):.3f}", f"{sum(map(len, segments)) / 1e6:.2f}"]
        out.append(f"| {n:,} | {name} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    print(machine_header(f"python -m bench.compressors {' '.join(map(str, sizes))}"))
    print()
    print("| series | deflate | text CPU s | text MB | OpenMetrics CPU s | OpenMetrics MB |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        print(*rows(n), sep="\n", flush=True)


if __name__ == "__main__":
    main()
