"""One FOCUS CostAndUsage dataset: a billing period's rows, read from the state file.

Rows come from the ledger's daily history (`charges`): per cost series and UTC day, the amount
booked in each billing period (UTC month) it was observed in. A month's dataset holds the days
of that month booked in it (ChargeClass empty) and the revisions of days of closed months
observed in it (ChargeClass `Correction`, their own day as ChargePeriod). It reads through a
read-only connection in one read transaction (a consistent snapshot while a daemon writes),
series by series: memory grows with the number of series, not of rows.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from exporter.focus import columns as c
from exporter.focus.mapping import CostMapping
from exporter.ledger import APPLICATION_ID, SCHEMA_VERSION, LedgerError
from exporter.model import Family, month_start, months_before

Value = str | float | None
Row = tuple[Value, ...]
HISTORY_SCHEMA = 3  # the first state schema with `charges`


@dataclass(frozen=True, slots=True)
class Vendor:
    """A kind of source with cost mappings: the mappings and the families they name."""

    mappings: tuple[CostMapping, ...]
    families: Mapping[str, Family]


@dataclass(frozen=True, slots=True)
class ExportTarget:
    """A target found in the state file with a cost family: its name and its kind's mappings."""

    name: str
    mappings: tuple[CostMapping, ...]
    families: Mapping[str, Family]


def extra_columns(vendors: Sequence[Vendor]) -> tuple[str, ...]:
    """The `x_` columns: the union of every mapping's, sorted (one layout for all vendors)."""
    return tuple(sorted({x for v in vendors for m in v.mappings for x in m.extra}))


def check_month(month: int, now: int, retention_months: int) -> None:
    """MonthError unless `month` (a UTC month start) is the current month or a retained one."""
    if month > month_start(now):
        raise c.MonthError(f"{c.date_text(month)[:7]} has not begun: no dataset yet", 404)
    if month < months_before(now, retention_months):
        raise c.MonthError(
            f"{c.date_text(month)[:7]} is older than the retention of the daily cost history "
            f"(the current month and {retention_months} before it: cost_history_months)",
            410,
        )


def open_state(path: Path) -> sqlite3.Connection:
    """The state file, read-only; LedgerError when it is missing, foreign, or of a schema
    without daily history (not yet migrated: start this version's exporter once) or newer."""
    if not path.is_file():
        raise LedgerError(f"{path}: no state file (has the exporter run with this state_dir?)")
    try:
        # (a streamed response reads on from whichever worker thread is free)
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: cannot read the state file: {err}") from None
    if app_id != APPLICATION_ID:
        db.close()
        raise LedgerError(f"{path}: not a usage-exporter state file")
    if version < HISTORY_SCHEMA or version > SCHEMA_VERSION:
        db.close()
        what = "newer than this version reads" if version > SCHEMA_VERSION else "older"
        raise LedgerError(
            f"{path}: state schema {version} is {what}; the cost export reads schema "
            f"{HISTORY_SCHEMA} to {SCHEMA_VERSION} (start this version's exporter once to "
            "migrate an older file)"
        )
    return db


