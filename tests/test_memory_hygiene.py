"""What the memory_network fixture reports about what a test left behind.

Each check of :mod:`sockspec._pytest_hygiene` is shown failing an inner
pytest run (pytester) with its own message, and switched off by the marker.
"""

from __future__ import annotations

import threading

import pytest

from sockspec import Socket

pytest_plugins = ["pytester"]

HEADER = """
import threading
import threading

import pytest
from sockspec import Socket
"""


def run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + body)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider")


def test_leaked_sockets_fail_the_test_with_their_netstat_lines(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_leaks(memory_network):
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()

def test_closes(memory_network):
    with Socket() as lst:
        lst.bind("127.0.0.1", 7000)
        lst.listen()
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            "1 socket(s) of the memory network left open at the end of the test*",
            "Id*Proto*Host*Local*Remote*State*",
            "1*tcp*local*127.0.0.1:7000*LISTEN*",
        ]
    )


def test_leak_check_is_switched_off_by_the_marker(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
pytestmark = pytest.mark.memory_network(check_leaks=False)

@pytest.mark.memory_network(seed=3)
def test_leaks(memory_network):
    Socket().bind("127.0.0.1", 7000)
""",
    )
    result.assert_outcomes(passed=1)


def test_exception_in_a_network_thread_fails_the_test_and_shows_first(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def serve(lst):
    conn = lst.accept()
    conn.close()
    raise ValueError("the server broke")

def test_passes_unless_checked(memory_network):
    with Socket(timeout=5) as lst:
        lst.bind("127.0.0.1", 7000)
        lst.listen()
        t = threading.Thread(target=serve, args=(lst,), name="server")
        t.start()
        with Socket(timeout=5) as c:
            c.connect("127.0.0.1", 7000)
        t.join(5)

def test_fails_for_another_reason(memory_network):
    t = threading.Thread(target=lambda: 1 / 0, name="worker")
    t.start()
    t.join(5)
    assert False, "the test's own failure"
""",
    )
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*unhandled exception in thread 'server', which used the memory network:",
            "Traceback (most recent call last):",
            "*ValueError: the server broke",
        ]
    )
    # The thread's traceback comes before the test's own failure.
    assert out.index("ZeroDivisionError") < out.index("the test's own failure")
    assert "and then the test itself failed:" in out


def test_blocked_threads_fail_the_test_with_what_they_wait_for(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_forgets_the_server(memory_network):
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    def serve():
        try:
            lst.accept()
        except OSError:
            pass
        finally:
            lst.close()
    t = threading.Thread(target=serve, name="server", daemon=True)
    t.start()
    memory_network.sleep(1)
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "1 thread(s) left blocked on the memory network at the end of the test*",
            "  thread 'server' in accept() on *127.0.0.1:7000*",
        ]
    )
    # Woken by the fixture, the thread closed its socket: no leak reported.
    assert "left open" not in result.stdout.str()


def test_a_thread_waiting_for_what_is_in_flight_is_not_left_blocked(
    pytester: pytest.Pytester,
) -> None:
    # The handler waits for the client's FIN, which latency still holds when
    # the test ends; on a real network it arrives a moment later and the
    # handler ends.  A thread that waits for something never sent is still
    # reported (the test above).
    result = run(
        pytester,
        """
from sockspec.backends.memory import Latency

def test_closes_under_latency(memory_network):
    memory_network.add_rule(Latency(2.0))
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    def handle(conn):
        with conn:
            while conn.receive(100):
                pass
    def serve():
        with lst:
            handle(lst.accept())
    t = threading.Thread(target=serve, name="server", daemon=True)
    t.start()
    with Socket() as client:
        client.connect("127.0.0.1", 7000)
        client.send(b"hello")
""",
    )
    result.assert_outcomes(passed=1)


