"""Plugin loading: entry points, broken plugins, conflicts, blocking, laziness.

Each test installs fake distributions (a ``.dist-info`` folder with an
``entry_points.txt`` and the plugin module) into a temporary folder on
``sys.path`` and loads them with a fresh :class:`Registry`, so the real
entry-point machinery is exercised without touching the environment.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import sockspec
from _fresh import python_output
from sockspec import _registry
from sockspec._registry import Registry

_ids = itertools.count()

PLUGIN = """
import sockspec
from sockspec.backends.stdlib import StdlibBackend

CALLS = []

class Backend(StdlibBackend):
    def __init__(self, name, options):
        self.name = name
        self.options = options

@sockspec.hookimpl
def sockspec_add_backends():
    CALLS.append(1)
    return [
        sockspec.BackendSpec(name, lambda options, name=name: Backend(name, options))
        for name in {names!r}
    ]
"""

Install = Callable[..., str]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Install:
    """Return ``install(dist, plugin, source=..., backends=...)``.

    It writes a distribution *dist* whose entry point *plugin* names a new
    module holding *source* (by default a plugin offering *backends*), and
    returns the module's name.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(_registry.DISABLE_ENV, raising=False)

    def install(
        dist: str,
        plugin: str,
        source: str | None = None,
        backends: tuple[str, ...] = (),
        where: Path = site,
    ) -> str:
        module = f"fake_sockspec_plugin_{next(_ids)}"
        code = PLUGIN.format(names=list(backends)) if source is None else source
        (where / f"{module}.py").write_text(textwrap.dedent(code))
        info = where / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n"
        )
        entries = info / "entry_points.txt"
        old = entries.read_text() if entries.exists() else "[sockspec.backends]\n"
        entries.write_text(f"{old}{plugin} = {module}\n")
        monkeypatch.delitem(sys.modules, module, raising=False)
        return module

    return install


# -- laziness and idempotence ---------------------------------------------------


def test_importing_sockspec_scans_no_entry_points() -> None:
    out = python_output(
        """
        import importlib.metadata as md
        calls = []
        real = md.entry_points
        md.entry_points = lambda *a, **k: calls.append(1) or real(*a, **k)
        import sockspec
        from sockspec import _registry
        print(len(calls), _registry.REGISTRY.loaded)
        sockspec.available_backends()
        print(len(calls) > 0, _registry.REGISTRY.loaded)
        """
    ).split("\n")
    assert out[0] == "0 False"  # import alone: nothing scanned
    assert out[1] == "True True"  # the probe does see a scan when one happens


