"""Horizontal sharding, the kube-state-metrics way: `--shard N --total-shards M`.

Each target belongs to exactly one shard, by a stable hash of its configured `name`:

    shard = int.from_bytes(sha256(name.encode("utf-8")).digest()[:8], "big") % total_shards

(the first 8 bytes of the SHA-256 digest, big-endian, modulo the number of shards). It depends on
the name and the number of shards only, never on the other targets nor on the process (Python's
`hash()` is salted per process), so operators can predict it (`usage-exporter shard-of`) and
adding or removing a target moves no other target. Changing the number of shards moves targets:
see docs/kubernetes.md for re-sharding.

`--shard.from-hostname` takes N from the ordinal suffix of a StatefulSet pod's name
(`usage-exporter-2` -> 2), read from `$HOSTNAME` (what Kubernetes sets in every pod) or else the
host name.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

_ORDINAL = re.compile(r"-(\d{1,9})$")


class ShardError(ValueError):
    """A shard setting that cannot work, worded for the operator."""


def shard_of(name: str, total_shards: int) -> int:
    """The shard (0 .. total_shards-1) that owns the target called `name`."""
    if total_shards < 1:
        raise ShardError(f"total shards must be at least 1, not {total_shards}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total_shards


@dataclass(frozen=True, slots=True)
class Shard:
    """This process's shard: it exports the targets `shard_of(name, total) == index`."""

    index: int = 0
    total: int = 1

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ShardError(f"--total-shards must be at least 1, not {self.total}")
        if not 0 <= self.index < self.total:
            raise ShardError(
                f"--shard {self.index} is out of range: with --total-shards {self.total} a "
                f"shard is 0 to {self.total - 1}"
            )

    def owns(self, name: str) -> bool:
        return shard_of(name, self.total) == self.index

    def __str__(self) -> str:
        return f"shard {self.index} of {self.total}"


def ordinal_from_hostname(hostname: str) -> int:
    """The StatefulSet ordinal at the end of a pod name: `usage-exporter-2` -> 2."""
    match = _ORDINAL.search(hostname.strip())
    if not match:
        shown = hostname.strip()[:64] or "(empty)"
        raise ShardError(
            f"--shard.from-hostname: host name {shown!r} does not end in -<ordinal> like a "
            "StatefulSet pod (usage-exporter-2); give --shard N instead"
        )
    return int(match.group(1))


def hostname(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("HOSTNAME") or socket.gethostname()


def resolve(
    shard: int | None,
    total_shards: int | None,
    from_hostname: bool,
    env: Mapping[str, str] | None = None,
) -> Shard:
    """The shard from the command line: `--shard`, or the pod ordinal with
    `--shard.from-hostname`; the total from `--total-shards` or `USAGE_EXPORTER_TOTAL_SHARDS`.
    Without any of them: shard 0 of 1 (every target)."""
    env = os.environ if env is None else env
    if total_shards is None:
        text = env.get("USAGE_EXPORTER_TOTAL_SHARDS", "").strip()
        if text:
            if not text.isdigit():
                raise ShardError(f"USAGE_EXPORTER_TOTAL_SHARDS={text[:20]!r} is not a number")
            total_shards = int(text)
    if from_hostname and shard is not None:
        raise ShardError("give either --shard or --shard.from-hostname, not both")
    if from_hostname:
        if total_shards is None:
            raise ShardError(
                "--shard.from-hostname needs --total-shards (or USAGE_EXPORTER_TOTAL_SHARDS)"
            )
        index = ordinal_from_hostname(hostname(env))
        if index >= total_shards:
            raise ShardError(
                f"pod ordinal {index} is not below --total-shards {total_shards}: scale the "
                "StatefulSet's replicas and --total-shards together"
            )
        return Shard(index, total_shards)
    if shard is not None and total_shards is None:
        raise ShardError("--shard needs --total-shards (or USAGE_EXPORTER_TOTAL_SHARDS)")
    return Shard(0 if shard is None else shard, 1 if total_shards is None else total_shards)