def test_blocked_check_is_switched_off_by_the_marker(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.memory_network(check_blocked=False, check_leaks=False)
def test_forgets_the_server(memory_network):
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    def serve():
        try:
            lst.accept()
        except OSError:
            pass
    t = threading.Thread(target=serve, name="server", daemon=True)
    t.start()
    memory_network.sleep(1)
""",
    )
    result.assert_outcomes(passed=1)


def test_a_failure_report_shows_the_netstat_table(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.memory_network(seed=5, check_leaks=False)
def test_fails(memory_network):
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    assert False
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*memory network*",
            "seed 5; replay with --memory-seed=5",
            "event log, last 2 of 2 events:",
            "*listen*127.0.0.1:7000",
            "sockets:",
            "Id*Proto*",
            "1*tcp*127.0.0.1:7000*LISTEN*",
        ]
    )


def test_checks_must_be_booleans(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.memory_network(check_leaks="no")
def test_x(memory_network):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*check_leaks must be a bool*"])


# -- scoping -------------------------------------------------------------------------


def test_a_socket_from_an_earlier_tests_network_raises_stale_network(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
from sockspec.backends.memory import StaleNetwork

KEPT = []

@pytest.mark.memory_network(seed=11, check_leaks=False)
def test_first(memory_network):
    sock = Socket()
    sock.bind("127.0.0.1", 7000)
    KEPT.append(sock)

def test_later(memory_network):
    with pytest.raises(StaleNetwork, match="test_first .seed 11., which has ended"):
        KEPT[0].listen()
    with pytest.raises(StaleNetwork):
        KEPT[0].connect("127.0.0.1", 7001)
    KEPT[0].close()  # cleanup never fails
""",
    )
    result.assert_outcomes(passed=2)


def test_module_shared_network_and_its_seed_in_reports(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
pytestmark = pytest.mark.memory_network(seed=21)

@pytest.fixture(scope="module")
def server(memory_network_module):
    with Socket() as lst:
        lst.bind("127.0.0.1", 7000)
        lst.listen(8)
        yield lst

def test_one(server, memory_network_module):
    assert memory_network_module.seed == 21
    with Socket(timeout=1) as c:
        c.connect("127.0.0.1", 7000)
        server.accept().close()

def test_two(server):
    with Socket(timeout=1) as c:
        c.connect("127.0.0.1", 7000)
        server.accept().close()
    assert False, "boom"
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*memory network*",
            "shared by memory_network_module: seed 21; replay with --memory-seed=21",
        ]
    )


def test_memory_seed_option_beats_the_markers_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
@pytest.mark.memory_network(seed=7)
def test_seed(memory_network):
    assert memory_network.seed == 9
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--memory-seed=9")
    result.assert_outcomes(passed=1)


# -- exploring seeds ---------------------------------------------------------------


EXPLORED = """
def test_race(memory_network):
    # Fails under the seeds that give the client an odd ephemeral port.
    with Socket() as lst:
        lst.bind("127.0.0.1", 7000)
        lst.listen()
        with Socket(timeout=1) as c:
            c.connect("127.0.0.1", 7000)
            lst.accept().close()
            assert c.local_port % 2 == 0

@pytest.mark.memory_network(seed=3)
def test_pinned(memory_network):
    assert memory_network.seed == 3
"""


def test_memory_seeds_explores_and_reports_the_first_failing_seed(
    pytester: pytest.Pytester,
) -> None:
    from sockspec.backends.memory import Network

    odd = []
    for seed in range(12):
        with Network(seed=seed) as net, Socket(backend=net) as lst:
            lst.bind("127.0.0.1", 7000)
            lst.listen()
            with Socket(backend=net) as c:
                c.connect("127.0.0.1", 7000)
                lst.accept().close()
                if c.local_port % 2:
                    odd.append(seed)
    assert odd, "no seed in 0..11 gives an odd port: pick another test"
    pytester.makepyfile(HEADER + EXPLORED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--memory-seeds=12")
    result.assert_outcomes(passed=12 - len(odd) + 1, failed=len(odd))
    result.stdout.fnmatch_lines(
        [
            "*test_race?memory-seed=*",
            "*memory seeds*",
            f"*::test_race: failed under {len(odd)} seed(s), first seed {odd[0]}; "
            f"replay: pytest '*::test_race' --memory-seed={odd[0]}",
        ]
    )
    # The replay command reproduces the failure.
    replay = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--memory-seed={odd[0]}", "-k", "test_race"
    )
    replay.assert_outcomes(failed=1)
    replay.stdout.fnmatch_lines(["replay: pytest '*::test_race' --memory-seed=*"])


def test_marker_seeds_explores_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
SEEN = []

@pytest.mark.memory_network(seeds=5)
def test_seeds(memory_network):
    SEEN.append(memory_network.seed)

def test_after():
    assert SEEN == [0, 1, 2, 3, 4]
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