class Dataset:
    """The rows of one billing period, in `columns` order; decimals as the ledger's floats.

    Every target of the state file that holds a mapped cost family is exported (a target
    removed from the config keeps its past costs), ordered by name."""

    def __init__(self, path: Path, vendors: Sequence[Vendor], month: int) -> None:
        self.path = path
        self.vendors = tuple(vendors)
        self.month = month
        self.month_end = c.next_month(month)
        self.extra = extra_columns(self.vendors)
        self.columns: tuple[str, ...] = (*c.COLUMNS, *self.extra)

    def rows(self) -> Iterator[Row]:
        db = open_state(self.path)  # before the first row: a refused file is an error, not data
        return self._rows(db)

    def _targets(self, db: sqlite3.Connection) -> list[ExportTarget]:
        found: list[ExportTarget] = []
        for vendor in self.vendors:
            names: set[str] = set()
            for mapping in vendor.mappings:
                names |= {
                    str(row[0])
                    for row in db.execute(
                        "SELECT DISTINCT target FROM series WHERE family=?", (mapping.family,)
                    )
                }
            found += [ExportTarget(n, vendor.mappings, vendor.families) for n in names]
        return sorted(found, key=lambda t: t.name)

    def _rows(self, db: sqlite3.Connection) -> Iterator[Row]:
        try:
            db.execute("BEGIN")  # one snapshot for the whole dataset
            for target in self._targets(db):
                for mapping in target.mappings:
                    yield from self._mapping_rows(db, target, mapping)
            db.execute("COMMIT")
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot read the state file: {err}") from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _series(
        self, db: sqlite3.Connection, target: str, family: str
    ) -> list[tuple[int, list[str]]]:
        return [
            (sid, [str(v) for v in json.loads(labels)])
            for sid, labels in db.execute(
                "SELECT id, labels FROM series WHERE target=? AND family=? ORDER BY id",
                (target, family),
            )
        ]

    def _names(
        self, db: sqlite3.Connection, target: ExportTarget, mapping: CostMapping
    ) -> dict[str, str]:
        names = mapping.names
        family = target.families.get(names.family) if names is not None else None
        if names is None or family is None:
            return {}
        key, name = family.labels.index(names.key), family.labels.index(names.name)
        found: dict[str, str] = {}
        for (labels,) in db.execute(
            "SELECT labels FROM levels WHERE target=? AND family=?", (target.name, names.family)
        ):
            values = json.loads(labels)
            if len(values) > max(key, name) and values[name]:
                found[str(values[key])] = str(values[name])
        return found

    def _mapping_rows(
        self, db: sqlite3.Connection, target: ExportTarget, mapping: CostMapping
    ) -> Iterator[Row]:
        family = target.families[mapping.family]
        width = len(family.labels)
        names = self._names(db, target, mapping)
        # cost labels -> the quantity series of that cost series: (series id, FOCUS unit)
        quantities: dict[tuple[str, ...], list[tuple[int, str]]] = {}
        if mapping.quantity is not None and mapping.quantity.family in target.families:
            q = mapping.quantity
            q_labels = target.families[q.family].labels
            unit_at = q_labels.index(q.unit)
            for sid, stored in self._series(db, target.name, q.family):
                padded = stored + [""] * (len(q_labels) - len(stored))
                focus_unit = c.focus_unit(padded[unit_at], dict(q.units))
                quantities.setdefault(tuple(padded[:width]), []).append((sid, focus_unit))
        # cost labels -> the series at list price, where the mapping names one
        listed: dict[tuple[str, ...], int] = {}
        if mapping.list_cost and mapping.list_cost in target.families:
            for sid, stored in self._series(db, target.name, mapping.list_cost):
                listed[tuple(stored + [""] * (width - len(stored)))] = sid
        provider = c.ascii_text(mapping.provider)
        service = c.ascii_text(mapping.service)
        account = c.ascii_text(target.name)
        period = (c.date_text(self.month_end), c.date_text(self.month))
        costs = {
            tuple(stored + [""] * (width - len(stored))): sid
            for sid, stored in self._series(db, target.name, mapping.family)
        }
        # a series only at list price (its net amount never differed from zero) has rows too
        every = list(costs) + [k for k in listed if k not in costs]
        for values in every:
            labels = {
                k: "" if v in mapping.absent else v
                for k, v in zip(family.labels, values, strict=True)
            }
            sku = c.ascii_text("/".join(v for v in (labels.get(k, "") for k in mapping.sku) if v))
            sub_id = c.ascii_text(labels.get(mapping.sub_account, ""))
            sub_name = c.ascii_text(names.get(labels.get(mapping.sub_account, ""), sub_id))
            extra = {x: c.ascii_text(labels.get(k, "")) or None for x, k in mapping.extra.items()}
            own = quantities.get(values, [])
            billed = self._days(db, costs.get(values))
            at_list = self._days(db, listed.get(values)) if listed else billed
            for day in sorted(billed.keys() | at_list.keys()):
                amount, list_amount = billed.get(day, 0.0), at_list.get(day, 0.0)
                if amount == 0.0 and list_amount == 0.0:
                    continue
                correction = day < self.month
                quantity: float | None = None
                unit: str | None = None
                if not correction:
                    quantity, unit = _quantity(db, self.month, day, own)
                    if quantity is None:
                        quantity, unit = amount, c.SPEND_UNIT
                yield (
                    amount,  # BilledCost
                    account,  # BillingAccountId
                    account,  # BillingAccountName
                    mapping.currency,
                    *period,  # BillingPeriodEnd, BillingPeriodStart
                    c.CHARGE_CATEGORY,
                    c.CORRECTION if correction else None,
                    (sku or service) + (" (correction)" if correction else ""),
                    c.CHARGE_FREQUENCY,
                    c.date_text(day + 86400),  # ChargePeriodEnd
                    c.date_text(day),  # ChargePeriodStart
                    amount,  # ContractedCost: no contract known beyond what is billed
                    amount,  # EffectiveCost: no commitment to amortize
                    None,  # InvoiceId: the exporter sees no invoices
                    provider,  # InvoiceIssuerName
                    list_amount,  # ListCost: the list price's amount, else what is billed
                    quantity,
                    unit,
                    provider,  # ProviderName
                    provider,  # PublisherName
                    c.SERVICE_CATEGORY,
                    service,
                    c.SERVICE_SUBCATEGORY,
                    sku or None,
                    sub_id or None,
                    (sub_name or None) if sub_id else None,
                    *(extra.get(x) for x in self.extra),
                )

    def _days(self, db: sqlite3.Connection, series_id: int | None) -> dict[int, float]:
        """A series' amounts booked in this billing period, by day (none for no series)."""
        if series_id is None:
            return {}
        return {
            int(day): float(amount)
            for day, amount in db.execute(
                "SELECT day, amount FROM charges WHERE period=? AND series_id=?",
                (self.month, series_id),
            )
        }


def _quantity(
    db: sqlite3.Connection, month: int, day: int, series: list[tuple[int, str]]
) -> tuple[float | None, str | None]:
    """The day's billed quantity when exactly one unit has one (and FOCUS can name it)."""
    found: list[tuple[float, str]] = []
    for sid, unit in series:
        row = db.execute(
            "SELECT amount FROM charges WHERE period=? AND series_id=? AND day=?",
            (month, sid, day),
        ).fetchone()
        if row is not None and row[0] != 0.0:
            found.append((float(row[0]), unit))
    if len(found) == 1 and found[0][1]:
        return found[0]
    return None, None
