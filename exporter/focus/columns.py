"""The FOCUS 1.2 columns the export writes, their fixed values, and the text rules every value
follows (ASCII, dates, decimals). Facts from the FOCUS 1.2 specification; see docs/finops.md."""

from __future__ import annotations

import calendar
import re
import time
import unicodedata
from decimal import Decimal

FOCUS_VERSION = "1.2"

# The 21 mandatory columns, the three recommended ones the validator requires, then the
# conditional ones the dataset supports (SkuId, SubAccountId, SubAccountName).
COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
)
MONEY = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost")
DECIMALS = (*MONEY, "PricingQuantity")
DATES = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")

# What every row of this export holds in the enumerated columns.
CHARGE_CATEGORY = "Usage"
CHARGE_FREQUENCY = "Usage-Based"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
CORRECTION = "Correction"

# The allowed values of the enumerated columns (FOCUS 1.2), for the export's own checks: the
# validator misses a single bad value among good ones.
ENUMERATIONS: dict[str, frozenset[str]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({"", "Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "ServiceCategory": frozenset({SERVICE_CATEGORY}),
    "ServiceSubcategory": frozenset({SERVICE_SUBCATEGORY}),
}

# The validator's applicability criteria this dataset really supports: sub-accounts and their
# names. (No public price list, unit prices, commitments, tags, regions or resources.)
APPLICABILITY_CRITERIA = ("SUB_ACCOUNT_SUPPORTED", "ACCOUNT_NAMING_SUPPORTED")

# When the vendor gives no billed quantity, the exporter knows the amount billed: the pricing
# quantity is that amount, in this unit (docs/finops.md).
SPEND_UNIT = "USD"

DATE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
UNIT_FORMAT = re.compile(r"([0-9]+ )?[A-Za-z][A-Za-z0-9]*( [A-Za-z][A-Za-z0-9]*)*")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def date_text(t: int) -> str:
    """A UTC instant as FOCUS writes it: `YYYY-MM-DDTHH:MM:SSZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def decimal_text(value: float) -> str:
    """The ledger's float as a decimal, exactly as it is held: the shortest text that reads
    back as the same float, never in exponent form, always with a decimal point (a column of
    integers is read as integers and fails FOCUS's decimal type)."""
    text = repr(value + 0.0)  # -0.0 -> 0.0
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def ascii_text(value: str) -> str:
    """FOCUS strings are ASCII: accents are dropped (`é` -> `e`), anything else becomes `?`;
    control characters become spaces."""
    if value.isascii() and value.isprintable():
        return value
    folded = unicodedata.normalize("NFKD", value)
    out = []
    for char in folded:
        if unicodedata.combining(char):
            continue
        if not char.isascii():
            out.append("?")
        elif not char.isprintable():
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def focus_unit(unit: str, known: dict[str, str] | None = None) -> str:
    """A vendor's unit in FOCUS's unit format, or "" when it cannot be written in it."""
    if known and unit in known:
        return known[unit]
    words = [w for w in re.split(r"[_\s]+", ascii_text(unit)) if w]
    text = " ".join(w if w.isdigit() else w[:1].upper() + w[1:] for w in words)
    return text if UNIT_FORMAT.fullmatch(text) else ""


class MonthError(ValueError):
    """A month that names no dataset: malformed, in the future or before the retention."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that says so: 400, 404 or 410


def parse_month(text: str) -> int:
    """`YYYY-MM` as the unix time its UTC month starts; MonthError (400) when malformed."""
    match = _MONTH.fullmatch(text.strip())
    if match is None:
        shown = text[:20].encode("ascii", "replace").decode()
        raise MonthError(f"month must be YYYY-MM (e.g. 2026-11), not {shown!r}", 400)
    return calendar.timegm((int(match[1]), int(match[2]), 1, 0, 0, 0))


def next_month(start: int) -> int:
    tm = time.gmtime(start + 32 * 86400)
    return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0))
