"""Upgrades keep every counter: a state file written by 0.1.0 (tests/fixtures/state-0.1.0, made by
scripts/make_state_fixture.py) is migrated, served unchanged and counted on exactly against the
simulator's truth; a migration killed by SIGKILL is finished by the next start; a file of a newer
schema is refused, with the version that wrote it, and left untouched."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from exporter import __version__
from exporter.config.load import load_config
from exporter.daemon import Daemon
from exporter.http.server import create_app, serve
from exporter.ledger import SCHEMA_VERSION, Ledger
from exporter.vendors.openai.config import OpenAIConfig
from tests.harness import (
    HOST,
    Process,
    created,
    exporter_argv,
    free_port,
    http_json,
    parse_samples,
    running,
)
from tests.openai_expected import QUANTITIES, SUPPORTED, exporter_counters, origins, truth_series

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "state-0.1.0"
MANIFEST = json.loads((FIXTURE / "MANIFEST.json").read_text())
T_END = int(MANIFEST["t_end"])
FIXTURE_GROUP_BY = ["project_id", "model", "line_item", "size", "source", "batch", "context_level"]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def norm(samples: Samples) -> Samples:
    """Labels with an empty value dropped: in Prometheus a label set to "" is no label, so a
    label a family gained since 0.1.0 (empty on the old series) names the same series."""
    return {
        (name, frozenset((k, v) for k, v in labels if v)): value
        for (name, labels), value in samples.items()
    }


def counters(text: str) -> Samples:
    """The usage counters (not the self-metrics) of a text exposition."""
    return norm(
        {
            key: value
            for key, value in parse_samples(text).items()
            if key[0].endswith("_total") and not key[0].startswith("usage_exporter_")
        }
    )


EXPECTED = counters((FIXTURE / "exposition.prom").read_text())

SIMULATOR_0_1_0 = """
import sys
sys.path.insert(0, sys.argv.pop(1))  # 0.1.0's tree before the current one (cwd, site-packages)
from exporter import __version__
from exporter.simulator.app import SimulatorConfig, run_forever

assert __version__ == "0.1.0", __version__
port, seed, start, openai, telnyx, arthur = sys.argv[1:]
config = SimulatorConfig(seed=int(seed), start=float(start))
config.openai_keys = dict([openai.split("=")])
config.telnyx_keys = dict([telnyx.split("=")])
key, engine = arthur.split("=")
config.arthur_keys = {key: (engine, "ORG-AUDITOR")}
run_forever(config, "127.0.0.1", int(port))
"""


@contextmanager
def simulator_0_1_0(tmp: Path) -> Iterator[Process]:
    """0.1.0's simulator, unpacked from the fixture: the upstream exactly as 0.1.0 read it (the
    current simulator's model has changed since, e.g. its cache-write fields and prices)."""
    tree = tmp / "v0.1.0"
    tree.mkdir()
    with tarfile.open(FIXTURE / "exporter-0.1.0.tar.gz") as archive:
        archive.extractall(tree, filter="data")
    keys = MANIFEST["keys"]
    port = free_port()
    argv = [
        sys.executable,
        "-c",
        SIMULATOR_0_1_0,
        str(tree),
        str(port),
        str(MANIFEST["seed"]),
        str(MANIFEST["usage_start"]),
        *(f"{keys[k]['key']}={keys[k]['account']}" for k in ("openai", "telnyx", "arthur")),
    ]
    with running(
        "simulator-0.1.0",
        argv,
        tmp / "simulator-0.1.0.log",
        f"http://{HOST}:{port}",
        ready_path="/_sim/clock",
    ) as process:
        yield process


