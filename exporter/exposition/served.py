"""What the HTTP side serves: a rendering's finished bytes (`Exposition`), kept gzip only, and
how a request picks a variant. Apart from the renderer (`render.py`) so that the listener
process imports neither it nor prometheus_client (bench/RESULTS.md, round three: memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from isal import isal_zlib

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Exposition:
    """The rendered bytes, kept gzip-compressed only: a gzip scrape (Prometheus asks for gzip) is
    a memory copy, a plain one is inflated as it is sent (`plain_slices`), a slice at a time.
    Keeping the plain variants too held 4-5x the bytes twice, once in each process (at 100k
    series 24 MB in the daemon's and 30 MB in the listener's; see bench/RESULTS.md)."""

    text_gzip: bytes
    openmetrics_gzip: bytes
    text_size: int  # the plain bytes' lengths (Content-Length of a plain scrape)
    openmetrics_size: int
    series: int

    @property
    def text(self) -> bytes:
        """The text format's plain bytes, inflated (a copy: for tests and `once`)."""
        return b"".join(plain_slices(self.text_gzip))

    @property
    def openmetrics(self) -> bytes:
        """The OpenMetrics plain bytes, inflated (a copy)."""
        return b"".join(plain_slices(self.openmetrics_gzip))


PLAIN_SLICE = 256 * 1024
_GZIP_PIECE = 64 * 1024  # compressed bytes fed at a time: what is left over is copied each slice


def plain_slices(gzipped: bytes, size: int = PLAIN_SLICE) -> Iterator[bytes]:
    """A gzip member's plain bytes, `size` at a time: a plain scrape holds one slice, not a copy
    of the whole exposition. The CRC and length in the trailer are checked at the end."""
    reader = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
    view = memoryview(gzipped)
    for at in range(0, len(view), _GZIP_PIECE):
        data: bytes | memoryview = view[at : at + _GZIP_PIECE]
        while data:
            out = reader.decompress(data, size)
            if out:
                yield out
            data = reader.unconsumed_tail
    rest = reader.flush()
    if rest:
        yield rest
    if not reader.eof or reader.unused_data:
        raise ValueError("an exposition is one whole gzip member")


def negotiate(accept: str | None, accept_encoding: str | None) -> tuple[bool, bool]:
    """(OpenMetrics?, gzip?) for a request's Accept and Accept-Encoding headers."""
    openmetrics = False
    for part in (accept or "").split(","):
        media, *params = [p.strip() for p in part.split(";")]
        if media == "application/openmetrics-text":
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                openmetrics = float(q) > 0
            except ValueError:
                openmetrics = False
            if openmetrics:
                break
    use_gzip = False
    for part in (accept_encoding or "").split(","):
        coding, *params = [p.strip() for p in part.split(";")]
        if coding.lower() == "gzip":
            use_gzip = not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params)
    return openmetrics, use_gzip
