"""The official `anthropic` package as the SDK tests use it: imported (missing under CI is a
failure, elsewhere a skip), pointed at the simulator with the key in `x-api-key` (its own
`api_key=` would send a bearer token, which the Admin API does not take), and no developer's own
ANTHROPIC_* settings read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Process, simulator

if os.environ.get("CI"):
    import anthropic  # the test extra installs it: missing in CI is a failure, not a skip
else:
    anthropic = pytest.importorskip("anthropic", reason="pip install '.[test]' installs the SDK")

__all__ = ["anthropic", "sdk_client", "sdk_simulator"]

# read by the SDK's constructor: a developer's own settings must not leak into the test
SDK_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CONFIG_DIR", "ANTHROPIC_PROFILE")


@contextmanager
def sdk_simulator(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, key: str, org: str
) -> Iterator[Process]:
    """The simulator accepting `key` for `org`, with the SDK's environment variables unset."""
    for name in SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    with simulator(tmp, extra=("--anthropic-key", f"{key}={org}")) as process:
        yield process


def sdk_client(sim: Process, key: str) -> Any:
    """The SDK's client for the simulator: strict response validation, no retries."""
    return anthropic.Anthropic(
        base_url=sim.url,
        default_headers={"x-api-key": key},
        max_retries=0,
        _strict_response_validation=True,
    )
