"""The example third-party backend, ``trace`` (examples/sockspec-trace).

When sockspec-trace is installed (tox installs it) it is found through its
entry point, as a user would get it; otherwise the tests import it from the
source tree and register it for their duration only.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import sockspec
from _fresh import python_output
from sockspec import _registry

ROOT = Path(__file__).resolve().parent.parent
TRACE_SRC = ROOT / "examples" / "sockspec-trace" / "src"
TIMEOUT = 10.0


def _installed() -> bool:
    from importlib import metadata

    return any(
        ep.name == "trace"
        for ep in metadata.entry_points(group=_registry.ENTRY_POINT_GROUP)
    )


INSTALLED = _installed()


@pytest.fixture(scope="module")
def trace() -> Iterator[ModuleType]:
    """The ``sockspec_trace`` module, with the ``trace`` backend available."""
    if INSTALLED:
        import sockspec_trace

        yield sockspec_trace
        return
    # Load the installed plugins first: the source tree may hold metadata
    # (an egg-info) that must not count as an installation.
    _registry.REGISTRY.load()
    sys.path.insert(0, str(TRACE_SRC))
    try:
        import sockspec_trace
        from sockspec_trace import plugin

        _registry.REGISTRY.register_plugin(plugin, name="trace")
        try:
            yield sockspec_trace
        finally:
            _registry.REGISTRY.unregister_plugin("trace")
    finally:
        sys.path.remove(str(TRACE_SRC))


@pytest.fixture
def log(trace: ModuleType) -> Iterator[Any]:
    """The records made during one test (a private ``TraceLog``)."""
    with trace.capture() as seen:
        yield seen


def echo_once(backend: str) -> None:
    """One request and reply over loopback."""
    with sockspec.Socket(backend=backend, timeout=TIMEOUT) as server:
        server.bind("127.0.0.1")
        server.listen()

        def serve() -> None:
            with server.accept() as conn:
                conn.send(conn.receive(100).upper())

        worker = threading.Thread(target=serve, name="server")
        worker.start()
        with sockspec.Socket(backend=backend, timeout=TIMEOUT) as client:
            client.connect("127.0.0.1", server.local_port)
            client.send(b"hello")
            assert client.receive(100) == b"HELLO"
        worker.join(TIMEOUT)


# -- what is recorded ------------------------------------------------------------


def test_every_operation_is_recorded_with_arguments_and_result(log: Any) -> None:
    echo_once("trace:stdlib")
    records = log.records()
    calls = [r.call() + " " + r.outcome for r in records]
    created = [r for r in records if r.op == "socket"]
    assert [r.args for r in created] == ["AF_INET, SOCK_STREAM"] * 2
    server, client = (r.result for r in created)
    assert f"{server}.bind('127.0.0.1', 0) -> None" in calls
    assert f"{server}.listen(128) -> None" in calls
    accepted = next(r for r in records if r.op == "accept")
    conn = accepted.result
    assert accepted.thread == "server"
    assert f"{conn}.receive(100) -> b'hello'" in calls
    assert f"{conn}.send(b'HELLO') -> 5" in calls
    assert log.ops(target=client) == [
        "set_timeout",
        "connect",
        "send",
        "receive",
        "close",
    ]
    connect = next(r for r in records if r.op == "connect")
    assert connect.args.startswith("'127.0.0.1', ")
    assert connect.args.endswith(f", timeout={TIMEOUT!r}")
    assert all(r.ok for r in records)
    assert [r.seq for r in records] == sorted(r.seq for r in records)


def test_errors_are_recorded_as_the_application_sees_them(log: Any) -> None:
    with sockspec.Socket(backend="trace:stdlib") as probe:
        probe.bind("127.0.0.1")
        port = probe.local_port  # bound, not listening: connecting is refused
        with (
            sockspec.Socket(backend="trace:stdlib", timeout=TIMEOUT) as sock,
            pytest.raises(sockspec.ConnectionRefused),
        ):
            sock.connect("127.0.0.1", port)
    [failed] = log.errors()
    assert failed.op == "connect"
    assert failed.error_type == "ConnectionRefused"
    assert failed.result is None
    assert "!! ConnectionRefused" in str(failed)


def test_long_data_is_summarised_with_its_length(log: Any) -> None:
    with sockspec.Socket(type=sockspec.SOCK_DGRAM, backend="trace:stdlib") as sock:
        sock.timeout = TIMEOUT
        sock.bind("127.0.0.1")
        sock.send_to("127.0.0.1", sock.local_port, b"x" * 1000)
        assert len(sock.receive_from().data) == 1000
    [sent] = log.records(op="send_to")
    assert sent.args.startswith("b'xxxxxxxx")
    assert "...(1000 bytes)" in sent.args
    assert sent.result == "1000"
    [received] = log.records(op="receive_from")
    assert "(1000 bytes)" in received.result
    assert received.result.endswith(f"'127.0.0.1', {sent.args.split(', ')[-1]})")


def test_poller_records_show_sockets_by_label(log: Any) -> None:
    with (
        sockspec.Socket(type=sockspec.SOCK_DGRAM, backend="trace") as sock,
        sockspec.Poller(backend="trace:stdlib") as poller,
    ):
        sock.bind("127.0.0.1")
        poller.register(sock, sockspec.EVENT_READ)
        assert poller.poll(0) == []
        sock.send_to("127.0.0.1", sock.local_port, b"ping")
        assert len(poller.poll(TIMEOUT)) == 1
    [label] = [r.result for r in log.records(op="socket")]
    selects = log.records(op="select")
    assert selects[0].result == "[]"
    assert selects[1].result == f"[{label} EVENT_READ]"
    assert log.records(op="register")[0].args == f"{label}, EVENT_READ"


# -- the backend ------------------------------------------------------------------


def test_trace_takes_the_inner_backends_capabilities_and_clock(
    trace: ModuleType,
) -> None:
    traced = sockspec.get_backend("trace:selectors")
    inner = sockspec.get_backend("selectors")
    assert traced.name == "trace:selectors"
    assert traced.capabilities == inner.capabilities
    assert traced.inner is inner
    assert abs(traced.monotonic() - inner.monotonic()) < 1.0


def test_trace_alone_wraps_stdlib_and_is_the_same_backend(trace: ModuleType) -> None:
    assert sockspec.get_backend("trace") is sockspec.get_backend("trace:stdlib")
    with sockspec.Socket(backend="trace") as sock:
        assert sock.backend == "trace:stdlib"


def test_trace_of_an_unknown_backend_lists_the_available_ones(
    trace: ModuleType,
) -> None:
    with pytest.raises(sockspec.UnknownBackend, match="available backends"):
        sockspec.get_backend("trace:nope")


def test_a_trace_backend_object_can_have_its_own_log(trace: ModuleType) -> None:
    own = trace.TraceLog()
    backend = trace.TraceBackend(sockspec.get_backend("stdlib"), log=own)
    with trace.capture() as shared, sockspec.Socket(backend=backend) as sock:
        sock.bind("127.0.0.1")
    assert own.ops() == ["socket", "bind", "close"]
    assert shared.records() == []


def test_sockets_of_many_threads_are_logged_consistently(log: Any) -> None:
    rounds, threads = 20, 8

    def work() -> None:
        for _ in range(rounds):
            with sockspec.Socket(
                type=sockspec.SOCK_DGRAM, backend="trace:stdlib"
            ) as sock:
                sock.bind("127.0.0.1")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(TIMEOUT)
    records = log.records()
    assert len(records) == rounds * threads * 3  # socket, bind, close
    assert len({r.seq for r in records}) == len(records)
    labels = [r.result for r in records if r.op == "socket"]
    assert len(set(labels)) == rounds * threads
    for label in labels:
        assert log.ops(target=label) == ["bind", "close"]


# -- the log API --------------------------------------------------------------------


def test_get_clear_and_format_the_process_wide_log(trace: ModuleType) -> None:
    trace.clear_log()
    assert trace.format_log() == "(no socket operations recorded)"
    with sockspec.Socket(backend="trace:stdlib") as sock:
        sock.bind("127.0.0.1")
    ops = [r.op for r in trace.get_log()]
    assert ops[-3:] == ["socket", "bind", "close"]
    text = trace.format_log()
    assert "socket(AF_INET, SOCK_STREAM) -> s" in text
    assert "ms [MainThread]" in text
    assert len(text.splitlines()) == len(trace.get_log())
    trace.clear_log()
    assert trace.get_log() == []


def test_a_full_log_drops_the_oldest_records(trace: ModuleType) -> None:
    small = trace.TraceLog(maxlen=3)
    backend = trace.TraceBackend(sockspec.get_backend("stdlib"), log=small)
    for _ in range(2):
        with sockspec.Socket(backend=backend) as sock:
            sock.bind("127.0.0.1")
    assert len(small) == 3
    assert small.dropped == 3
    assert small.ops() == ["socket", "bind", "close"]
    assert small.format().startswith("(3 older records dropped)")


def test_echo_writes_each_record_as_it_happens(trace: ModuleType) -> None:
    stream = io.StringIO()
    backend = trace.TraceBackend(
        sockspec.get_backend("stdlib"), log=trace.TraceLog(echo=stream)
    )
    with sockspec.Socket(backend=backend) as sock:
        sock.bind("127.0.0.1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert "bind('127.0.0.1', 0) -> None" in lines[1]


# -- installed through its entry point -------------------------------------------------


@pytest.mark.skipif(not INSTALLED, reason="sockspec-trace is not installed")
def test_installed_trace_is_listed_and_chosen_by_environment() -> None:
    [info] = [i for i in sockspec.backend_info() if i.name == "trace"]
    assert info.distribution == "sockspec-trace"
    assert info.plugin == "trace"
    probe = (
        "import sockspec, sockspec_trace\n"
        "with sockspec.Socket() as s: s.bind('127.0.0.1')\n"
        "print(sockspec_trace.get_log()[0].backend)\n"
    )
    out = python_output(probe, SOCKSPEC_BACKEND="trace:selectors")
    assert out.strip() == "trace:selectors"


def test_trace_memory_follows_the_current_network(
    log: Any, memory_network: sockspec.Backend
) -> None:
    traced = sockspec.get_backend("trace:memory")
    assert traced.inner is memory_network  # type: ignore[attr-defined]
    assert traced.capabilities.virtual_time
    with sockspec.Socket(backend="trace:memory") as sock:
        sock.bind("127.0.0.1")
    assert log.ops() == ["socket", "bind", "close"]
    assert {r.backend for r in log.records()} == {traced.name}
