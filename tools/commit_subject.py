"""The commit-msg check of .pre-commit-config.yaml: a subject line of at most 72 characters,
with the detail in the body (CONTRIBUTING.md, "Commits").

`python -m tools.commit_subject FILE` (FILE: the message git is about to record) exits 1 with
one line saying why when the subject is empty or too long; comment lines (`#`) are ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 72


def problem(message: str) -> str:
    """Why `message`'s subject is refused; "" when it is fine."""
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    subject = lines[0].rstrip() if lines else ""
    if not subject:
        return "the commit message has no subject line"
    if len(subject) > LIMIT:
        return (
            f"the subject is {len(subject)} characters, more than {LIMIT}: shorten it and put"
            " the detail in the body"
        )
    if len(lines) > 1 and lines[1].strip():
        return "the subject is followed by text: leave a blank line before the body"
    return ""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tools.commit_subject COMMIT_MSG_FILE\n")
        return 2
    found = problem(Path(argv[0]).read_text(encoding="utf-8"))
    if found:
        sys.stderr.write(f"commit-msg: {found}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