def test_a_failure_report_says_when_the_seeded_schedule_lost_a_thread(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
import time

@pytest.mark.memory_network(schedule="seeded", check_leaks=False)
def test_fails(memory_network):
    lst = Socket(timeout=5)
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    def napper():
        with Socket(timeout=5) as c:
            c.connect("127.0.0.1", 7000)
            give_up = time.monotonic() + 30
            while not memory_network.schedule_notes and time.monotonic() < give_up:
                time.sleep(0.05)
    t = threading.Thread(target=napper, name="napper")
    t.start()
    lst.accept().close()
    Socket().close()
    t.join(30)
    assert False
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "this run may not replay: the seeded schedule lost track of threads:",
            "*'napper'*",
        ]
    )


def test_the_fixtures_own_wait_for_threads_is_not_a_lost_thread(
    pytester: pytest.Pytester,
) -> None:
    # The test thread holds the turn when it ends; the server thread, woken
    # by the client's close, needs it to finish. The fixture waiting for it
    # must hand the turn over, not look like a thread asleep outside the
    # network ("this run may not replay").
    result = run(
        pytester,
        """
networks = []

def serve(lst):
    with lst.accept() as conn:
        while data := conn.receive():
            conn.send(data)
    lst.close()

SEEDS = [pytest.param(s, marks=pytest.mark.memory_network(seed=s)) for s in range(8)]

@pytest.mark.parametrize("seed", SEEDS)
def test_echo(memory_network, seed):
    networks.append(memory_network)
    lst = Socket()
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    threading.Thread(target=serve, args=(lst,), name="server").start()
    with Socket(timeout=5) as client:
        client.connect("127.0.0.1", 7000)
        client.send(b"x")
        assert client.receive(10) == b"x"

def test_no_notes():
    assert [n.schedule_notes for n in networks] == [[]] * 8
""",
    )
    result.assert_outcomes(passed=9)


def test_real_socket_guard_names_the_call_and_fails_the_test(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
import socket

pytestmark = pytest.mark.memory_network(check_real_sockets=True)

def test_swallows_the_error(memory_network):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", 9))
    except Exception:
        pass               # the code under test hides it: the test still fails
    finally:
        s.close()

def test_sockspec_os_backend(memory_network):
    with pytest.raises(RuntimeError, match="real socket"):
        with Socket(backend="stdlib") as s:
            s.bind("127.0.0.1")

def test_memory_and_socketpair_are_fine(memory_network):
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
    with Socket() as lst:
        lst.bind("127.0.0.1", 80)
""",
    )
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallows_the_error*",
            "1 use(s) of a real socket in a test on the memory network:",
            "*socket.connect(('127.0.0.1', 9)) on AF_INET in thread 'MainThread'",
        ]
    )
    result.stdout.fnmatch_lines(["*socket.bind(('127.0.0.1', 0)) on AF_INET*"])


def test_real_socket_guard_is_off_by_default_and_restores_the_class(
    pytester: pytest.Pytester,
) -> None:
    import socket

    before = dict(socket.socket.__dict__)
    result = run(
        pytester,
        """
import socket

def test_default(memory_network):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))

@pytest.mark.memory_network(check_real_sockets=True)
def test_guarded(memory_network):
    with socket.socket() as s, pytest.raises(RuntimeError):
        s.bind(("127.0.0.1", 0))
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    assert dict(socket.socket.__dict__) == before


def test_delivering_what_is_in_flight_never_times_a_wait_out() -> None:
    from sockspec.backends.memory import Latency, Network

    network = Network(seed=3)
    network.add_rule(Latency(10.0))
    sched = network._sched
    got: list[object] = []
    with Socket(backend=network) as lst:
        lst.bind("127.0.0.1", 7000)
        lst.listen()
        client = Socket(backend=network)
        client.connect("127.0.0.1", 7000)
        server = lst.accept()
        server.timeout = 5.0

        def receive() -> None:
            try:
                got.append(server.receive(10))
            except OSError as exc:  # recorded for the test
                got.append(exc)

        thread = threading.Thread(target=receive, name="receiver")
        thread.start()
        network.sleep(1.0)  # the receiver blocks, its deadline at t=6
        client.send(b"late")  # arrives at t=11, after that deadline
        with sched.lock:
            assert sched.waiters()
            before = sched.now
            assert not sched.deliver_in_flight()
            assert sched.now == before
        client.close()
        server.close()
        thread.join(5)
    assert not thread.is_alive()
    assert len(got) == 1
    assert not isinstance(got[0], bytes)
    network.close()
