"""Write `tests/fixtures/state-0.1.0/`: a state file written by usage-exporter 0.1.0.

How it is made, so anyone can make it again and get the same counters:

1. `git archive 7aa0844` (the 0.1.0 code: its `exporter/__init__.py` says 0.1.0) is unpacked
   into a temporary directory; nothing of the current tree is used to write the state.
2. 0.1.0's own simulator runs from there (its `SimulatorConfig` with seed 15, the keys below
   and usage starting at `USAGE_START`) on a free loopback port, its clock frozen at `T0`.
3. 0.1.0's `Daemon` runs in a subprocess from that tree with its clock fixed at `T0` and polls
   every target once; then both clocks move to `T0 + 900` and it polls again (late data, settled
   buckets and open ones are all in the file), renders, and closes the ledger.
4. `ledger.sqlite`, 0.1.0's exposition of the usage families at the end (`exposition.prom`;
   its self-metrics, which hold durations, are left out), the config template,
   `exporter-0.1.0.tar.gz` (0.1.0's package: the test runs its simulator as the upstream, so the
   data is the one 0.1.0 read, whatever the current simulator's model became) and
   `MANIFEST.json` (commit, seed, times, keys, sha256 of every file) are written here.

Anylayer is left out: its source reads the wall clock itself, so it cannot be frozen.

Run from the repository root: `.venv/bin/python scripts/make_state_fixture.py`
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "state-0.1.0"
COMMIT = "7aa0844"
SEED = 15
T0 = 1_790_000_000  # 2026-09-21T13:33:20Z
T_END = T0 + 900
USAGE_START = T0 - 5 * 86400  # where the simulator's generated usage begins (`--usage-start`)
KEYS = {
    "openai": ("sk-admin-fixture-0001", "org-fixture"),
    "telnyx": ("KEYfixture0000000001", "acct-fixture"),
    "arthur": ("arthur-fixture-key-01", "engine-fixture"),
}
# `{sim}` is the simulator's URL, `{state}` the state directory.
CONFIG = """state_dir: {state}
sources:
  - kind: openai
    name: fixture-openai
    base_url: {sim}
    api_key: sk-admin-fixture-0001
    interval: 60s
    timeout: 30s
    bucket_width: 1h
    backfill: 2d
    group_by: [project_id, model, line_item, size, source, batch, context_level]
    endpoints: [completions, embeddings, moderations, images, audio_speeches,
      audio_transcriptions, vector_stores, code_interpreter_sessions, file_search_calls,
      web_search_calls, costs]
  - kind: telnyx
    name: fixture-telnyx
    base_url: {sim}
    api_key: KEYfixture0000000001
    interval: 60s
    timeout: 30s
    backfill: 2d
    buckets: auto
    s3_endpoint: {sim}/s3/{{region}}
  - kind: arthur
    name: fixture-arthur
    base_url: {sim}
    api_key: arthur-fixture-key-01
    interval: 60s
    timeout: 30s
    backfill: 2d
    window: 1h
"""

SIMULATOR = """
import sys
from exporter.simulator.app import SimulatorConfig, run_forever

port, seed, start, *keys = sys.argv[1:]
pairs = dict(zip(keys[::2], keys[1::2]))
config = SimulatorConfig(seed=int(seed), start=float(start))
for flag, value in pairs.items():
    key, _, account = value.partition("=")
    kind = flag.removeprefix("--").removesuffix("-key")
    if kind == "arthur":
        config.arthur_keys = {key: (account, "ORG-AUDITOR")}
    else:
        setattr(config, kind + "_keys", {key: account})
run_forever(config, "127.0.0.1", int(port))
"""

DAEMON = """
import asyncio, sys
from pathlib import Path
from exporter import __version__
from exporter.config.load import load_config
from exporter.daemon import Daemon

assert __version__ == "0.1.0", __version__
config_path, sim, t0, t_end, out = sys.argv[1:6]
clock = [float(t0)]

async def main():
    daemon = Daemon(load_config(Path(config_path)), clock=lambda: clock[0])
    try:
        assert await daemon.poll_all(), "first poll failed"
        clock[0] = float(t_end)
        import json, urllib.request
        request = urllib.request.Request(
            sim + "/_sim/clock", method="POST", data=json.dumps(
                {"freeze": True, "at": float(t_end)}).encode(),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()
        assert await daemon.poll_all(), "second poll failed"
        daemon.render()
        lines = daemon.state.exposition.text.decode().splitlines(keepends=True)
        own = ("usage_exporter_", "# HELP usage_exporter_", "# TYPE usage_exporter_")
        Path(out).write_text("".join(l for l in lines if not l.startswith(own)))
    finally:
        await daemon.aclose()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: object) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="state-fixture-") as tmp_name:
        tmp = Path(tmp_name)
        tree = tmp / "v0.1.0"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "archive", "--format=tar", COMMIT], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        full_commit = subprocess.run(
            ["git", "rev-parse", COMMIT], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        env = {**os.environ, "PYTHONPATH": str(tree)}
        port = free_port()
        sim_url = f"http://127.0.0.1:{port}"
        keys = [
            a
            for kind, (key, account) in KEYS.items()
            for a in (f"--{kind}-key", f"{key}={account}")
        ]
        # 0.1.0's `simulate` has no --usage-start: its SimulatorConfig is built here instead.
        sim = subprocess.Popen(
            [sys.executable, "-c", SIMULATOR, str(port), str(SEED), str(USAGE_START), *keys],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    post(f"{sim_url}/_sim/clock", {"freeze": True, "at": T0})
                    break
                except OSError:
                    if time.monotonic() > deadline or sim.poll() is not None:
                        raise
                    time.sleep(0.2)
            state = tmp / "state"
            config = tmp / "config.yaml"
            config.write_text(CONFIG.format(sim=sim_url, state=state))
            exposition = tmp / "exposition.prom"
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    DAEMON,
                    str(config),
                    sim_url,
                    str(T0),
                    str(T_END),
                    str(exposition),
                ],
                cwd=tree,
                env=env,
                check=True,
                timeout=600,
            )
        finally:
            sim.terminate()
            sim.wait(timeout=30)
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        leftovers = [p.name for p in state.iterdir() if p.name != "ledger.sqlite"]
        assert not leftovers, f"the ledger was not closed cleanly: {leftovers}"
        shutil.copyfile(state / "ledger.sqlite", OUT / "ledger.sqlite")
        shutil.copyfile(exposition, OUT / "exposition.prom")
        (OUT / "config.yaml.template").write_text(CONFIG)
        # 0.1.0's `exporter` package: the test runs this version's simulator as the upstream, so
        # the upstream's data is the one 0.1.0 read (the simulator's model changes over time).
        (OUT / "exporter-0.1.0.tar.gz").write_bytes(
            subprocess.run(
                ["git", "archive", "--format=tar.gz", COMMIT, "exporter"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            ).stdout
        )
        manifest = {
            "written_by": "usage-exporter 0.1.0",
            "commit": full_commit,
            "script": "scripts/make_state_fixture.py",
            "seed": SEED,
            "usage_start": USAGE_START,
            "t0": T0,
            "t_end": T_END,
            "keys": {
                kind: {"key": key, "account": account} for kind, (key, account) in KEYS.items()
            },
            "files": {
                name: sha256(OUT / name)
                for name in (
                    "ledger.sqlite",
                    "exposition.prom",
                    "config.yaml.template",
                    "exporter-0.1.0.tar.gz",
                )
            },
        }
        (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
