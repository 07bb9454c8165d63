#!/usr/bin/env python3
"""Rewrite the settings reference in docs/configuration.md from okta_risk_output/config/table.py.

    python scripts/make_config_reference.py          # rewrite the section
    python scripts/make_config_reference.py --check  # exit 1 if it is stale

Run it after changing a setting (its flag, variable, default or wording);
tests/unit/test_config_reference.py fails until you do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's package, whatever is installed

from okta_risk_output.config.reference import updated  # noqa: E402

DOC = ROOT / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is stale")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    fresh = updated(text)
    if args.check:
        if fresh != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        DOC.write_text(fresh, encoding="utf-8")
        print(f"rewrote the settings reference in {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
