"""The metric output does not change by accident: one poll of every plug-in's demo targets,
with the simulator's and the exporter's clocks frozen at the same instant, renders the exact
bytes recorded in tests/fixtures/exposition/ (text and OpenMetrics).

The fixtures were written by this module (`python -m tests.integration.test_output_bytes`)
from the code before a refactoring that must not change the output; a change that means to
change the output rewrites them in the same commit, and the diff shows what changed. Only what
depends on the machine is masked: the poll's wall time (the duration histogram's buckets and
sum), the Python version of `usage_exporter_build_info` and the rate-limit headroom (a twin's
counter runs per process); and the series of a self-metric family are compared in sorted
order (they appear in the order concurrent jobs set them).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import yaml

from exporter.cli.demo import demo_config
from exporter.config.load import load_config
from exporter.daemon import Daemon
from exporter.http.server import serve
from exporter.simulator.app import SimulatorConfig, create_app
from exporter.vendors import plugins

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exposition"
NOW = 1_764_590_400  # 2025-12-01 12:00 UTC: both clocks, frozen
START = NOW - 3 * 86400  # where the simulator's usage begins

# what depends on the machine or the process, not on the code: the poll's wall time, the
# Python version, the rate-limit headroom a twin counts per process (Telnyx's counter runs
# across every call the test process made before), and Anylayer's watermark (its API takes a
# timeframe back from the real now, not the frozen clock: it moved by an hour in a CI run)
WALL_TIME = re.compile(
    r"^((?:usage_exporter_poll_duration_seconds_(?:bucket|sum)"
    r"|usage_exporter_upstream_rate_limit_remaining"
    r'|usage_exporter_data_watermark_timestamp_seconds(?=\{source="anylayer"))\{.*\}) \S+$',
    re.M,
)
PYTHON = re.compile(r'python_version="[^"]*"')


def masked(text: str) -> str:
    return _self_series_sorted(PYTHON.sub('python_version="*"', WALL_TIME.sub(r"\1 *", text)))


def _self_series_sorted(text: str) -> str:
    """The series of each self-metric family in sorted order: a self-metric's series appear in
    the order its targets' concurrent jobs first set them (a vendor family's order is kept)."""
    blocks: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP ") or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    out = []
    for block in blocks:
        if block[0].startswith("# HELP usage_exporter_"):
            head = [line for line in block if line.startswith("#")]
            out += head[:2] + sorted(line for line in block if not line.startswith("#"))
            out += head[2:]  # `# EOF` after the last family of OpenMetrics
        else:
            out += block
    return "".join(out)


async def render(tmp: Path) -> tuple[str, str]:
    """One frozen-clock poll of every demo target against the simulator: (text, OpenMetrics)."""
    keys = {p.kind: dict(p.demo.keys or p.twin.default_keys) for p in plugins()}
    simulator = await serve(
        create_app(SimulatorConfig(seed=11, start=START, keys=keys)), "127.0.0.1", 0
    )
    try:
        url = f"http://127.0.0.1:{simulator.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{url}/_sim/clock", json={"freeze": True, "at": NOW})
            answer.raise_for_status()
        path = tmp / "demo.yaml"
        config_dict = demo_config()
        for source in config_dict["sources"]:
            # the demo's few-second polls with their timeout, where a loaded CI machine, the
            # simulator sharing the event loop, could run out of it: what is rendered is the same
            source.update(interval="10m", timeout="5m")
        path.write_text(yaml.safe_dump(config_dict))
        config = load_config(path, env={"SIMULATOR_URL": url, "DEMO_STATE_DIR": str(tmp / "state")})
        daemon = Daemon(config, clock=lambda: float(NOW))
        try:
            polled = await daemon.poll_all()
            failed = {t.name: t.last_error for t in daemon.state.targets.values() if not t.up}
            assert polled, f"a poll of a demo target failed: {failed}"
            exposition = daemon.state.exposition
            assert exposition is not None
            return masked(exposition.text.decode()), masked(exposition.openmetrics.decode())
        finally:
            await daemon.aclose()
    finally:
        simulator.should_exit = True
        await simulator.task


async def test_the_demo_poll_renders_the_recorded_bytes(tmp_path: Path) -> None:
    text, openmetrics = await render(tmp_path)
    assert text.count("\n") > 200  # every vendor's families, not an empty rendering
    for kind in (p.kind for p in plugins()):
        assert f"# TYPE {kind}_" in text, kind
    assert text == (FIXTURES / "demo.txt").read_text(encoding="utf-8")
    assert openmetrics == (FIXTURES / "demo.om.txt").read_text(encoding="utf-8")


def write_fixtures() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        text, openmetrics = asyncio.run(render(Path(tmp)))
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "demo.txt").write_text(text, encoding="utf-8")
    (FIXTURES / "demo.om.txt").write_text(openmetrics, encoding="utf-8")
    sys.stdout.write(f"wrote {FIXTURES}/demo.txt, demo.om.txt\n")


if __name__ == "__main__":
    write_fixtures()
