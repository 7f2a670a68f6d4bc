"""What a backend author relies on, proved: the suite runs on a backend object
that is not installed, the documented allow-list wrapper (under 40 lines)
passes all of it over every built-in backend, and a deliberately broken
UDP-only backend fails it with the right checks named."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sockspec
from sockspec import (
    AF_INET,
    SOCK_DGRAM,
    Capabilities,
    DelegatingBackend,
    DelegatingSelector,
    DelegatingSocket,
    Event,
    conformance,
)
from sockspec.backends.memory import Network
from sockspec.conformance import Outcome, Result
from sockspec.conformance.test_suite import conformance_tests

DOCS = Path(__file__).resolve().parent.parent / "docs" / "writing-backends.md"
TIMEOUT = 10.0


def _guard_source() -> str:
    """The worked example of docs/writing-backends.md: the Python block with Guard."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    [source] = [b for b in blocks if "class Guard(" in b]
    return str(source)


@pytest.fixture(scope="module")
def guard() -> Any:
    """The ``Guard`` class exactly as the documentation shows it."""
    namespace: dict[str, Any] = {"__name__": "guard_example"}
    exec(compile(_guard_source(), str(DOCS), "exec"), namespace)
    return namespace["Guard"]


def _failed(results: list[Result]) -> list[str]:
    return [f"{r.check}: {r.message}" for r in results if r.failed]


# -- the documented wrapper ---------------------------------------------------------


def test_the_documented_wrapper_is_under_40_lines() -> None:
    lines = [line for line in _guard_source().splitlines() if line.strip()]
    assert len(lines) < 40, len(lines)


def test_the_wrapper_passes_the_whole_suite_over_an_os_backend(guard: Any) -> None:
    # One OS backend inside is enough: the wrapper only delegates, and
    # tests/test_conformance.py runs the suite on each OS backend itself.
    # (A whole-suite run over OS sockets waits ~6 s on real timeouts.)
    results = conformance.run(guard("stdlib"))
    assert not _failed(results)
    assert sum(r.passed for r in results) > 80


def test_the_wrapper_passes_the_whole_suite_over_memory(guard: Any) -> None:
    # A factory: every check gets a fresh network.
    results = conformance.run(lambda: guard(Network(seed=11)))
    assert not _failed(results)
    assert sum(r.passed for r in results) > 80


def test_the_wrapper_refuses_addresses_outside_its_allow_list(guard: Any) -> None:
    network = Network(seed=3)
    network.add_name("elsewhere", "10.9.9.9")
    backend = guard(network)
    with sockspec.Socket(backend=backend, timeout=TIMEOUT) as sock:
        with pytest.raises(sockspec.PermissionDenied, match=r"10\.9\.9\.9") as caught:
            sock.connect("elsewhere", 80)  # checked after the name is resolved
        assert isinstance(caught.value, PermissionError)
    with sockspec.Socket(backend=backend, type=SOCK_DGRAM) as sock:
        sock.bind("127.0.0.1")
        with pytest.raises(sockspec.PermissionDenied):
            sock.send_to("10.0.0.1", 53, b"query")
        assert network.socket_info(sock).bytes_sent == 0
        sock.send_to("127.0.0.1", 53, b"query")  # allowed: loopback
        assert network.socket_info(sock).bytes_sent == 5


# -- running the suite on objects -------------------------------------------------


def test_the_suite_runs_on_a_backend_object_that_is_not_installed(guard: Any) -> None:
    backend = guard("stdlib")
    assert backend.name not in sockspec.available_backends()
    results = conformance.run(conformance.select_checks(["basic_io"]), [backend])
    assert {r.target for r in results} == {"guard:stdlib"}
    assert "basic_io" in [r.check for r in results if r.passed]
    assert not _failed(results)


def test_a_factory_is_called_for_every_check() -> None:
    made: list[Network] = []

    def fresh() -> Network:
        made.append(Network(seed=len(made)))
        return made[-1]

    checks = conformance.select_checks(["basic_io", "ping_pong"])
    results = conformance.run(checks, [fresh])
    assert len(made) == len(results) == len(checks)
    assert all(r.passed or r.skipped for r in results)


def test_a_factory_that_returns_no_backend_fails_with_the_reason() -> None:
    [result] = conformance.run(
        conformance.select_checks(["basic_io"])[:1],
        [lambda: "not a backend"],  # type: ignore[list-item]
    )
    assert result.failed
    assert "not a sockspec.Backend" in result.message


test_pytest_entry_on_an_object = conformance_tests(
    lambda: DelegatingBackend(Network(seed=5)), ["basic_io", "datagram_"]
)


# -- a broken backend -------------------------------------------------------------


class _LateClose(DelegatingSocket):
    """Wrong on purpose: says it is always readable, and close() is slow."""

    def is_readable(self) -> bool:
        return True

    def close(self) -> None:
        # The inner socket closes 1.5 s later: a blocked receive stays blocked.
        timer = threading.Timer(1.5, self.inner.close)
        timer.daemon = True
        self.backend.timers.append((timer, self.inner))  # type: ignore[attr-defined]
        timer.start()


class _RaisingSelector(DelegatingSelector):
    def select(self, timeout: float | None) -> list[tuple[Any, Event]]:
        raise RuntimeError("this Poller is broken")


class BrokenUDP(DelegatingBackend):
    """A UDP-only backend with wrong readiness, a raising Poller, a slow close."""

    socket_class = _LateClose
    selector_class = _RaisingSelector
    capabilities = Capabilities(
        families=frozenset({AF_INET}),
        types=frozenset({SOCK_DGRAM}),
        options=frozenset({sockspec.SO_BROADCAST, sockspec.SO_RCVBUF}),
    )

    def __init__(self) -> None:
        super().__init__(sockspec.get_backend("stdlib"), name="broken-udp")
        self.timers: list[tuple[threading.Timer, sockspec.SocketImpl]] = []


@pytest.fixture
def broken() -> Iterator[BrokenUDP]:
    backend = BrokenUDP()
    yield backend
    for timer, inner in backend.timers:
        timer.cancel()
        inner.close()


def test_a_broken_udp_only_backend_fails_with_the_right_checks_named(
    broken: BrokenUDP,
) -> None:
    results = conformance.run(broken)
    failed = {r.check: r.message for r in results if r.failed}
    # Wrong readiness, the raising Poller, and close() not waking the call.
    assert "is_readable True" in failed["datagram_readable"]
    assert "this Poller is broken" in failed["datagram_poller"]
    for name in ("close_unblocks_receive_from", "close_unblocks_datagram_receive"):
        assert "within 1 s" in failed[name], failed.get(name)
    # A UDP-only backend is checked on far more than the UDP data path.
    ran = {r.check for r in results if r.outcome is not Outcome.SKIP}
    behaviours = {
        "datagram_writable",  # readiness
        "datagram_would_block",
        "datagram_receive_timeout",  # timeouts
        "datagram_closed_operations",  # closed-socket errors
        "options_round_trip",  # options
    }
    assert behaviours <= ran, sorted(ran)
    # Each failure says what was expected and which spec line it proves.
    assert all("expected:" in m and "proves:" in m for m in failed.values())


def test_a_backend_without_a_poller_is_skipped_there_with_the_reason() -> None:
    class NoPoller(DelegatingBackend):
        capabilities = Capabilities(poller=False)

    backend = NoPoller(sockspec.get_backend("stdlib"), name="no-poller")
    with pytest.raises(sockspec.UnsupportedOperation, match="Poller"):
        sockspec.Poller(backend)
    results = conformance.run(
        conformance.select_checks(["poller", "readable"]), [backend]
    )
    by_name = {r.check: r for r in results}
    assert by_name["poller"].skipped
    assert "declares no Poller support" in by_name["poller"].message
    assert by_name["readable"].passed  # readiness without a Poller still checked


@pytest.mark.parametrize("inner", ["stdlib", "memory"])
def test_a_unix_only_backend_still_gets_the_family_free_checks(
    inner: str, memory_network: Network
) -> None:
    class UnixOnly(DelegatingBackend):
        capabilities = Capabilities(families=frozenset({sockspec.AF_UNIX}))

    backend = UnixOnly(sockspec.get_backend(inner), name="unix-only")
    results = conformance.run(backend)
    assert not _failed(results)
    passed = {r.check for r in results if r.passed}
    for name in ("read_timeout", "poller", "closed_operations", "options_round_trip"):
        assert name in passed  # written for AF_INET, run in AF_UNIX here
    assert "datagram_poller" in passed


# -- the documentation covers the contract ------------------------------------------


def test_every_abstract_method_and_optional_hook_is_in_the_guide() -> None:
    text = DOCS.read_text(encoding="utf-8")
    members = set()
    for cls in (sockspec.Backend, sockspec.SocketImpl, sockspec.SelectorImpl):
        members |= set(cls.__abstractmethods__)
    members |= {"name", "capabilities", "monotonic", "open_resources"}
    members |= {"resolve", "lookup_host", "needs_options", "parse_options"}
    quoted = " ".join(re.findall(r"`[^`\n]+`", text))
    missing = sorted(m for m in members if not re.search(rf"\b{m}\b", quoted))
    assert not missing, f"docs/writing-backends.md does not mention {missing}"


# -- failing early ----------------------------------------------------------------


def test_a_backend_class_without_a_name_fails_when_defined() -> None:
    with pytest.raises(TypeError, match="has no name"):

        class Nameless(sockspec.Backend):
            capabilities = Capabilities()

            def socket(self, family: Any, type: Any) -> Any:
                raise NotImplementedError

            def selector(self) -> Any:
                raise NotImplementedError


def test_a_backend_without_capabilities_fails_when_instantiated() -> None:
    class Bare(sockspec.Backend):
        def __init__(self) -> None:
            self.name = "bare"

        def socket(self, family: Any, type: Any) -> Any:
            raise NotImplementedError

        def selector(self) -> Any:
            raise NotImplementedError

    with pytest.raises(TypeError, match="Bare has no capabilities"):
        Bare()


def test_a_subclass_may_set_the_name_after_its_base_init() -> None:
    class Late(DelegatingBackend):
        def __init__(self) -> None:
            super().__init__(sockspec.get_backend("stdlib"))
            self.name = "late"

    assert Late().name == "late"


# -- options ----------------------------------------------------------------------


def test_parse_options_reads_keys_and_converts_values() -> None:
    parse = sockspec.parse_options
    assert parse(None, "x", seed=int) == {}
    assert parse("seed=3; name = a b ;", "x", seed=int, name=str) == {
        "seed": 3,
        "name": "a b",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sede=3", r"unknown option 'sede' \(did you mean 'seed'\?\); it takes: seed"),
        ("seed", r"option 'seed' needs a value \(seed=VALUE\)"),
        ("seed=x", r"option 'seed' has a bad value 'x'"),
        ("seed=1;seed=2", "option 'seed' is given twice"),
    ],
)
def test_parse_options_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sockspec.parse_options(text, "x", seed=int)


