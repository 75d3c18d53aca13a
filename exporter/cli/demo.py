"""`usage-exporter demo`: the simulator on loopback and the exporter polling it.

No key and no network: the simulator speaks every upstream's API on 127.0.0.1 with generated,
moving usage, and the exporter runs against it with every plug-in's demo targets (`Plugin.demo`).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import yaml

from exporter.cli.process import serve_until_stopped
from exporter.config.load import load_config
from exporter.daemon import Daemon
from exporter.simulator.app import SimulatorConfig, serve
from exporter.vendors import plugins

log = logging.getLogger("exporter.demo")  # its name before the move: log lines keep it


def demo_config() -> dict[str, Any]:
    """The demo's configuration: every plug-in's demo targets, polled every few seconds, with
    `${SIMULATOR_URL}` and `${DEMO_STATE_DIR}` filled in at load (the keys are the simulator's)."""
    sources = [
        {"base_url": "${SIMULATOR_URL}", **source}
        for vendor in plugins()
        for source in vendor.demo.sources
    ]
    return {"state_dir": "${DEMO_STATE_DIR}", "sources": sources}


def simulator_config() -> SimulatorConfig:
    """The simulator the demo polls: every plug-in's demo keys and start-up faults."""
    return SimulatorConfig(
        seed=2026,
        keys={v.kind: dict(v.demo.keys) for v in plugins() if v.demo.keys is not None},
        faults=[dict(fault) for vendor in plugins() for fault in vendor.demo.faults],
    )


async def run_demo(listen: str, state_dir: Path | None) -> int:
    simulator = await serve(simulator_config(), "127.0.0.1", 0)
    port = simulator.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log.info("simulator listening", extra={"address": url})
    with tempfile.TemporaryDirectory(prefix="usage-exporter-demo-") as scratch:
        env = {"SIMULATOR_URL": url, "DEMO_STATE_DIR": str(state_dir or scratch)}
        path = Path(scratch) / "demo.yaml"
        path.write_text(yaml.safe_dump(demo_config(), sort_keys=False), encoding="utf-8")
        config = load_config(path, env=env)
        daemon = Daemon(config)
        try:
            await serve_until_stopped(daemon, listen)
        finally:
            simulator.should_exit = True
    return 0
