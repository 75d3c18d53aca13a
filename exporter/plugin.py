"""What a vendor plug-in is: everything the exporter, the simulator and the demo need to know of
one kind of source, in one object.

A vendor lives in its own package (`exporter/vendors/<kind>/`) and hands the registry
(`exporter/vendors/__init__.py`) one `Plugin`; the core reads vendor things only from there.
The simulator's parts of a plug-in (its twin's routes, its oracle) are named by import path and
loaded only by the simulator and the tests: `usage-exporter run` imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from exporter.config.source import BaseSource
from exporter.focus.mapping import CostMapping
from exporter.model import Family, Source
from exporter.upstream import TLSSettings, Upstream, UpstreamSettings

if TYPE_CHECKING:  # the simulator's types, for the checker only (never imported at run time)
    from exporter.simulator.twin import Expected, Frame, Mounted

C = TypeVar("C", bound=BaseSource)


def no_headers(config: BaseSource) -> Mapping[str, str]:
    return {}


def no_warnings(config: BaseSource) -> list[str]:
    return []


def no_other_endpoints(config: BaseSource) -> Mapping[str, tuple[str, ...]]:
    return {}


def bearer(secret: str) -> Mapping[str, str]:
    """The usual way to present a key: `Authorization: Bearer <key>`."""
    return {"Authorization": f"Bearer {secret}"}


def plain_key(key: str, value: str) -> tuple[str, Any]:
    """`--<kind>-key KEY=WHO`: the key and who it belongs to, as given."""
    return key, value


def load(hook: str) -> Any:
    """The object an import path `"package.module:attribute"` names, imported now."""
    module, sep, attribute = hook.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"{hook!r} is not an import path of the form 'package.module:attribute'")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, slots=True)
class Twin:
    """A vendor's simulator hooks. `mount`, `expected` and `parse_key` are import paths
    (`"exporter.vendors.<kind>.routes:mount"`), resolved by the simulator and the tests when
    they need them, so that the daemon imports no twin and no oracle; a callable is accepted
    too (plug-ins written before the paths), at the price of importing it with the plug-in."""

    mount: str | Callable[[Frame], Mounted]  # the twin's routes on the simulator frame
    default_keys: Mapping[str, Any]  # accepted when no key is given for this vendor
    expected: str | Expected | None  # dev-only oracle: exporter/vendors/<kind>/expected.py
    key_help: str = "KEY=ACCOUNT"  # the meaning of `simulate --<kind>-key`
    parse_key: str | Callable[[str, str], tuple[str, Any]] = plain_key

    def mounter(self) -> Callable[[Frame], Mounted]:
        """The twin's `mount`, imported."""
        return load(self.mount) if isinstance(self.mount, str) else self.mount

    def oracle(self) -> Expected | None:
        """The twin's `expected` (None: the vendor has no oracle), imported."""
        found: Expected | None = (
            load(self.expected) if isinstance(self.expected, str) else self.expected
        )
        return found

    def key_parser(self) -> Callable[[str, str], tuple[str, Any]]:
        """How `simulate --<kind>-key KEY=WHO` is read, imported."""
        return load(self.parse_key) if isinstance(self.parse_key, str) else self.parse_key


