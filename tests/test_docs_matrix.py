"""The conformance-matrix page is generated from the suite's own results.

The docs build runs the real suite (``docs/_ext/sockspec_matrix.py``); these
tests feed the page generator made-up results for the real checks, so they
are fast and can pin down how each outcome is shown.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from sockspec import conformance
from sockspec.conformance import Outcome, Result

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import sockspec_matrix  # noqa: E402 - needs the path above


def _matrix(outcome_of: dict[str, tuple[Outcome, str]]) -> sockspec_matrix.Matrix:
    checks = conformance.all_checks()
    results = {}
    for check in checks:
        outcome, message = outcome_of.get(check.name, (Outcome.PASS, ""))
        result = Result(check.name, "stdlib", outcome, message, 0.0)
        results[(check.name, "stdlib")] = result
    cross = {"stdlib->selectors": Counter({"PASS": 3, "SKIP": 1})}
    return sockspec_matrix.Matrix(["stdlib", "selectors"], checks, results, cross, 1.0)


def test_every_check_has_a_row_and_every_backend_a_column() -> None:
    text = sockspec_matrix.matrix_rst(_matrix({}))
    for check in conformance.all_checks():
        assert f"``{sockspec_matrix._base_name(check)}``" in text
    assert "``stdlib``" in text
    assert "``selectors``" in text
    assert "not run" in text  # selectors had no results in this made-up run
    assert "``stdlib`` client, ``selectors`` server" in text


def test_family_variants_share_a_row_until_their_outcomes_differ() -> None:
    text = sockspec_matrix.matrix_rst(_matrix({}))
    assert "``basic_io`` (IPv4, IPv6, UNIX)" in text
    assert "``basic_io_unix``" not in text

    reason = "backend 'stdlib' lacks *AF_UNIX* `support`"
    text = sockspec_matrix.matrix_rst(
        _matrix({"basic_io_unix": (Outcome.SKIP, reason)})
    )
    escaped = r"backend 'stdlib' lacks \*AF\_UNIX\* \`support\`"
    assert f"IPv4: pass; IPv6: pass; UNIX: skip: {escaped}" in text


def test_failures_stand_out() -> None:
    text = sockspec_matrix.matrix_rst(
        _matrix({"basic_io": (Outcome.FAIL, "AssertionError: got b''")})
    )
    assert "IPv4: **FAIL**: AssertionError: got b''" in text


def test_builtin_backends_lists_the_default_first() -> None:
    names = sockspec_matrix.builtin_backends()
    assert names[0] == "stdlib"
    assert "selectors" in names
