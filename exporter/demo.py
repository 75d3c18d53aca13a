"""`usage-exporter demo`: the simulator on loopback and the exporter polling it.

No key and no network: the simulator speaks every upstream's API on 127.0.0.1 with generated,
moving usage, and the exporter runs with the packaged `demo.yaml` against it.
"""

from __future__ import annotations

import logging
import tempfile
from importlib import resources
from pathlib import Path

from exporter.config import load_config
from exporter.daemon import Daemon
from exporter.process import serve_until_stopped
from exporter.simulator.app import SimulatorConfig, serve

log = logging.getLogger(__name__)

DEMO_KEYS = {
    "sk-admin-demo-acme-prod": "org-acme-prod",
    "sk-admin-demo-acme-research": "org-acme-research",
}


async def run_demo(listen: str, state_dir: Path | None) -> int:
    simulator = await serve(
        SimulatorConfig(
            seed=2026,
            openai_keys=dict(DEMO_KEYS),
            faults=[
                {
                    "kind": "status",
                    "status": 429,
                    "retry_after": 1,
                    "count": 1,
                    "path_contains": "completions",
                }
            ],
        ),
        "127.0.0.1",
        0,
    )
    port = simulator.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log.info("simulator listening", extra={"address": url})
    with tempfile.TemporaryDirectory(prefix="usage-exporter-demo-") as scratch:
        env = {"SIMULATOR_URL": url, "DEMO_STATE_DIR": str(state_dir or scratch)}
        with resources.as_file(resources.files("exporter") / "demo.yaml") as path:
            config = load_config(path, env=env)
        daemon = Daemon(config)
        try:
            await serve_until_stopped(daemon, listen)
        finally:
            simulator.should_exit = True
    return 0
