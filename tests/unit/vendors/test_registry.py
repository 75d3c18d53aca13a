"""The vendor registry (`exporter/vendors/__init__.py`): `register()` takes a kind once and refuses
a family outside its prefix or taken; installed plug-ins come after the built-in ones, and one
that cannot be registered is named; a twin's import paths name its hooks. (That no other module
lists the vendors: tests/meta/test_vendor_names.py.)"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.model import Family, Kind
from exporter.vendors import (
    REGISTRY,
    PluginError,
    installed,
    kinds,
    plugin,
    refusal,
    register,
    registered,
)
from tests.sixth_vendor.install import ROOT, dist_info, install


def test_register_adds_a_kind_once_and_registered_restores() -> None:
    before = list(REGISTRY)
    first = REGISTRY[0]
    with pytest.raises(ValueError, match="already registered"):
        register(first)
    twin = dataclasses.replace(first, kind="seventh", families=())
    with registered(twin):
        assert plugin("seventh") is twin and kinds()[-1] == "seventh"
    assert before == REGISTRY
    with pytest.raises(KeyError):
        plugin("seventh")


@pytest.mark.parametrize(
    ("kind", "family", "reason"),
    [
        ("seventh", Family("openai_cost_usd_total", Kind.COUNTER, "h"), "not named seventh_"),
        (  # the prefix is right, the name is OpenAI's
            "openai_cost",
            Family("openai_cost_usd_total", Kind.COUNTER, "h"),
            "already exported by plug-in 'openai'",
        ),
        (  # a counter `x_total` and a gauge `x` are one family in Prometheus
            "openai_cost",
            Family("openai_cost_usd", Kind.GAUGE, "h"),
            "already exported by plug-in 'openai'",
        ),
        ("usage_exporter", Family("usage_exporter_up", Kind.GAUGE, "h"), "by the self-metrics"),
        ("seventh", Family("seventh_wait_seconds", Kind.HISTOGRAM, "h"), "counters and gauges"),
    ],
)
def test_register_refuses_a_family_outside_its_prefix_or_taken(
    kind: str, family: Family, reason: str
) -> None:
    new = dataclasses.replace(REGISTRY[0], kind=kind, families=(family,))
    before = list(REGISTRY)
    with pytest.raises(ValueError, match=re.escape(reason)):
        register(new)
    assert before == REGISTRY
    assert refusal(dataclasses.replace(new, families=()), REGISTRY) == ""


def test_the_built_in_plugins_pass_the_registration_checks() -> None:
    for index, vendor in enumerate(REGISTRY):
        assert refusal(vendor, REGISTRY[:index]) == "", vendor.kind


def child_kinds(pythonpath: str) -> subprocess.CompletedProcess[str]:
    """`kinds()` as a fresh interpreter with `pythonpath` sees them."""
    return subprocess.run(
        [sys.executable, "-c", "from exporter.vendors import kinds; print(','.join(kinds()))"],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_installed_plugin_is_registered_after_the_built_in_ones(tmp_path: Path) -> None:
    plain = child_kinds(str(ROOT))
    assert plain.stdout.strip() == ",".join(kinds()), plain.stderr
    seen = child_kinds(install(tmp_path))
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() == ",".join([*kinds(), "tally"])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tally = tests.sixth_vendor.absent:PLUGIN", "'tally' .* failed to load: ModuleNotFound"),
        ("tally = tests.sixth_vendor:TallyConfig", "is a ModelMetaclass, not exporter.plugin"),
        ("tallies = tests.sixth_vendor:PLUGIN", "has kind 'tally': the names must agree"),
    ],
)
def test_an_installed_plugin_that_cannot_be_registered_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, message: str
) -> None:
    dist_info(tmp_path, f"[usage_exporter.vendors]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=message):
        installed()
    child = child_kinds(f"{tmp_path}{os.pathsep}{ROOT}")  # the CLI refuses to start
    assert child.returncode != 0 and "PluginError" in child.stderr


def test_an_installed_plugin_may_not_take_a_built_in_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_info(tmp_path, "[usage_exporter.vendors]\nopenai = exporter.vendors.openai:PLUGIN\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="kind 'openai' is already registered"):
        installed()


@pytest.mark.parametrize("vendor", REGISTRY, ids=lambda p: p.kind)
def test_a_twins_import_paths_name_its_hooks(vendor) -> None:
    """`Twin.mount`, `expected`, `parse_key` as import paths: each names a callable of the
    vendor's own package (a typo would show only when the simulator starts)."""
    twin = vendor.twin
    for hook in (twin.mount, twin.expected, twin.parse_key):
        if isinstance(hook, str):
            assert hook.startswith(f"exporter.vendors.{vendor.kind}."), hook
    assert callable(twin.mounter()) and callable(twin.key_parser())
    assert callable(twin.oracle())


def test_an_import_path_is_module_colon_attribute() -> None:
    from exporter.plugin import load

    assert load("exporter.plugin:load") is load
    with pytest.raises(ValueError, match="not an import path"):
        load("exporter.plugin.load")
