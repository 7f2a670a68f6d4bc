"""The conformance suite against every available backend, and across them.

Each check becomes one test per backend (``stdlib-basic_io``); a check the
backend cannot run is a pytest skip with the suite's reason.  Backends with
real OS sockets also run the two-sided checks against each other, a client
of one with a server of the other (``stdlib->selectors-basic_io``).

A delegating backend (an installed ``trace``, say) gets every check on its
own but no cross pairs: its sockets are its inner backend's, so each of its
pairs would repeat a pair of the inner backend (or a single-backend run) with
the wrapper in between, which its own run already covers.  The four pairs
that ``trace`` beside stdlib and selectors would add cost a CI environment
about 25 s of waiting on timeouts, for no check that could fail differently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sockspec
from sockspec import conformance
from sockspec.conformance import Check, Outcome, Target

_CHECKS = conformance.all_checks()
_SINGLE = [Target(name, name) for name in sockspec.available_backends()]


def _delegates(name: object) -> bool:
    try:
        return isinstance(sockspec.get_backend(str(name)), sockspec.DelegatingBackend)
    except Exception:
        return False  # a backend that fails to load is reported by its run


_CROSS = [
    t
    for t in conformance.targets(cross=True)
    if t.cross and not _delegates(t.client) and not _delegates(t.server)
]
_CASES = [
    pytest.param(target, check, id=f"{target.name}-{check.name}")
    for target in _SINGLE + _CROSS
    for check in _CHECKS
    if check.cross or not target.cross
]
_SHARED_SPEC = Path(__file__).resolve().parents[1] / ".." / "shared" / "spec"


@pytest.mark.parametrize(("target", "check"), _CASES)
def test_conformance(target: Target, check: Check) -> None:
    result = conformance.run_check(check, target)
    if result.outcome is Outcome.SKIP:
        pytest.skip(result.message)
    assert result.outcome is Outcome.PASS, f"{result.message}\n{result.details}"


def test_every_backend_is_covered() -> None:
    names = {t.client for t in _SINGLE}
    assert {"stdlib", "selectors"} <= names
    os_backends = [
        n
        for n in names
        if sockspec.get_backend(n).capabilities.os_sockets and not _delegates(n)
    ]
    assert len(_CROSS) == len(os_backends) * (len(os_backends) - 1) >= 2


def test_every_spec_line_is_claimed() -> None:
    missing = [f"{line.number}: {line.text}" for line in conformance.unclaimed_lines()]
    assert not missing, "spec lines without a check:\n" + "\n".join(missing)


def test_check_names_are_identifiers() -> None:
    for check in _CHECKS:
        assert check.name.isidentifier(), check.name


def test_a_second_check_of_the_same_name_is_refused() -> None:
    # The registry is keyed by name, so names are unique by construction;
    # what needs proving is that a clash is an error, not a silent overwrite.
    from sockspec.conformance.core import check

    existing = _CHECKS[0]
    before = conformance.all_checks()

    def clash(h: object) -> None:
        """A check reusing an existing name."""

    with pytest.raises(ValueError, match="already exists"):
        check(group="api", name=existing.name)(clash)
    assert conformance.all_checks() == before


def test_every_check_has_a_docstring_and_group() -> None:
    for check in _CHECKS:
        assert check.summary != check.name, f"{check.name} has no docstring"
        assert check.group


def test_nettest_cases_are_all_adapted() -> None:
    adapted = {check.nettest for check in _CHECKS}
    for case in (
        "BasicIO",
        "PingPong",
        "RacyRead",
        "RacyWrite",
        "ReadTimeout",
        "WriteTimeout",
        "PastTimeout",
        "PresentTimeout",
        "FutureTimeout",
        "CloseTimeout",
        "ConcurrentMethods",
    ):
        assert case in adapted, f"no check adapts nettest {case}"


def test_shipped_spec_is_the_shared_one() -> None:
    shared = _SHARED_SPEC / "sockets-a.txt"
    if not shared.exists():
        pytest.skip("shared/spec is not beside the repository")
    assert conformance.spec_text() == shared.read_text(encoding="utf-8")


def test_spec_mapping_document_is_current() -> None:
    document = Path(__file__).resolve().parents[1] / "docs" / "spec-mapping.md"
    expected = conformance.mapping_markdown()
    assert document.read_text(encoding="utf-8") == expected, (
        "docs/spec-mapping.md is stale: run "
        "`python -m sockspec.conformance mapping > docs/spec-mapping.md`"
    )


def test_claims_resolve_or_fail_loudly() -> None:
    from sockspec.conformance.spec import resolve_claim

    assert resolve_claim("sendTo / host: IP").entry == "sendTo"
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_claim("host: IP address or hostname")
    with pytest.raises(ValueError, match="matches no line"):
        resolve_claim("no such words")


def test_a_missing_capability_is_a_skip_with_reason() -> None:
    class Limited(sockspec.Backend):
        name = "limited"
        capabilities = sockspec.Capabilities(
            families=frozenset({sockspec.AF_INET}), options=frozenset()
        )

        def socket(self, family, type):  # type: ignore[no-untyped-def]
            raise AssertionError("a skipped check must not run")

        def selector(self):  # type: ignore[no-untyped-def]
            raise AssertionError("a skipped check must not run")

    check = next(c for c in _CHECKS if c.name == "basic_io_unix")
    reason = check.missing("limited", Limited.capabilities)
    assert reason == "backend 'limited' lacks AF_UNIX"
    check = next(c for c in _CHECKS if c.name == "port_reuse_after_close")
    assert "SO_REUSEADDR" in (check.missing("limited", Limited.capabilities) or "")


def test_results_are_structured() -> None:
    check = next(c for c in _CHECKS if c.name == "ping_pong")
    (result,) = conformance.run([check], [Target("stdlib", "stdlib")])
    assert result.passed
    assert result.check == "ping_pong"
    assert result.target == "stdlib"
    assert result.duration > 0


def test_an_unknown_backend_fails_cleanly() -> None:
    check = next(c for c in _CHECKS if c.name == "ping_pong")
    result = conformance.run_check(check, Target("no-such-backend", "no-such-backend"))
    assert result.failed
    assert "cannot load backend" in result.message


def test_a_hanging_check_is_cut_off() -> None:
    def hangs(h: conformance.Harness) -> None:
        client, _server = h.pair(timeout=None)
        client.receive()  # nobody ever sends

    check = conformance.Check(
        name="hangs",
        group="test",
        function=hangs,
        requires=conformance.Requirements(),
        spec=(),
        nettest=None,
        family=sockspec.AF_INET,
        cross=True,
        summary="hangs",
    )
    result = conformance.run_check(check, Target("stdlib", "stdlib"), time_limit=0.5)
    assert result.failed
    assert "did not finish" in result.message
