"""The default `run` serves HTTP from a second process (issue 26: the defaults never make a
scrape wait on a poll); `--no-web.listener-process` keeps it in the daemon's process, and the
old opt-in flag still parses."""

from __future__ import annotations

import pytest

from exporter.cli.main import parser


@pytest.mark.parametrize(
    ("flags", "separate"),
    [((), True), (("--web.listener-process",), True), (("--no-web.listener-process",), False)],
)
def test_the_listener_process_is_the_default(flags: tuple[str, ...], separate: bool) -> None:
    args = parser().parse_args(["run", "--config", "usage-exporter.yaml", *flags])
    assert args.listener_process is separate
