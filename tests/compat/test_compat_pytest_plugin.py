"""The compat_network fixture and the --sockspec-compat option."""

from __future__ import annotations

import socket
import textwrap

import pytest

from sockspec import compat

pytest_plugins = ["pytester"]


def test_compat_network_patches_onto_a_fresh_network(compat_network: object) -> None:
    assert socket.socket is compat.socket
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert listener.sockspec_socket._backend is compat_network


@pytest.mark.memory_network(seed=1234)
@pytest.mark.compat_network(clock=True)
def test_compat_network_composes_with_the_markers(compat_network: object) -> None:
    import time

    assert compat_network.seed == 1234  # type: ignore[attr-defined]
    time.sleep(100)
    assert compat_network.now == pytest.approx(100)  # type: ignore[attr-defined]


SUITE = textwrap.dedent(
    """
    import http.client, http.server, socket, threading, time

    def test_unmodified_http_round_trip():
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,))
        thread.start()
        try:
            conn = http.client.HTTPConnection(
                "127.0.0.1", server.server_port, timeout=5)
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
            conn.close()
        finally:
            server.shutdown()
            thread.join(5)
            server.server_close()

    def test_which_socket():
        with socket.socket() as sock:
            print("SOCKET", type(sock).__module__, sock.sockspec_socket.backend
                  if hasattr(sock, "sockspec_socket") else "os")

    def test_a_silent_server_times_out_in_virtual_time():
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname(), timeout=60)
        started = time.monotonic()
        try:
            client.recv(1)
        except TimeoutError:
            pass
        assert time.monotonic() - started < 30  # 60 s passed virtually only
        client.close()
        listener.close()
    """
)


@pytest.mark.parametrize("name", ["memory", "stdlib"])
def test_option_runs_a_whole_suite_patched(
    pytester: pytest.Pytester, name: str
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    args = ["-p", "no:cacheprovider", "-s", f"--sockspec-compat={name}"]
    if name != "memory":
        args += ["-k", "not virtual"]
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(passed=3 if name == "memory" else 2)
    result.stdout.fnmatch_lines([f"*SOCKET sockspec.compat._socket {name}*"])


def test_option_rejects_an_unknown_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_inprocess("--sockspec-compat=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sockspec-compat nope*"])


def test_failure_report_names_the_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): assert False")
    result = pytester.runpytest_inprocess(
        "--sockspec-compat=memory", "--memory-seed=99"
    )
    result.stdout.fnmatch_lines(["*seed 99; replay with --memory-seed=99*"])


FIXTURE_SCOPES = textwrap.dedent(
    """
    import socket, threading

    import pytest

    @pytest.fixture(scope="module")
    def echo_server():
        listener = socket.create_server(("127.0.0.1", 0))
        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(conn.recv(100))
        thread = threading.Thread(target=serve)
        thread.start()
        yield listener.getsockname()
        listener.close()
        thread.join(5)

    def test_first_client(echo_server):
        with socket.create_connection(echo_server, timeout=5) as conn:
            conn.sendall(b"one")
            assert conn.recv(10) == b"one"
            print("BACKEND", conn.sockspec_socket.backend)

    def test_second_client(echo_server):
        with socket.create_connection(echo_server, timeout=5) as conn:
            conn.sendall(b"two")
            assert conn.recv(10) == b"two"
    """
)


def test_session_and_module_fixtures_share_the_tests_network(
    pytester: pytest.Pytester,
) -> None:
    # A server started by a module-scoped fixture is reachable from the
    # patched tests: the default scope runs fixtures patched too.
    pytester.makepyfile(test_scopes=FIXTURE_SCOPES)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-s", "--sockspec-compat=memory"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*BACKEND memory*"])


def test_function_scope_gives_each_test_a_fresh_network(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_fresh=textwrap.dedent(
            """
            import socket

            def test_keeps_a_port_bound():
                global kept
                kept = socket.create_server(("127.0.0.1", 8080))

            def test_the_next_test_finds_it_free():
                with socket.create_server(("127.0.0.1", 8080)):
                    pass
            """
        )
    )
    for scope, outcome in (("function", {"passed": 2}), ("session", {})):
        result = pytester.runpytest_inprocess(
            "-p",
            "no:cacheprovider",
            "--sockspec-compat=memory",
            f"--sockspec-compat-scope={scope}",
        )
        if scope == "function":
            result.assert_outcomes(**outcome)
        else:
            # One network for the session, like the machine's one loopback:
            # the port the first test kept is still in use.
            result.assert_outcomes(passed=1, failed=1)
            result.stdout.fnmatch_lines(["*Address already in use*"])


def test_a_shared_network_report_says_to_replay_the_whole_selection(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_x="def test_x(): assert False")
    result = pytester.runpytest_inprocess(
        "--sockspec-compat=memory", "--memory-seed=99"
    )
    result.stdout.fnmatch_lines(
        ["*replay: the same pytest command with --memory-seed=99*session*"]
    )
    result = pytester.runpytest_inprocess(
        "--sockspec-compat=memory",
        "--memory-seed=99",
        "--sockspec-compat-scope=function",
    )
    result.stdout.fnmatch_lines(
        ["*replay: pytest 'test_x.py::test_x' --memory-seed=99*"]
    )
