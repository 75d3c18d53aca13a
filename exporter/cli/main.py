"""The command line: `run`, `demo`, `once`, `focus`, `check-config`, `simulate`; Prometheus-style
flags.

Bad flags and bad configuration exit 2 with one line naming the problem, before anything
listens.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from exporter import __version__
from exporter.config.checks import all_warnings
from exporter.config.load import Config, ConfigError, load_config, secrets
from exporter.daemon.sharding import Shard, ShardError, resolve, shard_of
from exporter.http.state import parse_listen_address
from exporter.ledger import LedgerError
from exporter.runtime.logs import configure_logging, register_secret
from exporter.vendors import plugins


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"usage-exporter: error: {message}\n")
        raise SystemExit(2)


def _listen(value: str) -> str:
    try:
        parse_listen_address(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _key_org(value: str) -> tuple[str, str]:
    key, sep, org = value.partition("=")
    if not sep or not key or not org:
        raise argparse.ArgumentTypeError("expected KEY=ORG")
    return key, org


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a whole number")
    return int(value)


def _shard_flags(command: argparse.ArgumentParser) -> None:
    """kube-state-metrics' sharding flags (docs/kubernetes.md)."""
    command.add_argument(
        "--shard",
        dest="shard",
        type=_count,
        default=None,
        help="export only the targets of shard N (0-based; with --total-shards)",
    )
    command.add_argument(
        "--total-shards",
        dest="total_shards",
        type=_count,
        default=None,
        help="how many shards the targets are split into (by the SHA-256 of their names)",
    )
    command.add_argument(
        "--shard.from-hostname",
        dest="shard_from_hostname",
        action="store_true",
        help="take --shard from the StatefulSet pod name's ordinal ($HOSTNAME: name-2 -> 2)",
    )


def parser() -> argparse.ArgumentParser:
    # The logging flags are accepted before or after the subcommand.
    logging_flags = _Parser(add_help=False)
    logging_flags.add_argument(
        "--log.level",
        dest="log_level",
        default=argparse.SUPPRESS,
        choices=["debug", "info", "warn", "error"],
        help="the least severe log lines written (default: info)",
    )
    logging_flags.add_argument(
        "--log.format",
        dest="log_format",
        default=argparse.SUPPRESS,
        choices=["logfmt", "json"],
        help="one logfmt or JSON object per line on stderr (default: logfmt)",
    )
    root = _Parser(prog="usage-exporter", description=__doc__, parents=[logging_flags])
    root.set_defaults(log_level="info", log_format="logfmt")
    root.add_argument("--version", action="version", version=f"usage-exporter {__version__}")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run", help="poll on schedule and serve /metrics", parents=[logging_flags]
    )
    run.add_argument("--config", required=True, type=Path, help="the YAML config file")
    run.add_argument(
        "--web.listen-address",
        dest="listen",
        type=_listen,
        default=None,
        help="HOST:PORT or :PORT to serve /metrics on (default: the config's web.listen_address,"
        " :9868)",
    )
    run.add_argument(
        "--web.config.file",
        dest="web_config",
        type=Path,
        default=None,
        help="an exporter-toolkit web config file: TLS and basic auth for the listener",
    )
    run.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="accept POST /-/reload (behind the web config's TLS and basic auth)",
    )
    run.add_argument(
        "--web.listener-process",
        dest="listener_process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve HTTP from a second process, so no scrape waits on a poll (the default;"
        " --no-web.listener-process serves from the daemon's own process; docs/operations.md)",
    )
    _shard_flags(run)

    demo = commands.add_parser(
        "demo", help="the built-in simulator and the exporter against it", parents=[logging_flags]
    )
    demo.add_argument(
        "--web.listen-address",
        dest="listen",
        type=_listen,
        default="127.0.0.1:9868",
        help="where the exporter serves /metrics (default: 127.0.0.1:9868; the simulator takes"
        " a free loopback port)",
    )
    demo.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep the ledger here across demo runs (default: a temporary directory)",
    )

    once = commands.add_parser(
        "once", help="poll every target once and print the exposition", parents=[logging_flags]
    )
    once.add_argument("--config", required=True, type=Path, help="the YAML config file")
    _shard_flags(once)

    focus = commands.add_parser(
        "focus",
        help="write a month's costs as a FOCUS 1.2 dataset (docs/finops.md)",
        parents=[logging_flags],
    )
    focus.add_argument(
        "--config", required=True, type=Path, help="the YAML config file (its state_dir is read)"
    )
    focus.add_argument("--month", required=True, help="the billing period, YYYY-MM (UTC)")
    focus.add_argument(
        "--format",
        dest="fmt",
        choices=["csv", "parquet"],
        default="csv",
        help="csv (default) or parquet (needs the extra usage-exporter[parquet])",
    )
    focus.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")

    check = commands.add_parser(
        "check-config", help="validate a config file", parents=[logging_flags]
    )
    check.add_argument("file", type=Path, help="the YAML config file")
    check.add_argument(
        "--syntax-only",
        dest="syntax_only",
        action="store_true",
        help="check the structure without secrets: unset ${VAR}s and absent files are fine",
    )
    check.add_argument(
        "--total-shards",
        dest="total_shards",
        type=_count,
        default=None,
        help="also print which shard owns each target",
    )

    simulate = commands.add_parser(
        "simulate",
        help="run the upstream simulator alone",
        parents=[logging_flags],
        description="The vendors' APIs with generated usage, on loopback: point a source's"
        " base_url at it. Keys it accepts out of the box (until a --<kind>-key is given): "
        + "; ".join(f"{vendor.kind}: {', '.join(vendor.twin.default_keys)}" for vendor in plugins())
        + ". It prints its URL and the keys it accepts when it starts.",
    )
    simulate.add_argument(
        "--web.listen-address",
        dest="listen",
        type=_listen,
        default="127.0.0.1:9869",
        help="where the simulator listens (default: 127.0.0.1:9869)",
    )
    simulate.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the generated usage: the same seed, the same numbers (default: 1)",
    )
    for vendor in plugins():
        simulate.add_argument(
            f"--{vendor.kind}-key",
            dest=f"{vendor.kind}_keys",
            type=_key_org,
            action="append",
            default=None,
            help=f"{vendor.twin.key_help}: a key the simulator accepts, instead of"
            f" {', '.join(vendor.twin.default_keys)} (repeatable)",
        )
    simulate.add_argument(
        "--max-page-buckets",
        type=int,
        default=None,
        help="answer at most this many OpenAI buckets per page, fewer than the client's"
        " `limit`, to exercise pagination (default: as many as the `limit` asks for)",
    )
    simulate.add_argument(
        "--tls-cert-file", type=Path, default=None, help="serve over TLS with this certificate"
    )
    simulate.add_argument(
        "--usage-start",
        type=int,
        default=None,
        help="unix time where generated usage begins (default: 60 days before start)",
    )
    simulate.add_argument(
        "--tls-key-file", type=Path, default=None, help="the private key of --tls-cert-file"
    )
    simulate.add_argument(
        "--tls-client-ca-file", type=Path, default=None, help="require client certificates"
    )
    return root


