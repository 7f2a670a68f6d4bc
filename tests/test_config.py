"""Choosing a backend: precedence, options, errors, and the pytest option."""

from __future__ import annotations

import threading

import pytest

import sockspec
from _fresh import python_output
from sockspec import _registry
from sockspec.backends.stdlib import StdlibBackend


class Named(StdlibBackend):
    """Stdlib sockets under another name, remembering its options."""

    def __init__(self, name: str, options: str | None) -> None:
        self.name = name
        self.options = options


class Plugin:
    """Offers ``alpha``, ``beta`` and ``gamma``, all stdlib underneath."""

    @sockspec.hookimpl
    def sockspec_add_backends(self) -> list[sockspec.BackendSpec]:
        return [
            sockspec.BackendSpec(n, lambda o, n=n: Named(n, o), f"the {n} backend")
            for n in ("alpha", "beta", "gamma")
        ]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> _registry.Registry:
    """A fresh process-wide registry with the ``Plugin`` backends added."""
    monkeypatch.delenv(_registry.BACKEND_ENV, raising=False)
    monkeypatch.delenv(_registry.DISABLE_ENV, raising=False)
    fresh = _registry.Registry()
    monkeypatch.setattr(_registry, "REGISTRY", fresh)
    fresh.register_plugin(Plugin(), name="greek")
    return fresh


def default_name() -> str:
    with sockspec.Socket() as sock:
        return sock.backend


# -- precedence -------------------------------------------------------------------


def test_default_is_stdlib(registry: _registry.Registry) -> None:
    assert default_name() == "stdlib"
    assert sockspec.get_backend().name == "stdlib"


def test_precedence_argument_use_backend_environment_default(
    registry: _registry.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "gamma")
    assert default_name() == "gamma"
    with sockspec.use_backend("beta"):
        assert default_name() == "beta"
        with sockspec.Socket(backend="alpha") as sock:
            assert sock.backend == "alpha"
        with sockspec.Poller() as poller:
            assert poller.backend == "beta"
    assert default_name() == "gamma"
    monkeypatch.delenv("SOCKSPEC_BACKEND")
    assert default_name() == "stdlib"


