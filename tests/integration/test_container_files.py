"""The container files, checked without Docker: the Dockerfile lints clean under hadolint with
no rule ignored, docker-compose.yml mounts only what the repository has and pins every image,
the ports, health checks and state volume agree, and the image's entry point and flags are the
real CLI's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.parse
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli.main import parser
from tests.harness import HOST, exporter_argv, free_port, require_tool, start

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
EXPORTER_SERVICE = "usage-exporter"


# --- Reading the files -------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, args = logical.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends in a line continuation"
    return result


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image that is shipped: everything after the last FROM."""
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from + 1 :]


def one(keyword: str) -> str:
    found = [args for k, args in final_stage() if k == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {found}"
    return found[0]


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument list; shell form is rejected."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services"
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return dict(services[name])


def exposed_ports() -> set[int]:
    ports = set()
    for args in (a for k, a in final_stage() if k == "EXPOSE"):
        for port in args.split():
            ports.add(int(port.split("/")[0]))
    assert ports, "the Dockerfile exposes no port"
    return ports


def url_in(command: list[str]) -> urllib.parse.SplitResult:
    urls = re.findall(r"https?://[^\s'\"]+", " ".join(command))
    assert len(urls) == 1, f"expected one URL in {command}"
    return urllib.parse.urlsplit(urls[0])


def dockerfile_healthcheck() -> list[str]:
    _options, sep, command = one("HEALTHCHECK").partition("CMD ")
    assert sep, "HEALTHCHECK NONE or without CMD"
    return exec_form(command)


def flag_value(argv: list[str], flag: str) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
    raise AssertionError(f"{flag} not in {argv}")


def container_port(mapping: Any) -> int:
    """The container side of a compose `ports` entry (short or long syntax)."""
    if isinstance(mapping, dict):
        return int(mapping["target"])
    text = str(mapping).split("/")[0]
    return int(text.rsplit(":", 1)[-1])


def exporter_command() -> list[str]:
    command = service(EXPORTER_SERVICE).get("command")
    assert isinstance(command, list), "give the exporter's compose command as a list"
    return [str(c) for c in command]


# --- (a) hadolint -------------------------------------------------------------------------------


def hadolint(dockerfile: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with every rule on: an explicit config with nothing ignored, any finding
    (down to `info`) failing, and no HADOLINT_* variable from the environment weakening it."""
    config = tmp / "hadolint.yaml"
    config.write_text("failure-threshold: info\nignored: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    return subprocess.run(
        [require_tool("hadolint"), "--no-color", "--config", str(config), str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp,
    )


def test_hadolint_finds_problems_in_a_bad_dockerfile(tmp_path: Path) -> None:
    # The control for the next test: this hadolint, run this way, does report findings.
    bad = tmp_path / "Dockerfile.bad"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = hadolint(bad, tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "DL3007" in result.stdout and "DL3013" in result.stdout, result.stdout


def test_dockerfile_is_clean_under_hadolint_with_nothing_ignored(tmp_path: Path) -> None:
    assert "hadolint" not in DOCKERFILE.read_text().lower(), "no inline hadolint ignores"
    result = hadolint(DOCKERFILE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


# --- (b) docker-compose.yml ---------------------------------------------------------------------


def test_every_bind_mount_source_exists_in_the_repository() -> None:
    data = compose()
    named = set(data.get("volumes") or {})
    binds = []
    for name, spec in data["services"].items():
        for volume in spec.get("volumes") or []:
            if isinstance(volume, dict):
                kind, source = volume.get("type"), str(volume.get("source", ""))
                if kind != "bind":
                    assert kind != "volume" or source in named, f"{name}: undeclared {source!r}"
                    continue
            else:
                source = str(volume).split(":", 1)[0]
                if not source.startswith((".", "/", "~")):
                    assert source in named, f"{name}: volume {source!r} is not declared"
                    continue
            binds.append((name, source))
    assert binds, "no bind mount found: the parser is not reading the volumes"
    missing = [(name, s) for name, s in binds if not (COMPOSE.parent / s).resolve().exists()]
    assert not missing, f"bind-mounted paths missing from the repository: {missing}"
    outside = [(n, s) for n, s in binds if not (COMPOSE.parent / s).resolve().is_relative_to(ROOT)]
    assert not outside, f"bind mounts from outside the repository: {outside}"


def test_every_service_is_built_or_has_a_pinned_image() -> None:
    unpinned = []
    for name, spec in compose()["services"].items():
        if "build" in spec:
            continue
        image = str(spec.get("image", ""))
        repository, _, tag = image.rpartition("/")[2].partition(":")
        pinned = "@sha256:" in image or (tag and tag.split("@")[0] != "latest")
        if not repository or not pinned:
            unpinned.append((name, image))
    assert not unpinned, f"images without a pinned tag or digest: {unpinned}"


def test_exporter_ports_and_health_checks_match_the_dockerfile() -> None:
    exposed = exposed_ports()
    spec = service(EXPORTER_SERVICE)
    assert "build" in spec, "the exporter service should be built from the Dockerfile"

    published = {container_port(p) for p in spec.get("ports") or []}
    assert published and published <= exposed, (published, exposed)

    # It must listen on that port on every interface, or the published port reaches nothing.
    host, _, port = flag_value(exporter_command(), "--web.listen-address").rpartition(":")
    assert int(port) in exposed
    assert host in ("", "0.0.0.0", "[::]"), f"{host!r} is not reachable from other containers"

    checks = [dockerfile_healthcheck()]
    if "healthcheck" in spec:
        test = spec["healthcheck"]["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), test
        checks.append([str(t) for t in test[1:]])
    for check in checks:
        url = url_in(check)
        assert url.hostname in ("127.0.0.1", "localhost") and url.port in exposed, check
        assert url.path == "/healthz", check

    # Prometheus scrapes the exporter by its service name on that port.
    prometheus = yaml.safe_load((ROOT / "config/prometheus/prometheus.yml").read_text())
    targets = {
        t
        for job in prometheus["scrape_configs"]
        for sc in job["static_configs"]
        for t in sc["targets"]
    }
    assert {f"{EXPORTER_SERVICE}:{p}" for p in exposed} & targets, targets


def test_state_volume_is_where_the_config_and_the_demo_keep_state() -> None:
    volumes = exec_form(one("VOLUME")) if one("VOLUME").startswith("[") else one("VOLUME").split()
    assert len(volumes) == 1, volumes
    state = volumes[0]
    example = yaml.safe_load((ROOT / "config/example.yaml").read_text())
    assert example["state_dir"] == state
    assert flag_value(exporter_command(), "--state-dir") == state
    mounts = [str(v) for v in service(EXPORTER_SERVICE).get("volumes") or []]
    named = set(compose().get("volumes") or {})
    assert any(m.split(":")[0] in named and m.split(":")[1] == state for m in mounts), mounts


def test_image_runs_as_a_non_root_user() -> None:
    user = one("USER").split(":")[0]
    assert user not in ("0", "root"), user


# --- (c) the entry point and its flags are the real CLI's --------------------------------------


def test_entrypoint_is_a_declared_console_script() -> None:
    entrypoint = exec_form(one("ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert len(entrypoint) == 1 and entrypoint[0] in scripts, (entrypoint, scripts)
    module, _, function = scripts[entrypoint[0]].partition(":")
    assert callable(getattr(import_module(module), function))


def cli_help(command: str) -> str:
    # `python -m exporter`, the console script's twin: `python -m exporter.cli` has no
    # `__main__` guard and prints nothing at all.
    result = subprocess.run(
        [sys.executable, "-m", "exporter", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0 and "usage:" in result.stdout, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("where", ["Dockerfile CMD", "docker-compose command"])
def test_command_flags_are_accepted_by_the_cli(where: str) -> None:
    argv = exec_form(one("CMD")) if where == "Dockerfile CMD" else exporter_command()
    command, flags = argv[0], [a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")]
    assert flags, argv
    text = cli_help(command)
    for flag in flags:
        # Whole flags only: `--config` must not pass because `--config.file` exists, or back.
        assert re.search(rf"(?<![\w.-]){re.escape(flag)}(?![\w.-])", text), (flag, text)
    # argparse would also take an unambiguous prefix; the parse itself must succeed too.
    try:
        parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"{where} {argv} is rejected by the CLI (exit {exit_.code})")


def test_healthcheck_command_tells_up_from_down(tmp_path: Path) -> None:
    """The Dockerfile's health check, pointed at a real exporter (the demo) on a free port,
    succeeds; pointed at a port nobody listens on, it fails."""
    check = dockerfile_healthcheck()
    assert check[:2] == ["python", "-c"], check
    code, netloc = check[2], url_in(check).netloc
    port = free_port()
    demo = start(
        "demo",
        exporter_argv(
            "demo", "--web.listen-address", f"{HOST}:{port}", "--state-dir", str(tmp_path)
        ),
        tmp_path / "demo.log",
        f"http://{HOST}:{port}",
        ready_path="/healthz",
    )
    try:
        # Only the address changes: the check's own path and code run as written.
        up = code.replace(f"//{netloc}/", f"//{HOST}:{port}/")
        assert up != code
        result = subprocess.run([sys.executable, "-c", up], capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr
    finally:
        demo.stop()
    down = code.replace(f"//{netloc}/", f"//{HOST}:{free_port()}/")
    result = subprocess.run([sys.executable, "-c", down], capture_output=True, timeout=30)
    assert result.returncode != 0