@dataclass(frozen=True, slots=True)
class Demo:
    """The vendor's part of `usage-exporter demo`: its targets (config entries, with
    `${SIMULATOR_URL}` for the simulator's address), the keys the simulator accepts for them (None:
    the twin's default keys) and faults queued at the start (to show a retry)."""

    sources: tuple[Mapping[str, Any], ...]
    keys: Mapping[str, Any] | None = None
    faults: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Plugin(Generic[C]):
    """One kind of source: config model, metric table, constructor, simulator twin, demo."""

    kind: str  # the config's `kind` discriminator, the `source` label, `/_sim/<kind>/...`
    title: str  # the title of its page, docs/metrics/<kind>.md
    config_model: type[C]  # extends BaseSource, with `kind: Literal["<kind>"]`
    families: tuple[Family, ...]
    default_base_url: str
    build: Callable[[C, Upstream], Source]
    twin: Twin  # the simulator's copy of the vendor's API
    demo: Demo
    rate_limit_header: str = ""
    extra_headers: Callable[[C], Mapping[str, str]] = field(default=no_headers)
    # the headers that present the key (the log redactor knows the key, whatever the header)
    auth_headers: Callable[[str], Mapping[str, str]] = field(default=bearer)
    # the API version every path starts with: a base_url ending in it is cut (not 404 forever)
    api_version: str = ""
    # what a refused call (4xx) most likely means with this vendor, by HTTP status
    error_hints: Mapping[int, str] = field(default_factory=dict)
    # config keys that change which series a stream writes or its bucket layout: a reload that
    # changes one hands the target's streams over at the next bucket boundary (docs/operations.md)
    series_keys: tuple[str, ...] = ()
    # the vendor's documented lateness (seconds) and where it is documented: a shorter
    # `lookback` misses revisions (check-config warns)
    lateness: int = 0
    lateness_source: str = ""
    # group keys whose series grow with the organization (one per user or API key):
    # check-config warns when a grouping (`BaseSource.groupings`) names one
    wide_keys: tuple[str, ...] = ()
    # the keys (besides kind, name and the key) of a small target whose streams are known
    # without a listing call: the tests build one target of every kind from it
    example: Mapping[str, Any] = field(default_factory=dict)
    # valid settings the vendor may still refuse (check-config), each starting with the field
    warnings: Callable[[C], list[str]] = field(default=no_warnings)
    # the config keys besides base_url that decide a host the target calls, each with the URLs
    # it resolves to (`endpoints`): the tests check that every one of a test config is loopback
    other_endpoints: Callable[[C], Mapping[str, tuple[str, ...]]] = field(
        default=no_other_endpoints
    )
    # how its cost families become FOCUS rows (docs/finops.md); each family named is declared
    # with `history=True`
    focus: tuple[CostMapping, ...] = ()


def base_url(plugin: Plugin[Any], config: BaseSource) -> tuple[str, str]:
    """The base URL to call, and a note when a trailing API version was cut off it."""
    url = str(config.base_url or plugin.default_base_url).rstrip("/")
    if plugin.api_version and url.endswith(plugin.api_version):
        cut = url.removesuffix(plugin.api_version)
        return cut, (
            f"base_url ends in {plugin.api_version}, which the exporter adds to every path itself:"
            f" using {cut}"
        )
    return url, ""


def endpoints(plugin: Plugin[Any], config: BaseSource) -> dict[str, tuple[str, ...]]:
    """Every URL a target of this config may call, by the config key that decides it
    (`base_url` first, then the plug-in's `other_endpoints`)."""
    return {"base_url": (base_url(plugin, config)[0],), **plugin.other_endpoints(config)}


def upstream_settings(plugin: Plugin[Any], config: BaseSource, url: str) -> UpstreamSettings:
    """How a target of this kind talks to its upstream at `url` (see `base_url`)."""
    tls_config = config.tls_config
    tls = None
    if tls_config is not None:
        tls = TLSSettings(
            ca_file=str(tls_config.ca_file) if tls_config.ca_file else None,
            cert_file=str(tls_config.cert_file) if tls_config.cert_file else None,
            key_file=str(tls_config.key_file) if tls_config.key_file else None,
            server_name=tls_config.server_name,
            insecure_skip_verify=bool(tls_config.insecure_skip_verify),
        )
    secret = config.secret()
    timeout = float(config.timeout or config.interval)  # (set from interval at load)
    return UpstreamSettings(
        target=config.name,
        source=plugin.kind,
        base_url=url,
        headers={**plugin.auth_headers(secret), **plugin.extra_headers(config)},
        secret=secret,
        timeout=timeout,
        retries=int(config.retries),
        max_concurrency=int(config.max_concurrency),
        max_body_bytes=int(config.max_body_bytes),
        max_retry_after=timeout / 2,
        rate_limit_header=plugin.rate_limit_header,
        hints=plugin.error_hints,
        proxy=str(config.proxy_url) if config.proxy_url is not None else None,
        trust_env=bool(config.proxy_from_environment),
        tls=tls,
    )
