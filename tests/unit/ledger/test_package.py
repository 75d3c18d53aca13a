"""`exporter.ledger` imports each name when first asked for: every name resolves to its module's
object, an unknown one is an AttributeError, and a reader of the state file (the FOCUS dataset,
as the listener process reads it) does not load the ledger's in-memory model."""

from __future__ import annotations

import importlib

import pytest

import exporter.ledger
from tests.harness import imported_by


@pytest.mark.parametrize("name", exporter.ledger.__all__)
def test_each_name_is_its_modules_object(name: str) -> None:
    value = getattr(exporter.ledger, name)
    module = importlib.import_module(f"exporter.ledger.{exporter.ledger._WHERE[name]}")
    assert value is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Ledgr'"):
        _ = exporter.ledger.Ledgr


def test_the_focus_dataset_reads_the_schema_without_the_model() -> None:
    found = imported_by("exporter.focus.dataset")
    assert {m for m in found if m.startswith("exporter.ledger.")} == {
        "exporter.ledger.errors",
        "exporter.ledger.schema",
    }