def test_built_in_backends_refuse_options_with_the_helper() -> None:
    with pytest.raises(ValueError, match="backend 'stdlib' takes no options"):
        sockspec.get_backend("stdlib:fast=1")


class _NeedsOptionsPlugin:
    @sockspec.hookimpl
    def sockspec_add_backends(self) -> list[sockspec.BackendSpec]:
        def make(options: str | None) -> sockspec.Backend:
            opts = sockspec.parse_options(options, "needy", inner=str)
            return DelegatingBackend(str(opts["inner"]), name="needy")

        return [sockspec.BackendSpec("needy", make, "needs a server", True)]


@pytest.fixture
def needy() -> Iterator[None]:
    from sockspec import _registry

    _registry.REGISTRY.register_plugin(_NeedsOptionsPlugin(), name="needy-plugin")
    try:
        yield
    finally:
        _registry.REGISTRY.unregister_plugin("needy-plugin")


def test_a_factory_needing_options_is_listed_not_called(
    needy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from sockspec import cli

    assert cli.main(["backends"]) == 0
    assert "needy" in capsys.readouterr().out.split("needs options")[0]
    with pytest.raises(ValueError, match="needs options: choose it as 'needy:OPTIONS'"):
        sockspec.get_backend("needy")
    assert sockspec.get_backend("needy:inner=stdlib").name == "needy"
    assert "needy" not in [t.name for t in conformance.targets()]
    assert cli.main(["check", "-k", "basic_io"]) == 0
    assert "not checked: needy (needs options)" in capsys.readouterr().out


def test_a_misspelt_hook_gets_a_did_you_mean() -> None:
    from sockspec import _registry

    class Misspelt:
        @sockspec.hookimpl
        def sockspec_add_backend(self) -> list[sockspec.BackendSpec]:
            return []

    with pytest.raises(Exception, match="did you mean 'sockspec_add_backends'"):
        _registry.REGISTRY.register_plugin(Misspelt(), name="misspelt")
