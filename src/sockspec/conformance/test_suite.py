"""The conformance suite as pytest tests, collected from the installed package.

One command checks any installed backend, from any directory::

    pytest --pyargs sockspec.conformance --sockspec-backend NAME

``NAME`` is a backend choice (``name`` or ``name:options``) or a
cross-backend target ``client->server``; without the option the suite checks
``$SOCKSPEC_BACKEND``, else ``stdlib``.  There is one test per check, named
after it, so ``-k timeouts`` or ``-k basic_io`` select as usual.  Each test is
:func:`~sockspec.conformance.run_check` (``sockspec check`` runs the very
same): a check needing a capability the backend does not declare is skipped
with that reason, and a failure shows the check's message, traceback and
seed.  The ``--sockspec-backend`` option comes from sockspec's pytest plugin.

A backend that is not installed yet (or a backend object configured in a
test) gets the same tests from :func:`conformance_tests`, in the backend's
own test suite::

    from sockspec.conformance.test_suite import conformance_tests
    from mypackage import MyBackend

    test_my_backend = conformance_tests(MyBackend)  # a class or factory
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from .._pytest_backend import chosen_backend
from .core import Check, select_checks
from .runner import BackendLike, Target, run_check

__all__ = ["conformance_tests", "pytest_generate_tests", "test_conformance"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per check, on the backend the run is about."""
    if "conformance_check" not in metafunc.fixturenames:
        return
    target = Target.parse(chosen_backend(metafunc.config))
    checks = [c for c in select_checks() if c.cross or not target.cross]
    metafunc.parametrize(
        ("conformance_target", "conformance_check"),
        [(target, c) for c in checks],
        ids=[c.name for c in checks],
    )


def test_conformance(conformance_target: Target, conformance_check: Check) -> None:
    """Run one conformance check; a capability it lacks makes it a skip."""
    _report(conformance_target, conformance_check)


def _report(result_target: Target, check: Check) -> None:
    result = run_check(check, result_target)
    if result.skipped:
        pytest.skip(f"{result_target}: {result.message}")
    if result.failed:
        details = f"\n\n{result.details}" if result.details else ""
        pytest.fail(f"{result_target}: {result.message}{details}", pytrace=False)


def conformance_tests(
    backend: BackendLike, patterns: Sequence[str] = ()
) -> Callable[[Check], None]:
    """Return a pytest test function: one test per check, on *backend*.

    *backend* is a backend object, a factory called afresh for every check
    (a class is one), or a backend choice; it need not be installed.
    *patterns* select checks as ``sockspec check -k`` does.  Assign the
    result to a name starting with ``test_`` in a test module.
    """
    target = Target.of(backend)
    checks = [c for c in select_checks(patterns) if c.cross or not target.cross]

    @pytest.mark.parametrize("conformance_check", checks, ids=[c.name for c in checks])
    def test_conformance_of_backend(conformance_check: Check) -> None:
        """Run one conformance check; a capability it lacks makes it a skip."""
        _report(target, conformance_check)

    return test_conformance_of_backend
