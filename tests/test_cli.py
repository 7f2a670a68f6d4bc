"""The ``sockspec`` command line: ``check`` and ``backends``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

import sockspec
from sockspec import _registry
from sockspec.api.constants import Family, SocketType
from sockspec.backends.stdlib import StdlibBackend, StdlibSocket
from sockspec.cli import main


class _LossySocket(StdlibSocket):
    """Garbles the last byte of every send: the suite must notice."""

    __slots__ = ()

    def send(self, data: bytes | memoryview) -> int:
        garbled = bytes(data[:-1]) + bytes([data[-1] ^ 0xFF]) if len(data) else b""
        return super().send(garbled)


class _LossyBackend(StdlibBackend):
    name = "lossy"

    def socket(self, family: Family, type: SocketType) -> StdlibSocket:
        return _LossySocket(family, type)


class _LossyPlugin:
    @sockspec.hookimpl
    def sockspec_add_backends(self) -> list[sockspec.BackendSpec]:
        return [sockspec.BackendSpec("lossy", lambda _: _LossyBackend(), "loses")]


@pytest.fixture
def lossy() -> Iterator[str]:
    _registry.REGISTRY.register_plugin(_LossyPlugin(), name="lossy-plugin")
    try:
        yield "lossy"
    finally:
        _registry.REGISTRY.unregister_plugin("lossy-plugin")


def test_check_prints_a_matrix_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "stdlib", "-k", "ping_pong"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["check", "stdlib"]
    assert lines[1].split() == ["ping_pong", "pass"]
    assert lines[2].split() == ["ping_pong_inet6", "pass"]
    assert "0 failed" in out


def test_check_fails_with_exit_1_and_says_why(
    lossy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", lossy, "stdlib", "-k", "ping_pong"]) == 1
    out = capsys.readouterr().out
    header, first = out.splitlines()[:2]
    assert header.split() == ["check", "lossy", "stdlib"]
    assert first.split() == ["ping_pong", "FAIL", "pass"]
    assert "failures:" in out
    assert "lossy ping_pong: AssertionError" in out


def test_check_shows_skip_reasons_as_footnotes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = sockspec.get_backend("stdlib")
    limited = sockspec.Capabilities(families=frozenset({sockspec.AF_INET}))
    monkeypatch.setattr(backend, "capabilities", limited)
    assert main(["check", "stdlib", "-k", "basic_io*"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["basic_io", "pass"] in rows
    assert ["basic_io_inet6", "skip[1]"] in rows
    assert ["basic_io_unix", "skip[2]"] in rows
    assert "[1] backend 'stdlib' lacks AF_INET6" in out
    assert "[2] backend 'stdlib' lacks AF_UNIX" in out


def test_check_verbose_prints_each_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "stdlib", "-k", "spec_aliases", "-v"]) == 0
    out = capsys.readouterr().out
    assert "stdlib spec_aliases: pass" in out


def test_check_cross_adds_client_server_columns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    os_backends = [
        n
        for n in sockspec.available_backends()
        if sockspec.get_backend(n).capabilities.os_sockets
    ]
    if len(os_backends) < 2:
        pytest.skip("needs two OS-socket backends")
    a, b = os_backends[:2]
    assert main(["check", a, b, "--cross", "-k", "ping_pong"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["check", a, b, f"{a}->{b}", f"{b}->{a}"]


def test_check_rejects_unknown_backends_and_patterns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "no-such-backend"]) == 2
    assert "no-such-backend" in capsys.readouterr().err
    assert main(["check", "stdlib", "-k", "no-such-check"]) == 2
    assert "no check matches" in capsys.readouterr().err


def test_backends_lists_origin_capabilities_and_problems(
    lossy: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = sockspec.PluginProblem("broken", "broken-dist", "ImportError: boom")
    monkeypatch.setattr(_registry, "plugin_problems", lambda: [problem])
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [stdlib] = [line for line in lines if line.split()[:1] == ["stdlib"]]
    assert "plugin stdlib (sockspec)" in stdlib
    assert "blocking OS sockets" in stdlib
    caps = lines[lines.index(stdlib) + 1]
    assert caps.split()[0] == "capabilities:"
    assert "AF_INET" in caps
    assert "os-sockets" in caps
    assert any(line.split()[:1] == ["lossy"] for line in lines)
    assert "  broken (broken-dist): ImportError: boom" in lines


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_python_dash_m_sockspec_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sockspec", "check", "stdlib", "-k", "api_surface"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "api_surface" in result.stdout


def test_python_dash_m_conformance_prints_the_mapping() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sockspec.conformance", "mapping"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Sockets/A to sockspec")


def test_backends_shows_which_options_a_backend_understands() -> None:
    full = sockspec.Capabilities()
    assert "options=all" in full.describe().split()
    some = sockspec.Capabilities(
        options=frozenset({sockspec.TCP_NODELAY, sockspec.SO_REUSEADDR})
    )
    assert "options=SO_REUSEADDR,TCP_NODELAY" in some.describe().split()
    assert "options=none" in sockspec.Capabilities(options=frozenset()).describe()
