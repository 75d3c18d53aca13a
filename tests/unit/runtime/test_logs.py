"""Structured logs: logfmt and JSON with extras, escaping, and the secret redactor."""

from __future__ import annotations

import json
import logging

import pytest

from exporter.runtime.logs import configure_logging, register_secret

SECRET = "sk-admin-SECRET-CANARY-9876"


def test_logfmt_with_extras_and_escaping(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "logfmt")
    logging.getLogger("exporter.t").info('poll "done"', extra={"target": "a b", "n": 3})
    line = capsys.readouterr().err.strip()
    assert "level=info logger=exporter.t" in line
    assert 'msg="poll \\"done\\""' in line and 'target="a b"' in line and "n=3" in line


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", "json")
    logging.getLogger("x").debug("line\nbreak", extra={"target": "t"})
    record = json.loads(capsys.readouterr().err)
    assert record["msg"] == "line\nbreak" and record["target"] == "t"
    assert record["level"] == "debug"


def test_the_redactor_applies_at_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret(SECRET)
    for fmt in ("logfmt", "json"):
        configure_logging("debug", fmt)
        logging.getLogger("httpx").debug("headers: Authorization: Bearer abc.def-123")
        logging.getLogger("x").warning("echo %s", SECRET, extra={"k": SECRET})
    err = capsys.readouterr().err
    assert SECRET not in err and "abc.def-123" not in err and err.count("<redacted>") >= 6
