"""The commit-msg hook of .pre-commit-config.yaml: a subject of at most 72 characters, then a
blank line; and the pre-commit configuration runs the project's own tools."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools.commit_subject import LIMIT, main, problem

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_subject_with_a_body_passes() -> None:
    assert problem("Lay the core out by stage\n\nWhy, in the body.\n") == ""
    assert problem("x" * LIMIT + "\n# a comment git strips\n") == ""


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("x" * (LIMIT + 1), "73 characters, more than 72"),
        ("\n\nbody only", "no subject"),
        ("# only a comment\n", "no subject"),
        ("Subject\nbody without a blank line", "blank line"),
    ],
)
def test_a_long_empty_or_glued_subject_is_refused(message: str, why: str) -> None:
    assert why in problem(message)


def test_the_hook_exits_1_naming_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text("y" * 80 + "\n")
    assert main([str(path)]) == 1
    assert "80 characters" in capsys.readouterr().err
    path.write_text("Short subject\n")
    assert main([str(path)]) == 0


def test_the_hooks_are_local_and_cover_lint_format_whitespace_and_the_subject() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]  # nothing fetched
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "trailing-whitespace", "commit-subject"}
    assert hooks["commit-subject"]["stages"] == ["commit-msg"]
    assert hooks["commit-subject"]["entry"].endswith("-m tools.commit_subject")
