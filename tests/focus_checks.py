"""What the tests check of a FOCUS dataset beyond the official validator: every enumerated
column holds an allowed value in every row (the validator fails a column only when no row has
one), dates are `YYYY-MM-DDTHH:MM:SSZ`, strings are ASCII, decimals are plain decimal text."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from exporter.focus import columns as c

_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")


def parse_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("ascii"))))


def problems(data: bytes) -> list[str]:
    """Every rule broken, one line each (empty: the file is clean)."""
    found: list[str] = []
    if not data.isascii():
        found.append("the file is not ASCII")
        return found
    rows = parse_csv(data)
    header = data.split(b"\n", 1)[0].decode().split(",")
    for column in c.COLUMNS:
        if column not in header:
            found.append(f"column {column} missing")
    for name in header:
        if name not in c.COLUMNS and not name.startswith("x_"):
            found.append(f"column {name} is neither FOCUS nor x_")
    for i, row in enumerate(rows, 2):
        for column, allowed in c.ENUMERATIONS.items():
            if row.get(column, "") not in allowed:
                found.append(f"line {i}: {column} {row.get(column)!r} not allowed")
        for column in c.DATES:
            if not c.DATE_FORMAT.fullmatch(row.get(column, "")):
                found.append(f"line {i}: {column} {row.get(column)!r} is no FOCUS date")
        for column in c.DECIMALS:
            value = row.get(column, "")
            if value and not _DECIMAL.fullmatch(value):
                found.append(f"line {i}: {column} {value!r} is no plain decimal")
        if row.get("ChargeClass") != c.CORRECTION:
            for column in ("PricingQuantity", "PricingUnit"):
                if not row.get(column):
                    found.append(f"line {i}: {column} empty on a usage row")
        unit = row.get("PricingUnit", "")
        if unit and not c.UNIT_FORMAT.fullmatch(unit):
            found.append(f"line {i}: PricingUnit {unit!r} not in FOCUS's unit format")
        if row.get("BillingCurrency") and not re.fullmatch(r"[A-Z]{3}", row["BillingCurrency"]):
            found.append(f"line {i}: BillingCurrency {row['BillingCurrency']!r}")
        if not row.get("ChargePeriodStart", "") < row.get("ChargePeriodEnd", ""):
            found.append(f"line {i}: ChargePeriod is empty")
        # no contract or commitment is known: both are what is billed (ListCost may differ:
        # a vendor's list price)
        for cost in ("ContractedCost", "EffectiveCost"):
            if row.get(cost) != row.get("BilledCost"):
                found.append(f"line {i}: {cost} differs from BilledCost")
    return found


def billed(rows: list[dict[str, str]], column: str = "BilledCost") -> Decimal:
    return sum((Decimal(r[column]) for r in rows), Decimal(0))
