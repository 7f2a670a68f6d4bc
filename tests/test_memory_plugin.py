"""The pytest plugin (memory_network, --memory-seed) and the registry's
``Backend.resolve()`` follow-through that makes "memory" the current network."""

from __future__ import annotations

import textwrap

import pytest

import sockspec
from _fresh import python_output
from sockspec import _registry
from sockspec.backends.memory import Network


def run_pytest(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Run pytest on *source* in a fresh interpreter."""
    pytester.makepyfile(test_app=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_failing_test_reports_the_seed(app_pytester: pytest.Pytester) -> None:
    result = run_pytest(
        app_pytester,
        """
        import pytest

        @pytest.mark.memory_network(seed=1234)
        def test_fails(memory_network):
            assert memory_network.seed == 1234
            assert False, "boom"

        def test_passes(memory_network):
            assert memory_network.now == 0.0
        """,
    )
    assert result.ret == 1, str(result.stdout) + str(result.stderr)
    assert "memory network" in str(result.stdout)
    assert "seed 1234; replay with --memory-seed=1234" in str(result.stdout)
    assert "1 failed, 1 passed" in str(result.stdout)


def test_memory_seed_option_replays(app_pytester: pytest.Pytester) -> None:
    result = run_pytest(
        app_pytester,
        """
        import sockspec

        def test_seed(memory_network):
            assert memory_network.seed == 99
            assert sockspec.get_backend("memory") is memory_network
            with sockspec.Socket() as sock:
                assert sock.backend == "memory"
        """,
        "--memory-seed=99",
    )
    assert result.ret == 0, str(result.stdout) + str(result.stderr)


def test_plugin_is_import_light() -> None:
    out = python_output(
        """
        import sys
        import sockspec.pytest_plugin
        from sockspec import _registry
        print("sockspec.backends.memory" in sys.modules, _registry.REGISTRY.loaded)
        """
    )
    assert out.split() == ["False", "False"]


def test_plugin_is_registered_through_pytest11() -> None:
    from importlib import metadata

    names = {ep.value for ep in metadata.entry_points(group="pytest11")}
    assert "sockspec.pytest_plugin" in names


def test_fixture_network_is_the_default_and_the_memory_name(
    memory_network: Network,
) -> None:
    assert sockspec.get_backend() is memory_network
    assert sockspec.get_backend("memory") is memory_network


def test_registry_follows_a_proxy_through_resolve() -> None:
    class Fixed(sockspec.Backend):
        name = "fixed"
        capabilities = sockspec.Capabilities()

        def socket(self, family, type):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def selector(self):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    target = Fixed()

    class Front(Fixed):
        def resolve(self) -> sockspec.Backend:
            return target

    assert _registry.resolve_backend(Front()) is target
    plain = Fixed()
    assert _registry.resolve_backend(plain) is plain
    with sockspec.use_backend(Front()) as chosen:
        assert chosen is target
        assert sockspec.get_backend() is target


def test_default_backend_env_memory_follows_installation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "memory")
    network = Network(seed=5)
    with sockspec.use_backend(network), sockspec.Socket() as sock:
        assert sock._backend is network
    with sockspec.Socket() as sock:
        assert sock._backend is sockspec.get_backend("memory")
        assert sock._backend is not network


def test_failing_test_reports_the_tail_of_the_event_log(
    app_pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        app_pytester,
        """
        import sockspec

        def test_fails(memory_network):
            with sockspec.Socket(type=sockspec.SOCK_DGRAM) as beat:
                for i in range(100):
                    beat.send_to("127.0.0.1", 9, b"x" * (i + 1))
            assert False, "boom"
        """,
    )
    assert result.ret == 1, str(result.stdout) + str(result.stderr)
    out = str(result.stdout)
    assert "last 20 of 101 events" in out
    assert "100B (nothing bound there)" in out  # the newest drop
    assert " 80B (" not in out  # older than the tail
    assert "close" in out
