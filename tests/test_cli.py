"""The ``sockspec`` command line: ``check`` and ``backends``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

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
    assert "built-in" in stdlib
    assert "blocking OS sockets" in stdlib
    caps = lines[lines.index(stdlib) + 1]
    assert caps.split()[0] == "capabilities:"
    assert "AF_INET" in caps
    assert "os-sockets" in caps
    [lossy_line] = [line for line in lines if line.split()[:1] == ["lossy"]]
    assert "plugin lossy-plugin (unknown)" in lossy_line
    assert "  broken (broken-dist): ImportError: boom" in lines


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--no-such-option"])
    assert exc.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err


def test_no_command_prints_the_whole_help_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A missing command is a usage error, as argparse treats a missing
    # argument; the help names every command instead of one usage line.
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    help_text = captured.err
    assert help_text.startswith("usage: sockspec")
    for command in ("check", "backends"):
        assert any(line.split()[:1] == [command] for line in help_text.splitlines())
    assert "--version" in help_text
    assert "sockspec COMMAND -h" in help_text


def test_version_prints_the_package_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"sockspec {sockspec.__version__}\n"


def test_the_package_version_is_the_distribution_version() -> None:
    from importlib import metadata

    assert metadata.version("sockspec") == sockspec.__version__


def test_summary_line_uses_singular_for_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "stdlib", "-k", "api_surface"]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("1 check x 1 backend: 1 passed, 0 failed"), summary


# -- which backend, and a misspelt one ------------------------------------------


def test_backends_marks_the_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCKSPEC_BACKEND", raising=False)
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line.split()[0] for line in lines if "(default)" in line.split()]
    assert marked == ["stdlib"]
    assert "default backend: stdlib" in lines

    monkeypatch.setenv("SOCKSPEC_BACKEND", "memory")
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line.split()[0] for line in lines if "(default)" in line.split()]
    assert marked == ["memory"]
    assert "default backend: memory (from $SOCKSPEC_BACKEND)" in lines


def test_backends_with_names_shows_only_those(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["backends", "memory"]) == 0
    lines = capsys.readouterr().out.splitlines()
    named = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert named[0] == "memory"
    assert "stdlib" not in named
    assert "selectors" not in named
    assert lines[1].split()[0] == "capabilities:"


@pytest.mark.parametrize("command", ["check", "backends"])
def test_cli_suggests_the_backend_meant(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "memroy"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"sockspec {command}: unknown backend 'memroy'")
    assert "did you mean 'memory'?" in line
    assert "memory, selectors, stdlib" in line


@pytest.mark.parametrize("command", ["check", "backends"])
def test_cli_reports_a_misspelt_environment_in_one_line(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "memroy")
    assert main([command]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"sockspec {command}: $SOCKSPEC_BACKEND='memroy': ")
    assert "did you mean 'memory'?" in line


def test_misspelt_environment_gives_no_traceback_from_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sockspec", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SOCKSPEC_BACKEND": "memroy"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "did you mean 'memory'?" in line


@pytest.mark.parametrize(
    "choose",
    [
        lambda: sockspec.Socket(backend="memroy"),
        lambda: sockspec.get_backend("memroy"),
        lambda: sockspec.use_backend("memroy"),
    ],
    ids=["Socket", "get_backend", "use_backend"],
)
def test_library_suggests_the_backend_meant(choose: Callable[[], object]) -> None:
    with pytest.raises(sockspec.UnknownBackend) as info:
        choose()
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "unknown backend 'memroy' (did you mean 'memory'?)" in message
    assert "available backends: memory, selectors, stdlib" in message
    assert "\n" not in message


def test_misspelt_environment_suggests_the_backend_meant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "memroy:seed=1")
    with pytest.raises(sockspec.UnknownBackend) as info:
        sockspec.Socket()
    message = str(info.value)
    assert message.startswith("$SOCKSPEC_BACKEND='memroy:seed=1': ")
    assert "did you mean 'memory'?" in message


def test_no_suggestion_for_a_name_like_none() -> None:
    with pytest.raises(sockspec.UnknownBackend) as info:
        sockspec.get_backend("no-such-backend")
    assert "did you mean" not in str(info.value)


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
