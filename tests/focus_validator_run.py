"""Run by the focus-validator venv's Python 3.12 (not the project's): validate one file with
focus-validator's Python API and print every rule's result as JSON on stdout's last line.

argv: data file, applicability criteria (comma-separated). The validator prints its own report
to stdout; it is moved to stderr so the last stdout line is ours. Its exit code says nothing
(0 when rules fail), hence the per-rule results."""

import contextlib
import json
import sys

from focus_validator.validator import Validator  # type: ignore[import-not-found]


def main() -> None:
    data, criteria = sys.argv[1], sys.argv[2]
    with contextlib.redirect_stdout(sys.stderr):
        result = Validator(
            data_filename=data,
            output_type="console",
            output_destination=None,
            rules_version="1.2",
            focus_dataset="CostAndUsage",
            rules_block_remote_download=True,
            applicability_criteria=criteria,
        ).validate()
    rules = {
        rule: {"ok": outcome.get("ok"), "details": str(outcome.get("details", ""))[:400]}
        for rule, outcome in result.by_rule_id.items()
    }
    sys.stdout.write(json.dumps(rules) + "\n")


main()