def _shard(args: argparse.Namespace) -> Shard:
    try:
        return resolve(args.shard, args.total_shards, args.shard_from_hostname)
    except ShardError as err:
        raise ConfigError(str(err)) from None


def _load(path: Path, *, syntax_only: bool = False, notes: list[str] | None = None) -> Config:
    """Load and validate; every secret goes to the log redactor. Deprecation notes and the
    warnings for likely mistakes are appended to `notes` (or logged, when not asked for)."""
    found: list[str] = []
    config = load_config(path, syntax_only=syntax_only, notes=found)
    for secret in secrets(config):
        register_secret(secret)
    found += all_warnings(config)
    if notes is None:
        for note in found:
            logging.getLogger("exporter.config").warning("config warning: " + note)
    else:
        notes += found
    return config


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        if args.command == "check-config":
            notes: list[str] = []
            config = _load(args.file, syntax_only=args.syntax_only, notes=notes)
            names = ", ".join(s.name for s in config.sources)
            for warning in notes:
                sys.stderr.write(f"usage-exporter: warning: {warning}\n")
            checked = " (syntax only: secrets and files not read)" if args.syntax_only else ""
            print(f"config OK{checked}: {len(config.sources)} sources ({names})")
            if args.total_shards is not None:
                for source in config.sources:
                    print(f"{source.name}: shard {shard_of(source.name, args.total_shards)}")
            return 0
        if args.command == "run":
            shard = _shard(args)
            config = _load(args.config)
            from exporter.cli import commands

            listen = args.listen or config.web.listen_address
            serving = commands.Serving(
                listen,
                args.web_config,
                args.enable_lifecycle,
                (args.log_level, args.log_format) if args.listener_process else None,
            )
            return commands.run(config, serving, shard, args.config)
        if args.command == "once":
            shard = _shard(args)
            config = _load(args.config)
            from exporter.cli import commands

            return commands.once(config, shard)
        if args.command == "focus":
            config = _load(args.config, syntax_only=True)  # reads no secret: needs none
            from exporter.cli import commands

            return commands.focus(config, args.month, args.fmt, args.output)
        if args.command == "demo":
            from exporter.cli import commands

            return commands.demo(args.listen, args.state_dir)
        from exporter.simulator.app import SimulatorConfig, run_forever

        host, port = parse_listen_address(args.listen)
        sim = SimulatorConfig(
            seed=args.seed, max_page_buckets=args.max_page_buckets, start=args.usage_start
        )
        for vendor in plugins():
            given = getattr(args, f"{vendor.kind}_keys")
            if given:
                sim.keys[vendor.kind] = dict(vendor.twin.key_parser()(k, who) for k, who in given)
        context = None
        if args.tls_cert_file is not None:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.tls_cert_file, args.tls_key_file)
            if args.tls_client_ca_file is not None:
                context.load_verify_locations(args.tls_client_ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        return int(run_forever(sim, host, port, context))
    except ConfigError as err:
        sys.stderr.write(f"usage-exporter: error: {err}\n")
        return 2
    except (LedgerError, OSError) as err:  # state file refused, state dir not creatable
        sys.stderr.write(f"usage-exporter: error: {err}\n")
        return 1
    except KeyboardInterrupt:
        return 130
