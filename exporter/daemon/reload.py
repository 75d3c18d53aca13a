"""Reloading the configuration without a restart, as a diff of the running targets.

A file that does not validate, or whose targets cannot be built (a TLS file), is refused whole
and the running config stays. Otherwise:

- unchanged targets keep polling untouched;
- removed ones stop (their series leave /metrics, their ledger rows stay);
- added ones start;
- changed ones restart on their cursors, and a change of a key that changes the series
  (`Plugin.series_keys`) first hands their streams over at the next bucket boundary.

docs/operations.md#reloading-the-configuration says the same for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from exporter.config.checks import all_warnings
from exporter.config.load import ConfigError, load_config, secrets
from exporter.config.source import BaseSource
from exporter.daemon.targets import Target
from exporter.ledger import LedgerError
from exporter.runtime.logs import register_secret
from exporter.vendors import plugin

if TYPE_CHECKING:
    from exporter.daemon import Daemon

log = logging.getLogger("exporter.daemon")


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a reload changes, by target name, in the order of the new file."""

    wanted: tuple[BaseSource, ...]  # the new file's targets this shard runs
    rebuild: tuple[str, ...]  # added or changed: built anew from the new config
    removed: tuple[str, ...]  # running, and no longer wanted


def plan(
    running: Mapping[str, BaseSource], wanted: Sequence[BaseSource], order: Sequence[str]
) -> ReloadPlan:
    """The diff between the running targets' configs (`order`: their names, in poll order) and
    the ones wanted now. A pure function: no target is touched."""
    names = {s.name for s in wanted}
    return ReloadPlan(
        wanted=tuple(wanted),
        rebuild=tuple(s.name for s in wanted if running.get(s.name) != s),
        removed=tuple(n for n in order if n not in names),
    )


def refuse_kind_changes(running: Mapping[str, BaseSource], sources: Sequence[BaseSource]) -> None:
    """A target keeps its kind: its series and state belong to it."""
    for index, source_config in enumerate(sources):
        old = running.get(source_config.name)
        if old is not None and old.kind != source_config.kind:
            raise ConfigError(
                f"sources[{index}].kind: target {source_config.name!r} was"
                f" {old.kind}; a target cannot change kind: give it a new name"
            )


async def reload(daemon: Daemon, path: Path) -> tuple[bool, str]:
    """Load `path` and apply it to `daemon`; (ok, message)."""
    built: dict[str, Target] = {}
    notes: list[str] = []
    try:
        config = load_config(path, notes=notes)
        for secret in secrets(config):
            register_secret(secret)
        if Path(config.state_dir) != Path(daemon.config.state_dir):
            raise ConfigError(
                f"state_dir: changed from {daemon.config.state_dir} to {config.state_dir};"
                " the ledger is open: restart to move it"
            )
        refuse_kind_changes(daemon.configs, config.sources)
        wanted = [s for s in config.sources if daemon.shard.owns(s.name)]
        diff = plan(daemon.configs, wanted, [t.name for t in daemon.targets])
        for source_config in diff.wanted:
            if source_config.name in diff.rebuild:
                built[source_config.name] = daemon.build_target(source_config)
    except (ConfigError, OSError, ValueError) as err:
        for target in built.values():
            await target.upstream.aclose()
        message = str(err)
        log.error("config reload failed", extra={"file": str(path), "error": message})
        daemon.metrics.config_loaded(False, daemon.clock())
        await daemon.render_in_background()
        return False, message
    for note in notes + all_warnings(config):
        log.warning("config warning: " + note)
    await _apply(daemon, diff, built)
    daemon.config = config
    daemon.metrics.config_loaded(True, daemon.clock())
    await daemon.render_in_background()
    return True, "config reloaded"


async def _apply(daemon: Daemon, diff: ReloadPlan, built: dict[str, Target]) -> None:
    """Stop the removed and changed targets, start the added and changed ones, keep the rest."""
    removed = [t for t in daemon.targets if t.name in diff.removed]
    changed = [t for t in daemon.targets if t.name in built]
    for target in removed + changed:
        await daemon.stop_target(target)
    for target in removed:
        daemon.metrics.unregister_target(target.name)
        daemon.state.targets.pop(target.name, None)
        daemon.configs.pop(target.name, None)
    handed_over: list[str] = []
    names = [s.name for s in diff.wanted]
    kept = {t.name: t for t in daemon.targets if t.name not in built and t.name in names}
    daemon.targets = []
    for source_config in diff.wanted:
        name = source_config.name
        if name in kept:
            daemon.targets.append(kept[name])
            continue
        before = daemon.configs.get(name)
        target = built[name]
        if before is not None:
            # against what the ledger counted with (a hand-over still pending from the
            # start is not lost by a reload that changes something else)
            if daemon.ledger.settings(name) not in (None, target.settings):
                try:
                    await daemon.hand_over(target)
                except LedgerError as err:  # not started: it would count twice
                    log.error("target not restarted", extra={"target": name, "error": str(err)})
                    await target.upstream.aclose()
                    continue
                handed_over.append(name)
            daemon.targets.append(target)
            daemon.configs[name] = source_config
            daemon.ledger.declare(
                name, plugin(target.kind).families, int(source_config.max_series_per_family)
            )
            daemon.windows.declare(name, source_config.count_from)
        else:
            daemon.add_target(target, source_config)
        daemon.schedule(target)
    restarted = {t.name for t in changed}
    summary = {
        "added": ",".join(n for n in names if n in built and n not in restarted),
        "removed": ",".join(t.name for t in removed),
        "restarted": ",".join(t.name for t in changed),
        "handed_over": ",".join(handed_over),
        "unchanged": ",".join(kept),
    }
    log.info("config reloaded", extra={k: v or "-" for k, v in summary.items()})
