"""The listener process's entry point: `python -m exporter.http.listener_main DATA CONTROL ENDED`,
started by `ListenerProcess` (exporter/http/listener_process.py) with the file descriptors of its
ends of the snapshot pipe and the control pipe, and the write end of a pipe it only holds open
(the daemon's process sees it close when this process ends). The settings are the first message
on the control pipe. Only what serving needs is imported: not the daemon, not its vendors."""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from exporter.http.listener_process import ListenerSettings, listener_main


def main(argv: list[str]) -> None:
    data = Connection(int(argv[0]), writable=False)
    control = Connection(int(argv[1]))
    settings = control.recv()
    if not isinstance(settings, ListenerSettings):
        raise SystemExit(f"the listener process expected its settings, got {type(settings)}")
    listener_main(data, control, settings)


if __name__ == "__main__":
    main(sys.argv[1:])
