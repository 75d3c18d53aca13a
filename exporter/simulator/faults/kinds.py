"""The faults' vocabulary: which kinds there are, their variants, and one fault as queued.

Kinds:

- `status`: an error status (429 with or without `Retry-After`, 5xx) with the upstream's envelope.
- `delay`: answer after `seconds` (longer than the client's timeout: a timeout).
- `truncate`, `reset`: half the body, then the end of the body or a dropped connection.
- `malformed`: a 200 that is not JSON (variants `syntax`, `html`, `empty`).
- `drift`: unknown fields and amounts as strings (for the upstreams whose twin says it applies).
- `page_error`: a 500 on a call that follows a pagination cursor (`page` or `offset`).
- `types`: counted numbers of the wrong JSON type (variants `string`, `list`, `bool`, `object`).
- `missing`: variant `required` drops a field no reader can do without (bucket times, the data
  list, a row's counts); variant `quantity` drops one counted field from the records of recent
  buckets (started within `recent` seconds), which a reader takes as no usage until it returns.
- `extra`: unknown fields added to every object.
- `revise_up`, `revise_down`: a late revision of a closed, final minute of the called stream's
  usage, done before the call is answered (the answer and the ground truth both show it).

In the simulator a plain `kind` is a vendor's kind (the twin a call is for, as in
`Plugin.kind`); a fault's own kind is `Fault.kind`, or `fault_kind` where both are at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = (
    "status",
    "delay",
    "truncate",
    "malformed",
    "reset",
    "drift",
    "page_error",
    "types",
    "missing",
    "extra",
    "revise_up",
    "revise_down",
)
VARIANTS = {
    "malformed": ("syntax", "html", "empty"),
    "types": ("string", "list", "bool", "object"),
    "missing": ("required", "quantity"),
}
REVISIONS = frozenset({"revise_up", "revise_down"})
BODY_KINDS = frozenset({"drift", "types", "missing", "extra"})  # they rewrite a JSON answer
CURSORS = ("page", "offset")  # query parameters that follow pagination


@dataclass
class Fault:
    """One fault: `kind` is the fault's, `upstream` the vendor kind whose calls it meets (the
    key `/_sim/faults` takes)."""

    kind: str
    upstream: str = ""
    path_contains: str = ""
    count: int = 1
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    variant: str = ""
    recent: int = 3600  # `missing` `quantity`: only records of buckets this young
    effect: bool = True  # False once the fault found nothing to change

    @classmethod
    def parse(cls, raw: dict[str, Any], kind: str) -> Fault:
        """A fault as POSTed to `/_sim/faults`; `kind`: the vendor's, where `raw` names none."""
        fault_kind = str(raw.get("kind", ""))
        if fault_kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault_kind!r} (one of {', '.join(KINDS)})")
        variant = str(raw.get("variant", VARIANTS.get(fault_kind, ("",))[0]))
        if variant not in VARIANTS.get(fault_kind, ("",)):
            raise ValueError(f"unknown variant {variant!r} of fault kind {fault_kind!r}")
        return cls(
            kind=fault_kind,
            upstream=str(raw.get("upstream", kind)),
            path_contains=str(raw.get("path_contains", "")),
            count=int(raw.get("count", 1)),
            status=int(raw.get("status", 500)),
            retry_after=raw.get("retry_after"),
            seconds=float(raw.get("seconds", 0)),
            variant=variant,
            recent=int(raw.get("recent", 3600)),
        )

    @property
    def label(self) -> str:
        """The kind with what sets it apart: `status:429+retry-after`, `types:list`."""
        if self.kind == "status":
            after = "+retry-after" if self.retry_after is not None and self.status == 429 else ""
            return f"status:{self.status}{after}"
        if self.kind == "delay":
            return f"delay:{self.seconds:g}s"
        return f"{self.kind}:{self.variant}" if self.variant else self.kind
