"""The sixth vendor's configuration (`kind: tally`): nothing beyond the shared keys."""

from __future__ import annotations

from typing import Literal

from exporter.source_config import BaseSource


class TallyConfig(BaseSource):
    kind: Literal["tally"]
