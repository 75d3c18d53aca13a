"""`--help` describes every flag of every command, and `simulate --help` says which keys the
simulator accepts out of the box (a newcomer should not have to read the source for them)."""

from __future__ import annotations

import argparse

import pytest

from exporter.cli.main import parser
from exporter.vendors import plugins


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(commands()))
def test_every_flag_of_every_command_is_described(command: str) -> None:
    undescribed = [
        "/".join(action.option_strings) or action.dest
        for action in commands()[command]._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert undescribed == [], f"`{command} --help` leaves undescribed: {undescribed}"


def test_simulate_help_names_the_keys_it_accepts_out_of_the_box() -> None:
    text = commands()["simulate"].format_help()
    for vendor in plugins():
        for key in vendor.twin.default_keys:
            assert key in text, f"{vendor.kind}'s default key {key} is not in simulate --help"
    assert "127.0.0.1:9869" in text  # where it listens unless told
