"""Basic auth does the same bcrypt work for an unknown user as for a wrong password, so the
time to a 401 does not tell an attacker which user names exist."""

from __future__ import annotations

import base64
from typing import Any

import bcrypt
import pytest

from exporter.http.webconfig import BasicAuth


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.asyncio
async def test_unknown_user_and_wrong_password_cost_one_bcrypt_check_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode()
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed_password: bytes) -> bool:
        calls.append(hashed_password)
        return bool(real(password, hashed_password))

    monkeypatch.setattr("exporter.http.webconfig.bcrypt.checkpw", counting)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    auth = BasicAuth(app, {"prometheus": hashed})
    assert not await auth._allowed(header("nobody", "right"))
    assert not await auth._allowed(header("prometheus", "wrong"))
    assert calls == [auth.dummy_hash, hashed.encode()]
    assert auth.dummy_hash.startswith(b"$2b$04$")  # the configured cost, not a fixed one
    assert await auth._allowed(header("prometheus", "right"))
    assert await auth._allowed(header("prometheus", "right"))  # cached: no third check
    assert len(calls) == 3
    assert not await auth._allowed("Bearer token") and len(calls) == 3
