"""Startup with a 30-day backfill: from process start to a complete first scrape.

Usage: python -m bench.startup [--smoke]

Per row the simulator and then the exporter start as real processes on 127.0.0.1, on an empty
state directory, with four targets: an OpenAI organization (all 11 endpoints, `bucket_width` 1h
or 1d, `group_by` [project_id, model, line_item], a budget), an Arthur engine (1h windows), a
Telnyx account (`buckets: auto`) and an Anylayer account (two keys, timeframe 30d, hourly), each
with `backfill: 30d` (Anylayer reads its timeframe instead). Intervals are long, so each target
polls exactly once while we measure.

Columns: seconds from `Popen` of the exporter until `/healthz` answers (imports, ledger, first
render), until `/readyz` is 200 (every target polled once) and until `/metrics` holds every family
of the four sources (the complete first scrape); the upstream calls made
(`usage_exporter_upstream_requests_total`), the series exported (usage series, without the
exporter's own `usage_exporter_*`), the exporter's peak RSS (`VmHWM` of /proc/PID/status), the
CPU seconds the exporter and the simulator used until then (where the time goes: the simulator
generates every bucket it serves), and per target its first poll's wall seconds
(`usage_exporter_poll_duration_seconds_sum`) and calls.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import cpu_seconds, machine_header
from bench.upstream_calls import samples
from testkit.memory import memory_kib
from testkit.processes import HOST, free_port, http, running, scrape, wait_for

TARGETS = ("openai", "arthur", "telnyx", "anylayer", "anthropic")
# families only the Anthropic Analytics API reports (the target here reads the legacy API)
ANALYTICS_ONLY = frozenset(
    {
        "anthropic_requests_total",
        "anthropic_list_cost_usd_total",
        "anthropic_data_refreshed_timestamp_seconds",
    }
)
COLUMNS = (
    "OpenAI bucket_width",
    "backfill",
    "listening s",
    "ready s",
    "complete scrape s",
    "upstream calls",
    "series",
    "peak RSS MiB",
    "exporter CPU s",
    "simulator CPU s",
    *(f"{t} first poll s (calls)" for t in TARGETS),
)
WAIT = 900.0  # the longest any one wait may take, seconds


def config(sim_url: str, state_dir: Path, width: str, backfill: str) -> dict[str, Any]:
    common = {"base_url": sim_url, "interval": "1h", "timeout": "15m", "backfill": backfill}
    return {
        "state_dir": str(state_dir),
        "sources": [
            {
                "kind": "openai",
                "name": "openai",
                "api_key": "sk-admin-demo",
                "bucket_width": width,
                "group_by": ["project_id", "model", "line_item"],
                "monthly_budget_usd": 500,
                **common,
            },
            {
                "kind": "arthur",
                "name": "arthur",
                "api_key": "arthur-demo-key",
                "window": "1h",
                **common,
            },
            {
                "kind": "telnyx",
                "name": "telnyx",
                "api_key": "KEYDEMO-telnyx",
                "buckets": "auto",
                "s3_endpoint": sim_url + "/s3/{region}",
                **common,
            },
            {
                "kind": "anylayer",
                "name": "anylayer",
                "api_key": "zk_prod_demo1234",
                "timeframe": "30d",
                "granularity": "hour",
                "key_ids": ["key_8f3a", "key_c21b"],
                **common,
            },
            {
                "kind": "anthropic",
                "name": "anthropic",
                "api_key": "sk-ant-admin01-demo",
                "bucket_width": width,
                "group_by": ["workspace_id", "api_key_id", "model", "service_tier"],
                "monthly_budget_usd": 500,
                **common,
            },
        ],
    }


def families() -> set[str]:
    from exporter.vendors import plugin

    return {f.name for kind in TARGETS for f in plugin(kind).families} - ANALYTICS_ONLY


def measure(width: str, backfill: str) -> dict[str, Any]:
    import yaml

    expected = families()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        tmp = Path(scratch)
        sim_port, port = free_port(), free_port()
        sim_url, url = f"http://{HOST}:{sim_port}", f"http://{HOST}:{port}"
        path = tmp / "config.yaml"
        path.write_text(yaml.safe_dump(config(sim_url, tmp / "state", width, backfill)))
        sim_argv = [
            sys.executable,
            "-m",
            "exporter",
            "simulate",
            f"--web.listen-address={HOST}:{sim_port}",
            "--seed=8",
        ]
        argv = [
            sys.executable,
            "-m",
            "exporter",
            "--log.level=warn",
            "run",
            f"--config={path}",
            f"--web.listen-address={HOST}:{port}",
        ]
        with running(
            "simulator", sim_argv, tmp / "simulator.log", sim_url, ready_path="/_sim/clock"
        ) as sim:
            sim_cpu = cpu_seconds(sim.popen.pid)
            started = time.monotonic()
            # `running` returns once /healthz answers: the exporter listens.
            with running(
                "exporter", argv, tmp / "exporter.log", url, ready_path="/healthz"
            ) as exporter:
                listening = time.monotonic() - started

                def ready() -> bool:
                    exporter.check()
                    return http(url + "/readyz", timeout=5)[0] == 200

                wait_for(ready, "/readyz", WAIT, every=0.02)
                ready_s = time.monotonic() - started
                text = ""

                def complete() -> bool:
                    nonlocal text
                    text = scrape(url)
                    return expected <= {name for name, _, _ in samples(text)}

                try:
                    wait_for(complete, "every family in /metrics", 60, every=0.02)
                except AssertionError:
                    missing = expected - {name for name, _, _ in samples(text)}
                    raise TimeoutError(f"families never exported: {sorted(missing)}") from None
                complete_s = time.monotonic() - started
                rss = memory_kib(exporter.popen.pid)["VmHWM"] / 1024
                exporter_cpu = cpu_seconds(exporter.popen.pid)
                sim_cpu = cpu_seconds(sim.popen.pid) - sim_cpu
    calls = dict.fromkeys(TARGETS, 0.0)
    duration = dict.fromkeys(TARGETS, 0.0)
    series = 0
    down = []
    for name, labels, value in samples(text):
        target = labels.get("target", "")
        if not name.startswith("usage_exporter_"):
            series += 1
        elif name == "usage_exporter_upstream_requests_total":
            calls[target] += value
        elif name == "usage_exporter_poll_duration_seconds_sum":
            duration[target] = value
        elif name == "usage_exporter_up" and value != 1:
            down.append(target)
    if down:
        raise RuntimeError(f"targets not up after their first poll: {down}")
    return {
        "listening": listening,
        "ready": ready_s,
        "complete": complete_s,
        "calls": sum(calls.values()),
        "series": series,
        "rss": rss,
        "exporter_cpu": exporter_cpu,
        "sim_cpu": sim_cpu,
        "per_target": {t: (duration[t], calls[t]) for t in TARGETS},
    }


def row(width: str, backfill: str, r: dict[str, Any]) -> str:
    cells = [
        width,
        backfill,
        f"{r['listening']:.2f}",
        f"{r['ready']:.2f}",
        f"{r['complete']:.2f}",
        f"{r['calls']:.0f}",
        f"{r['series']}",
        f"{r['rss']:.0f}",
        f"{r['exporter_cpu']:.1f}",
        f"{r['sim_cpu']:.1f}",
        *(f"{d:.2f} ({c:.0f})" for d, c in r["per_target"].values()),
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a 1-day backfill, 1h only, once")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per row; the run with the median time is shown"
    )
    args = parser.parse_args(argv)
    command = "python -m bench.startup" + (" --smoke" if args.smoke else "")
    rows = [("1h", "1d")] if args.smoke else [("1h", "30d"), ("1d", "30d")]
    runs = 1 if args.smoke else max(1, args.runs)
    print(machine_header(command) + f" Each row: the median of {runs} run(s) by complete scrape s.")
    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS), flush=True)
    for width, backfill in rows:
        results = sorted(
            (measure(width, backfill) for _ in range(runs)), key=lambda r: r["complete"]
        )
        print(row(width, backfill, results[len(results) // 2]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