def test_fixture_is_what_the_manifest_says() -> None:
    for name, digest in MANIFEST["files"].items():
        assert hashlib.sha256((FIXTURE / name).read_bytes()).hexdigest() == digest, name
    assert MANIFEST["written_by"] == "usage-exporter 0.1.0"
    db = sqlite3.connect(f"{(FIXTURE / 'ledger.sqlite').as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # 0.1.0's schema
    finally:
        db.close()
    assert len(EXPECTED) > 300
    assert {name.split("_")[0] for name, _ in EXPECTED} == {"openai", "telnyx", "arthur"}


def copy_state(tmp: Path) -> Path:
    state = tmp / "state"
    state.mkdir()
    shutil.copyfile(FIXTURE / "ledger.sqlite", state / "ledger.sqlite")
    return state


def write_config(tmp: Path, sim_url: str, state: Path) -> Path:
    config = tmp / "config.yaml"
    template = (FIXTURE / "config.yaml.template").read_text()
    config.write_text(template.format(sim=sim_url, state=state))
    return config


def freeze(sim_url: str, at: float) -> None:
    http_json(f"{sim_url}/_sim/clock", method="POST", body={"freeze": True, "at": at})


def text_of(daemon: Daemon) -> str:
    exposition = daemon.state.exposition
    assert exposition is not None
    return exposition.text.decode()


def restricted(samples: Samples, families: set[str], endpoints: set[str]) -> Samples:
    """Only what 0.1.0 counted: its families, and of those its OpenAI endpoints (a family or
    endpoint added since starts at its own origin and is not part of the upgrade's promise)."""
    return {
        (name, labels): value
        for (name, labels), value in samples.items()
        if name in families and dict(labels).get("endpoint", "") in endpoints | {""}
    }


def openai_truth_of(sim_url: str, exp_url: str, endpoints: set[str]) -> Samples:
    """The OpenAI counters from the 0.1.0 simulator's truth, with the fixture's group_by."""
    usage_origin, costs_origin = origins(exp_url, "fixture-openai")
    org = MANIFEST["keys"]["openai"]["account"]
    truth: Samples = {}
    for endpoint in QUANTITIES:
        if endpoint not in endpoints:
            continue
        keys = [k for k in FIXTURE_GROUP_BY if k in SUPPORTED[endpoint]]
        start = costs_origin if endpoint == "costs" else usage_origin
        for family, labels, value in truth_series(sim_url, org, endpoint, start, keys):
            key = (family, frozenset((labels | {"target": "fixture-openai"}).items()))
            truth[key] = truth.get(key, 0) + value
    return {k: v for k, v in truth.items() if v}


def telnyx_truth(sim_url: str, exp_url: str) -> Samples:
    fields = {
        "ops": "telnyx_storage_operations_total",
        "successful_ops": "telnyx_storage_successful_operations_total",
        "bytes_sent": "telnyx_storage_sent_bytes_total",
        "bytes_received": "telnyx_storage_received_bytes_total",
    }
    since = created(exp_url, "telnyx_storage_operations")
    account = MANIFEST["keys"]["telnyx"]["account"]
    buckets = {dict(labels)["bucket"] for name, labels in EXPECTED if name.startswith("telnyx_")}
    truth: Samples = {}
    for bucket in sorted(buckets):
        query = urllib.parse.urlencode({"account": account, "bucket": bucket, "start": since})
        for row in http_json(f"{sim_url}/_sim/telnyx/truth?{query}")["rows"]:
            for field, family in fields.items():
                if row["values"][field]:
                    labels = {"target": "fixture-telnyx", "bucket": bucket}
                    labels["category"] = row["category"]
                    truth[(family, frozenset(labels.items()))] = row["values"][field]
    return truth


def arthur_truth(sim_url: str, exp_url: str) -> Samples:
    fields = {
        "inference": "arthur_inference_tokens_total",
        "eval_prompt": "arthur_eval_prompt_tokens_total",
        "eval_completion": "arthur_eval_completion_tokens_total",
    }
    query = urllib.parse.urlencode(
        [
            ("engine", MANIFEST["keys"]["arthur"]["account"]),
            ("start", str(created(exp_url, "arthur_inference_tokens"))),
            ("group_by", "rule_type"),
            ("group_by", "task"),
        ]
    )
    truth: Samples = {}
    for row in http_json(f"{sim_url}/_sim/arthur/truth?{query}")["rows"]:
        labels = {
            "target": "fixture-arthur",
            "rule_type": row["group"]["rule_type"] or "",
            "task_id": row["group"]["task_id"] or "",
        }
        for field, family in fields.items():
            if row["values"][field]:
                truth[(family, frozenset(labels.items()))] = row["values"][field]
    return truth


def compare(truth: Samples, got: Samples, what: str) -> None:
    truth, got = norm(truth), norm(got)
    mismatches = [
        f"{key}: exporter {got.get(key)}, truth {value}"
        for key, value in truth.items()
        if abs(got.get(key, -1.0) - value) > 1e-9 * max(1.0, abs(value))
    ]
    extra = [k for k, v in got.items() if k not in truth and v != 0]
    assert not mismatches and not extra, (what, len(mismatches), mismatches[:10], extra[:10])


async def test_0_1_0_state_is_served_unchanged_and_counted_on_exactly(tmp_path: Path) -> None:
    state = copy_state(tmp_path)
    with simulator_0_1_0(tmp_path) as sim:
        freeze(sim.url, T_END)
        config = load_config(write_config(tmp_path, sim.url, state))
        clock = [float(T_END)]
        daemon = Daemon(config, clock=lambda: clock[0])
        try:
            # Migrated on open, a backup of the 0.1.0 file next to it.
            backup = state / "ledger.sqlite.schema-1.backup"
            assert _same_rows(backup, FIXTURE / "ledger.sqlite")
            # Served before any poll: every counter 0.1.0 held, unchanged.
            got = counters(text_of(daemon))
            assert {k: got.get(k) for k in EXPECTED} == EXPECTED
            # Polled at the moment 0.1.0 stopped: nothing new, nothing counted twice.
            assert await daemon.poll_all()
            got = counters(text_of(daemon))
            assert {k: got.get(k) for k in EXPECTED} == EXPECTED

            # Two days and a quarter later: the gap is read and counted exactly.
            clock[0] = float(T_END + 2 * 86400 + 6 * 3600)
            freeze(sim.url, clock[0])
            for _ in range(3):  # a gap longer than `backfill` is caught up over polls
                assert await daemon.poll_all()
            port = free_port()
            server = await serve(create_app(daemon.state), HOST, port)
            url = f"http://{HOST}:{port}"
            try:
                families = {name for name, _ in EXPECTED}
                endpoints = {dict(labels).get("endpoint", "") for _, labels in EXPECTED}
                openai_config = config.sources[0]
                assert isinstance(openai_config, OpenAIConfig)
                openai_truth = await asyncio.to_thread(
                    openai_truth_of, sim.url, url, set(openai_config.endpoints)
                )
                got_openai = await asyncio.to_thread(exporter_counters, url, "fixture-openai")
                compare(
                    restricted(openai_truth, families, endpoints),
                    restricted(got_openai, families, endpoints),
                    "openai",
                )
                assert len(restricted(openai_truth, families, endpoints)) > 200
                everything = counters(text_of(daemon))
                for kind, truth_of in (("telnyx", telnyx_truth), ("arthur", arthur_truth)):
                    truth = await asyncio.to_thread(truth_of, sim.url, url)
                    mine = {k: v for k, v in everything.items() if k[0].startswith(kind + "_")}
                    compare(truth, mine, kind)
                    assert len(truth) > 10
                # and they grew: the continuation is not a stand-still
                assert sum(everything.values()) > sum(EXPECTED.values())
            finally:
                server.should_exit = True
                await server.task
        finally:
            await daemon.aclose()


def _same_rows(a: Path, b: Path) -> bool:
    def dump(path: Path) -> list[str]:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            return list(db.iterdump())
        finally:
            db.close()

    return dump(a) == dump(b)


KILLER = """
import os, signal, sys
from pathlib import Path
import exporter.ledger as ledger

where = sys.argv[2]
if where == "migration":
    original = ledger.MIGRATIONS[2]
    def killed(db):
        original(db)  # inside the migration's transaction, before its COMMIT
        os.kill(os.getpid(), signal.SIGKILL)
    ledger.MIGRATIONS[2] = killed
else:  # while the backup is being renamed into place
    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = killed  # the ledger renames the backup with os.replace
ledger.Ledger(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("where", ["migration", "backup"])
def test_a_migration_killed_midway_is_finished_by_the_next_start(
    tmp_path: Path, where: str
) -> None:
    state = copy_state(tmp_path)
    path = state / "ledger.sqlite"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(path), where], capture_output=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1, "half a migration stuck"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "meta" not in tables
    finally:
        db.close()

    ledger = Ledger(path)  # the next start
    try:
        assert ledger._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        written = ledger._db.execute("SELECT value FROM meta WHERE key='written_by'").fetchone()
        assert written == (f"usage-exporter {__version__}",)
    finally:
        ledger.close()
    assert (state / "ledger.sqlite.schema-1.backup").exists()
    assert not (state / "ledger.sqlite.schema-1.backup.partial").exists()
    # and it serves what 0.1.0 held (a fixed clock: nothing polls here)
    config = tmp_path / "config.yaml"
    config.write_text(
        (FIXTURE / "config.yaml.template").read_text().format(sim=f"http://{HOST}:9", state=state)
    )
    daemon = Daemon(load_config(config), clock=lambda: float(T_END))
    try:
        got = counters(text_of(daemon))
        assert {k: got.get(k) for k in EXPECTED} == EXPECTED
    finally:
        asyncio.run(daemon.aclose())


def test_a_state_file_of_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    state = copy_state(tmp_path)
    path = state / "ledger.sqlite"
    Ledger(path).close()  # migrate, then pretend a future version wrote it
    db = sqlite3.connect(path)
    db.execute("REPLACE INTO meta (key, value) VALUES ('written_by', 'usage-exporter 9.1.0')")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 7}")
    db.commit()
    db.close()
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in state.iterdir()}
    config = tmp_path / "config.yaml"
    config.write_text(
        (FIXTURE / "config.yaml.template").read_text().format(sim=f"http://{HOST}:9", state=state)
    )
    run = subprocess.run(
        exporter_argv("run", "--config", str(config), "--web.listen-address", f"{HOST}:0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    message = run.stderr.strip().splitlines()[-1]
    assert f"state schema version {SCHEMA_VERSION + 7}" in message
    assert "written by usage-exporter 9.1.0" in message
    assert f"this is usage-exporter {__version__}" in message
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in state.iterdir()}
    assert after == before, "the newer file (or its directory) was changed"
