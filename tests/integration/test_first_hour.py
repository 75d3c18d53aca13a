"""README's "Your first hour" runs as written: its `yaml` block is saved under the name the
section gives it, the simulator is started from its `sh` block, and the other `sh` blocks run in
one shell, in order, in a scratch directory, with `usage-exporter` on the PATH. Only the port
changes (9869 may be taken on a test machine), and the block marked as reaching the vendors is
checked, not run. What the section says the commands print is checked against what they do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from exporter.config.load import load_config
from testkit.loopback import beyond_loopback
from tests.harness import HOST, free_port, start

ROOT = Path(__file__).resolve().parent.parent.parent
DOC_PORT = "127.0.0.1:9869"
CONFIG = "first-hour.yaml"
NOT_RUN = "<!-- first-hour: not run by the tests (it reaches the vendors) -->"
_BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start_at = text.index("## Your first hour\n")
    return text[start_at : text.index("\n## ", start_at + 1)]


def blocks(text: str) -> list[tuple[str, str, bool]]:
    """(language, body without the list's indent, whether the tests run it), in order."""
    found = []
    for match in _BLOCK.finditer(text):
        indent, language, body = match.groups()
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        found.append((language, "\n".join(lines) + "\n", before != NOT_RUN))
    return found


def test_your_first_hour_runs_as_written(tmp_path: Path) -> None:
    doc = section()
    found = blocks(doc)
    assert [lang for lang, _, _ in found] == ["sh", "yaml", "sh", "sh", "sh", "sh"], found
    assert f"Save this as `{CONFIG}`" in doc
    port = f"{HOST}:{free_port()}"
    simulate, config, *shell = ((body.replace(DOC_PORT, port), run) for _, body, run in found)
    assert simulate[1] and config[1]
    runnable = [body for body, run in shell if run]
    vendor_only = [body for body, run in shell if not run]
    assert len(vendor_only) == 1 and "run --config first-hour.yaml" in vendor_only[0]
    assert DOC_PORT not in vendor_only[0] and "127.0.0.1" not in vendor_only[0]

    (tmp_path / CONFIG).write_text(config[0])
    # the shell runs the exporter outside testkit's process helpers: hold it to loopback here
    assert len(load_config(tmp_path / CONFIG, env={}, syntax_only=True).sources) == 2
    assert beyond_loopback(tmp_path / CONFIG, {}) == []
    bin_dir = str(Path(sys.executable).parent)  # the venv's: `usage-exporter` is there
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    simulator = start(
        "simulator",
        ["bash", "-c", "exec " + simulate[0].strip()],
        tmp_path / "simulator.log",
        f"http://{port}",
        ready_path="/_sim/clock",
        env=env,
    )
    try:
        script = "set -euo pipefail\n" + "".join(
            f"echo '=== block {i}' | tee /dev/stderr\n{body}" for i, body in enumerate(runnable)
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        simulator.stop()
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    said = simulator.output()
    assert f'msg="simulator listening" url=http://{port}' in said, said
    assert "openai: sk-admin-demo" in said and "telnyx: KEYDEMO-telnyx" in said, said

    out = dict(_split(done.stdout))
    err = dict(_split(done.stderr))
    # 3: the config is valid, both targets were read, and there are counters to look at
    assert "config OK: 2 sources (acme-prod, storage)" in out[0]
    counted, storage = out[0].split("\n", 2)[1:3]
    assert int(counted) > 0, out[0]
    assert storage.startswith('telnyx_storage_bucket_size_bytes{target="storage"'), storage
    assert "poll failed" not in err[0], err[0]
    # 4: the wrong key: one warning for the target, with the requests it affected
    failed = [line for line in err[1].splitlines() if 'msg="poll failed"' in line]
    assert len(failed) == 1 and "target=acme-prod" in failed[0], err[1]
    assert re.search(r"requests=(\d+)", failed[0]) and "HTTP 401 from GET" in failed[0]
    assert "once exited 1" in out[1]
    # 5: the vendors' own APIs: nothing of the simulator left in the file, and it is valid
    assert port not in (tmp_path / CONFIG).read_text()
    assert "config OK (syntax only" in out[2]


def _split(text: str) -> list[tuple[int, str]]:
    """The output of each block, by the markers the script prints before each one."""
    parts = re.split(r"^=== block (\d+)\n", text, flags=re.MULTILINE)
    return [(int(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]
