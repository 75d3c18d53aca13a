"""`usage-exporter demo` as a new user runs it: every family within 15 s, values that move,
and an exposition `promtool check metrics` accepts without a warning."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from exporter.vendors import plugins
from tests.harness import (
    demo as start_demo,
)
from tests.harness import (
    parse_samples,
    require_tool,
    scrape,
    wait_for,
)


def counters(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {k: v for k, v in parse_samples(text).items() if k[0].endswith("_total")}


def test_demo_shows_every_family_moving_and_lint_clean(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    started = time.monotonic()
    demo = start_demo(tmp_path)
    try:
        families = {f.name for kind in plugins() for f in kind.families}

        def every_family_has_samples() -> bool:
            names = {name for name, _ in parse_samples(scrape(demo.url))}
            return families <= names

        wait_for(every_family_has_samples, "every family of every source", timeout=15, every=0.5)
        assert time.monotonic() - started < 20

        text = scrape(demo.url)
        check = subprocess.run(
            [promtool, "check", "metrics"],
            input=text.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0 and not check.stdout and not check.stderr, check

        first = counters(text)
        wait_for(
            lambda: any(
                v > first.get(k, 0)
                for k, v in counters(scrape(demo.url)).items()
                if k[0].startswith("openai_")
            ),
            "an OpenAI counter to rise",
            timeout=90,
            every=2,
        )
    finally:
        demo.stop()
