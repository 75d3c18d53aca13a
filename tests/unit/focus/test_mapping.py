"""The contract of a plug-in's FOCUS mapping, checked for every registered vendor: the families
it names exist, keep daily history, and carry the labels it reads; quantities extend the cost
labels by their unit; a list-price family has the cost family's labels and unit; `x_` columns
are named as FOCUS wants custom columns."""

from __future__ import annotations

import re

import pytest

from exporter.focus.columns import ascii_text
from exporter.model import Kind
from exporter.plugin import Plugin
from exporter.vendors import plugins

MAPPED = [p for p in plugins() if p.focus]


def test_every_vendor_with_a_cost_family_declares_a_mapping() -> None:
    assert {"openai", "anthropic"} <= {p.kind for p in MAPPED}
    for vendor in plugins():
        history = {f.name for f in vendor.families if f.history}
        mapped = (
            {m.family for m in vendor.focus}
            | {m.quantity.family for m in vendor.focus if m.quantity}
            | {m.list_cost for m in vendor.focus if m.list_cost}
        )
        assert history == mapped, f"{vendor.kind}: history kept for no export (or missing)"


@pytest.mark.parametrize("vendor", MAPPED, ids=lambda p: p.kind)
def test_the_mapping_names_what_its_families_hold(vendor: Plugin[object]) -> None:  # type: ignore[type-var]
    families = {f.name: f for f in vendor.families}
    for mapping in vendor.focus:
        cost = families[mapping.family]
        assert cost.kind is Kind.COUNTER and cost.history
        for label in (*mapping.sku, mapping.sub_account, *mapping.extra.values()):
            assert not label or label in cost.labels, label
        for text in (mapping.provider, mapping.service):
            assert text and ascii_text(text) == text
        assert re.fullmatch(r"[A-Z]{3}", mapping.currency)
        for column in mapping.extra:
            assert re.fullmatch(r"x_[A-Z][A-Za-z0-9]*", column), column
        if mapping.names is not None:
            info = families[mapping.names.family]
            assert info.kind is Kind.GAUGE
            assert {mapping.names.key, mapping.names.name} <= set(info.labels)
        if mapping.quantity is not None:
            quantity = families[mapping.quantity.family]
            assert quantity.history and quantity.kind is Kind.COUNTER
            assert quantity.labels == (*cost.labels, mapping.quantity.unit)
        if mapping.list_cost:
            listed = families[mapping.list_cost]
            assert listed.history and listed.kind is Kind.COUNTER
            assert listed.labels == cost.labels and listed.unit == cost.unit
