"""A small forward proxy for the tests: `CONNECT host:port` tunnels (HTTPS) and absolute-URI
GETs (plain HTTP), on loopback only. Every byte a client sends through it is appended to the
`--record` file, so a test can assert what the proxy saw (a key sent over a tunnel must not be
there in clear text).

    python -m tests.forward_proxy --port 8899 --record /tmp/proxy.bytes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from urllib.parse import urlsplit

ALLOWED_HOSTS = {"127.0.0.1", "localhost"}


class ByteRecord:
    """The `--record` file: every byte a client sent, appended."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def write(self, data: bytes) -> None:
        with self._path.open("ab") as handle:
            handle.write(data)


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ByteRecord | None
):
    try:
        while data := await reader.read(65536):
            if record is not None:
                record.write(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ByteRecord
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        writer.close()
        return
    record.write(head)
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
    else:
        parts = urlsplit(target)
        host, port = parts.hostname or "", str(parts.port or 80)
    if host not in ALLOWED_HOSTS:  # loopback only: the tests never leave the machine
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    try:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    if method == "CONNECT":
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
    else:  # forward the request as is, origin-form, and close after the answer
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        first, rest = head.split(b"\r\n", 1)
        version = first.rsplit(b" ", 1)[1]
        # one request per connection: the upstream closes after its answer, and so do we
        lines = [h for h in rest.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        rest = b"\r\n".join([b"Connection: close", *lines])
        up_writer.write(f"{method} {path} ".encode() + version + b"\r\n" + rest)
        await up_writer.drain()
    await asyncio.gather(pipe(reader, up_writer, record), pipe(up_reader, writer, None))


async def main(port: int, record: Path) -> None:
    sent = ByteRecord(record)
    server = await asyncio.start_server(lambda r, w: handle(r, w, sent), "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.record))