def test_environment_takes_options(
    registry: _registry.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", " alpha:fast,quiet ")
    backend = sockspec.get_backend()
    assert isinstance(backend, Named)
    assert (backend.name, backend.options) == ("alpha", "fast,quiet")
    assert sockspec.get_backend() is backend  # made once


def test_empty_environment_variable_means_default(
    registry: _registry.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "  ")
    assert default_name() == "stdlib"


def test_use_backend_takes_options_and_objects(registry: _registry.Registry) -> None:
    with sockspec.use_backend("beta:x") as backend:
        assert isinstance(backend, Named)
        assert backend.options == "x"
        assert sockspec.get_backend() is backend
    mine = Named("mine", None)
    with sockspec.use_backend(mine) as backend:
        assert backend is mine
        assert default_name() == "mine"


def test_use_backend_nests_and_restores_out_of_order(
    registry: _registry.Registry,
) -> None:
    outer = sockspec.use_backend("alpha")
    outer.start()
    inner = sockspec.use_backend("beta")
    assert default_name() == "alpha"  # made, not yet in force
    inner.start()
    assert default_name() == "beta"
    outer.restore()
    assert default_name() == "beta"
    inner.restore()
    inner.restore()  # idempotent
    assert default_name() == "stdlib"


def test_use_backend_without_with_warns_when_never_started(
    registry: _registry.Registry,
) -> None:
    with pytest.warns(RuntimeWarning, match="never put in force"):
        sockspec.use_backend("alpha")  # a forgotten 'with'; freed at once
    assert default_name() == "stdlib"
    choice = sockspec.use_backend("beta")
    with choice, pytest.raises(RuntimeError, match="already in force"):
        choice.start()


def test_use_backend_applies_to_every_thread(registry: _registry.Registry) -> None:
    seen: list[str] = []
    with sockspec.use_backend("gamma"):
        worker = threading.Thread(target=lambda: seen.append(default_name()))
        worker.start()
        worker.join(timeout=10)
    assert seen == ["gamma"]


def test_changing_the_environment_is_seen(
    registry: _registry.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "alpha")
    assert default_name() == "alpha"
    monkeypatch.setenv("SOCKSPEC_BACKEND", "beta")
    assert default_name() == "beta"


# -- errors -------------------------------------------------------------------------


def test_unknown_name_lists_the_available_ones(registry: _registry.Registry) -> None:
    with pytest.raises(sockspec.UnknownBackend) as info:
        sockspec.Socket(backend="delta")
    message = str(info.value)
    assert "'delta'" in message
    assert "alpha, beta, gamma" in message
    assert "stdlib" in message


def test_unknown_name_in_the_environment_says_where_it_came_from(
    registry: _registry.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "delta:x")
    with pytest.raises(sockspec.UnknownBackend, match=r"SOCKSPEC_BACKEND='delta:x'"):
        sockspec.Socket()
    with pytest.raises(sockspec.UnknownBackend, match="alpha, beta, gamma"):
        sockspec.get_backend()


def test_use_backend_refuses_unknown_names_at_once(
    registry: _registry.Registry,
) -> None:
    with pytest.raises(sockspec.UnknownBackend, match="available backends"):
        sockspec.use_backend("delta")
    assert default_name() == "stdlib"  # nothing was pushed


@pytest.mark.parametrize("bad", [3, b"stdlib", object()])
def test_backend_of_the_wrong_type_is_a_type_error(
    registry: _registry.Registry, bad: object
) -> None:
    with pytest.raises(TypeError, match="backend"):
        sockspec.Socket(backend=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backend"):
        sockspec.use_backend(bad)  # type: ignore[arg-type]


def test_bad_options_fail_when_chosen(registry: _registry.Registry) -> None:
    with pytest.raises(ValueError, match="takes no options"):
        sockspec.Socket(backend="stdlib:turbo")


def test_backend_info_lists_origin_and_summary(registry: _registry.Registry) -> None:
    infos = {info.name: info for info in sockspec.backend_info()}
    assert infos["alpha"].summary == "the alpha backend"
    assert infos["alpha"].plugin == "greek"
    assert infos["stdlib"].distribution == "sockspec"


# -- the pytest option ---------------------------------------------------------------

APP_TESTS = """
import sockspec

def test_sockets_use_the_chosen_backend():
    with sockspec.Socket() as sock:
        assert sock.backend == {expected!r}

def test_explicit_argument_still_wins():
    with sockspec.Socket(backend="stdlib") as sock:
        assert sock.backend == "stdlib"
"""


def run_pytest(
    pytester: pytest.Pytester, *args: str, expected: str, ini: str = ""
) -> pytest.RunResult:
    """Run pytest on a small application suite in a fresh interpreter."""
    pytester.makepyfile(test_app=APP_TESTS.format(expected=expected))
    pytester.makeini(f"[pytest]\n{ini}\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOCKSPEC_BACKEND", "no-such-backend")  # the option must beat it
        return pytester.runpytest_subprocess(
            "-p",
            "sockspec._pytest_backend",
            "-p",
            "no:cacheprovider",
            *args,
            timeout=120,
        )


def test_pytest_option_runs_the_whole_suite_on_a_backend(
    app_pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        app_pytester, "--sockspec-backend", "selectors", expected="selectors"
    )
    assert result.ret == 0, str(result.stdout) + str(result.stderr)
    assert "sockspec backend: selectors" in str(result.stdout)
    assert "2 passed" in str(result.stdout)


def test_pytest_ini_setting_chooses_the_backend(app_pytester: pytest.Pytester) -> None:
    result = run_pytest(
        app_pytester, expected="selectors", ini="sockspec_backend = selectors"
    )
    assert result.ret == 0, str(result.stdout) + str(result.stderr)


def test_pytest_option_with_unknown_name_is_a_usage_error(
    app_pytester: pytest.Pytester,
) -> None:
    result = run_pytest(app_pytester, "--sockspec-backend", "nope", expected="nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown backend 'nope'" in str(result.stderr)
    assert "stdlib" in str(result.stderr)


def test_pytest_option_is_inert_when_not_given() -> None:
    out = python_output(
        """
        import sockspec._pytest_backend
        from sockspec import _registry
        print(_registry.REGISTRY.loaded)
        """
    )
    assert out.strip() == "False"