def test_loading_happens_once_even_from_many_threads(install: Install) -> None:
    module = install("fake-once", "once", backends=("once",))
    registry = Registry()
    barrier = threading.Barrier(8)

    def choose() -> None:
        barrier.wait(timeout=10)
        registry.get("once")

    threads = [threading.Thread(target=choose) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    registry.load()
    registry.names()
    assert sys.modules[module].CALLS == [1]
    assert registry.get("once") is registry.get("once")
    assert not registry.problems()


def test_backend_is_made_once_per_option_string(install: Install) -> None:
    install("fake-opts", "opts", backends=("opts",))
    registry = Registry()
    plain = registry.get("opts")
    fast = registry.get("opts:fast")
    assert plain is registry.get("opts")
    assert fast is registry.get("opts:fast")
    assert plain is not fast
    assert (plain.options, fast.options) == (None, "fast")  # type: ignore[attr-defined]


def test_entry_point_plugins_are_listed_with_their_distribution(
    install: Install,
) -> None:
    install("fake-listed", "listed", backends=("alpha", "beta"))
    registry = Registry()
    infos = {i.name: i for i in registry.info()}
    assert infos["alpha"].plugin == "listed"
    assert infos["alpha"].distribution == "fake-listed"
    assert infos["stdlib"].distribution == "sockspec"
    assert {"alpha", "beta", "stdlib"} <= set(registry.names())


# -- broken plugins -------------------------------------------------------------


BROKEN = {
    "import": ("raise ImportError('no module named missing_dep')", "ImportError"),
    "syntax": ("def broken(:\n", "SyntaxError"),
    "hook raises": (
        """
        import sockspec
        @sockspec.hookimpl
        def sockspec_add_backends():
            raise RuntimeError("cannot start")
        """,
        "RuntimeError: cannot start",
    ),
    "hook returns nonsense": (
        """
        import sockspec
        @sockspec.hookimpl
        def sockspec_add_backends():
            return "stdlib"
        """,
        "TypeError",
    ),
    "bad backend name": (
        """
        import sockspec
        from sockspec.backends.stdlib import StdlibBackend
        @sockspec.hookimpl
        def sockspec_add_backends():
            return [sockspec.BackendSpec("a:b", lambda o: StdlibBackend())]
        """,
        "invalid backend name 'a:b'",
    ),
    "misspelt hook": (
        """
        import sockspec
        @sockspec.hookimpl
        def sockspec_add_backend():
            return []
        """,
        "(did you mean 'sockspec_add_backends'?)",
    ),
    "wrong hook signature": (
        """
        import sockspec
        @sockspec.hookimpl
        def sockspec_backend_created(backend, flavour):
            pass
        """,
        "flavour",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_plugin_is_reported_and_the_others_work(
    install: Install, case: str
) -> None:
    source, error = BROKEN[case]
    install("fake-broken", "broken", source=source)
    install("fake-good", "good", backends=("good",))
    registry = Registry()
    with pytest.warns(RuntimeWarning, match=r"plugin broken \(from fake-broken\)"):
        registry.load()
    [problem] = registry.problems()
    assert (problem.plugin, problem.distribution) == ("broken", "fake-broken")
    assert error in problem.error
    assert registry.plugin_manager.get_plugin("broken") is None
    assert {"good", "stdlib"} <= set(registry.names())
    registry.get("good")
    with pytest.raises(sockspec.UnknownBackend, match="failed to load"):
        registry.get("broken")


def test_problem_warning_points_at_the_caller(install: Install) -> None:
    install("fake-broken", "broken", source="raise ImportError('nope')")
    registry = Registry()
    with pytest.warns(RuntimeWarning) as caught:
        registry.names()
    assert caught[0].filename == __file__


def test_plugin_using_the_registry_while_loading_is_reported(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    install("fake-eager", "eager", source="import sockspec\nsockspec.get_backend()\n")
    registry = Registry()
    monkeypatch.setattr(_registry, "REGISTRY", registry)
    with pytest.warns(RuntimeWarning, match="while the plugins were loading"):
        registry.load()
    assert [p.plugin for p in registry.problems()] == ["eager"]
    assert "stdlib" in registry.names()


# -- conflicts ----------------------------------------------------------------------


def test_two_plugins_claiming_one_backend_name_is_an_error_naming_both(
    install: Install,
) -> None:
    install("fake-one", "one", backends=("dup", "only-one"))
    install("fake-two", "two", backends=("dup",))
    registry = Registry()
    with pytest.warns(RuntimeWarning, match="'dup'"):
        registry.load()
    with pytest.raises(sockspec.UnknownBackend) as info:
        registry.get("dup")
    message = str(info.value)
    for word in ("'dup'", "'one'", "fake-one", "'two'", "fake-two"):
        assert word in message
    assert "dup" not in registry.names()
    assert "only-one" in registry.names()
    assert any("fake-one" in p.error for p in registry.problems())


def test_a_plugin_may_not_take_a_builtin_backend_name(install: Install) -> None:
    install("fake-usurper", "usurper", backends=("stdlib",))
    registry = Registry()
    with pytest.warns(RuntimeWarning):
        registry.load()
    with pytest.raises(sockspec.UnknownBackend, match="usurper"):
        registry.get("stdlib")


def test_one_plugin_name_in_two_distributions_loads_neither(
    install: Install,
) -> None:
    install("fake-first", "same", backends=("first",))
    install("fake-second", "same", backends=("second",))
    registry = Registry()
    with pytest.warns(RuntimeWarning, match="more than one distribution"):
        registry.load()
    [problem] = registry.problems()
    assert "fake-first" in problem.error
    assert "fake-second" in problem.error
    assert not {"first", "second"} & set(registry.names())


def test_one_distribution_seen_twice_counts_once(
    install: Install, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install("fake-twice", "twice", backends=("twice",))
    copy = tmp_path / "copy"
    copy.mkdir()
    monkeypatch.syspath_prepend(str(copy))
    install("fake_twice", "twice", backends=("twice",), where=copy)
    registry = Registry()
    assert "twice" in registry.names()
    assert registry.problems() == []


# -- blocking ---------------------------------------------------------------------


def test_disabled_plugins_are_never_imported(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = install("fake-bomb", "bomb", source="raise SystemExit('imported!')")
    install("fake-kept", "kept", backends=("kept",))
    monkeypatch.setenv(_registry.DISABLE_ENV, " bomb , other")
    registry = Registry()
    assert "kept" in registry.names()
    assert bomb not in sys.modules
    assert registry.problems() == []
    assert registry.disabled() == ["bomb"]
    with pytest.raises(sockspec.UnknownBackend, match="disabled"):
        registry.get("bomb")


def test_builtin_plugins_can_be_disabled_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_registry.DISABLE_ENV, "stdlib")
    registry = Registry()
    assert "stdlib" not in registry.names()
    with pytest.raises(sockspec.UnknownBackend, match="SOCKSPEC_DISABLE_PLUGINS"):
        registry.default()


# -- run-time registration --------------------------------------------------------


class _RuntimePlugin:
    def __init__(self, *names: str) -> None:
        self.names = names
        self.created: list[tuple[str, str | None]] = []

    @sockspec.hookimpl
    def sockspec_add_backends(self) -> list[sockspec.BackendSpec]:
        from sockspec.backends.stdlib import StdlibBackend

        return [sockspec.BackendSpec(n, lambda o: StdlibBackend()) for n in self.names]

    @sockspec.hookimpl
    def sockspec_backend_created(
        self, backend: sockspec.Backend, options: str | None
    ) -> None:
        self.created.append((backend.name, options))


def test_register_plugin_adds_its_backends_and_unregister_removes_them() -> None:
    registry = Registry()
    plugin = _RuntimePlugin("runtime")
    registry.register_plugin(plugin, name="rt")
    assert "runtime" in registry.names()
    registry.get("runtime:x")
    registry.get("runtime:x")
    assert ("stdlib", "x") in plugin.created
    assert plugin.created.count(("stdlib", "x")) == 1  # once per choice
    registry.unregister_plugin("rt")
    assert "runtime" not in registry.names()
    with pytest.raises(sockspec.UnknownBackend):
        registry.get("runtime:x")


def test_register_plugin_refuses_a_taken_name() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="already provided by plugin 'stdlib'"):
        registry.register_plugin(_RuntimePlugin("stdlib"), name="dup")
    assert registry.plugin_manager.get_plugin("dup") is None


def test_factory_returning_a_non_backend_is_a_clear_error() -> None:
    registry = Registry()

    class Plugin:
        @sockspec.hookimpl
        def sockspec_add_backends(self) -> list[sockspec.BackendSpec]:
            return [sockspec.BackendSpec("odd", lambda o: object())]  # type: ignore[arg-type,return-value]

    registry.register_plugin(Plugin(), name="odd")
    with pytest.raises(TypeError, match=r"'odd'.*not a sockspec.Backend"):
        registry.get("odd")


# -- the command line -----------------------------------------------------------------


def test_sockspec_backends_reports_broken_plugins(install: Install) -> None:
    install("fake-broken", "broken", source="raise ImportError('missing_dep')")
    install("fake-good", "good", backends=("good",))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop(_registry.DISABLE_ENV, None)
    result = subprocess.run(
        [sys.executable, "-m", "sockspec", "backends"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    out = result.stdout + result.stderr
    assert "good" in out
    assert "broken" in out
    assert "fake-broken" in out
    assert "missing_dep" in out
