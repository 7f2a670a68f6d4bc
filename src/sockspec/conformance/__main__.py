"""``python -m sockspec.conformance mapping|list``: the suite's own tools.

``mapping`` prints the spec-mapping table kept in ``docs/spec-mapping.md``;
``list`` prints every check with its group and requirements.  Running the
suite is ``sockspec check``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import all_checks, mapping_markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sockspec.conformance")
    parser.add_argument("command", choices=["mapping", "list"])
    args = parser.parse_args(argv)
    if args.command == "mapping":
        sys.stdout.write(mapping_markdown())
        return 0
    for entry in all_checks():
        req = entry.requires
        needs = sorted(f.name for f in req.families) + sorted(t.name for t in req.types)
        needs += sorted(o.name for o in req.options) + sorted(req.features)
        print(f"{entry.name:32} {entry.group:12} {' '.join(needs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
