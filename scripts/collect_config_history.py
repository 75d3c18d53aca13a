"""Write `tests/fixtures/config-history/`: every config example that ever shipped, from git history.

How: for each path below, `git log --all --format=%H -- PATH` lists the commits that touched it;
each distinct version (by content) is written out once. Whole files come from
`config/example.yaml` and `exporter/demo.yaml`; from `README.md` and `docs/configuration.md`
each fenced ```yaml block with a `sources:` key (the examples users copy). `MANIFEST.json` names
the commit, the path and the sha256 of each file. tests/unit/config/test_compat.py loads them all
with the current code.

Run from the repository root after a release, or whenever an example changes:
`.venv/bin/python scripts/collect_config_history.py`
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "config-history"
WHOLE = ("config/example.yaml", "exporter/demo.yaml")
SNIPPETS = ("README.md", "docs/configuration.md")
_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def versions(path: str) -> list[tuple[str, str]]:
    """(commit, text) of every version of `path`, oldest first."""
    commits = git("log", "--all", "--reverse", "--format=%H", "--", path).split()
    out = []
    for commit in commits:
        try:
            out.append((commit, git("show", f"{commit}:{path}")))
        except subprocess.CalledProcessError:
            continue  # deleted in this commit
    return out


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    seen: set[str] = set()
    manifest: dict[str, dict[str, str]] = {}

    def keep(text: str, commit: str, path: str, suffix: str = "") -> None:
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in seen:
            return
        seen.add(digest)
        slug = path.replace("/", "_").replace(".", "_")
        name = f"{slug}{suffix}-{commit[:10]}.yaml"
        (OUT / name).write_text(text)
        manifest[name] = {"commit": commit, "path": path, "sha256": digest}

    for path in WHOLE:
        for commit, text in versions(path):
            keep(text, commit, path)
    for path in SNIPPETS:
        for commit, text in versions(path):
            for index, block in enumerate(_BLOCK.findall(text)):
                if re.search(r"^sources:", block, re.MULTILINE):
                    keep(block, commit, path, f"-block{index}")
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(manifest)} config examples to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
