"""A Telnyx account's Cloud Storage configuration (`kind: telnyx`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from exporter.config.source import BaseSource


class TelnyxConfig(BaseSource):
    """A Telnyx account's Cloud Storage buckets, read with a Telnyx API v2 key."""

    kind: Literal["telnyx"]
    buckets: list[Annotated[str, Field(min_length=1, max_length=255)]] | Literal["auto"]
    regions: list[str] = Field(default_factory=lambda: ["us-central-1", "eu-central-1"])
    # None: Telnyx's own S3 hosts, or `<base_url>/s3/{region}` when base_url points elsewhere
    # (source.s3_endpoint): a source pointed at another host never reaches a Telnyx one
    s3_endpoint: str | None = None
    storage: bool = True

    @field_validator("buckets")
    @classmethod
    def _some_buckets(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("list each bucket once, or say `auto`")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")) or "{region}" not in value:
            raise ValueError("must be an http(s) URL template containing {region}")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not re.fullmatch(r"[a-z0-9-]{2,32}", region):
                raise ValueError(f"{region!r} is not a region name like us-central-1")
        return value
