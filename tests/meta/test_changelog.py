"""CHANGELOG.md's sections are versioned and dated, newest first, and the version is written
once: in exporter/__init__.py, which pyproject.toml reads (`dynamic = ["version"]`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from exporter import __version__

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## \[(Unreleased|\d+\.\d+\.\d+)\](?: - (\d{4}-\d{2}-\d{2}))?$")


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def test_every_section_is_versioned_and_dated_newest_first() -> None:
    headings = [
        line
        for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    ]
    assert headings[0] == "## [Unreleased]"
    released = []
    for heading in headings[1:]:
        found = SECTION.match(heading)
        assert found and found.group(1) != "Unreleased" and found.group(2), heading
        released.append((release(found.group(1)), found.group(2)))
    assert released, "no released section"
    assert released == sorted(released, reverse=True), "newest first"
    # the package's version is past every released one (a .devN of the next release)
    assert release(__version__) > released[0][0], (__version__, released[0])


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "exporter/__init__.py"
    written = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "exporter").rglob("*.py")
        if __version__ in path.read_text(encoding="utf-8")
    ]
    assert written == ["exporter/__init__.py"]
