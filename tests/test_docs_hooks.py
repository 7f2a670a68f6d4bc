"""The plugin-author documentation cannot drift from the hooks it describes.

Every hook in :mod:`sockspec.hookspecs` must appear in ``docs/plugins.md``
with its full signature (and nothing there may name a hook that does not
exist); the plugin code in the guide and in the hookspecs quickstart must
work as a plugin.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import sockspec
from sockspec import _registry, hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"


def hooks() -> dict[str, Callable[..., object]]:
    """Every hook specification, by name."""
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(function, "sockspec_spec", None) is not None
    }


def signature(function: Callable[..., object]) -> str:
    """``name(arg: type, ...) -> type`` as written in the source."""
    sig = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{function.__name__}({params}) -> {sig.return_annotation}"


def test_there_are_hooks_to_document() -> None:
    assert {"sockspec_add_backends", "sockspec_backend_created"} <= set(hooks())


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_and_its_signature_is_in_the_guide(name: str) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    expected = signature(hooks()[name])
    assert f"### `{expected}`" in text, f"docs/plugins.md lacks a heading `{expected}`"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_docstring_with_its_parameters(name: str) -> None:
    function = hooks()[name]
    doc = inspect.getdoc(function) or ""
    assert doc, f"{name} has no docstring"
    for param in inspect.signature(function).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param!r}"


def test_the_guide_names_no_hook_that_does_not_exist() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"\bsockspec_[a-z_]+(?=\()", text))
    assert named <= set(hooks()), f"unknown hooks in the guide: {named - set(hooks())}"


def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> _registry.Registry:
    monkeypatch.delenv(_registry.BACKEND_ENV, raising=False)
    monkeypatch.delenv(_registry.DISABLE_ENV, raising=False)
    registry = _registry.Registry()
    monkeypatch.setattr(_registry, "REGISTRY", registry)
    return registry


def _module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def guide_plugin() -> types.ModuleType:
    """The guide's complete minimal backend, as a plugin module."""
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"```python\n(\"\"\"sockspec_foo/plugin.py.*?)```", text, re.S)
    assert block is not None, "the guide's plugin module was not found"
    return _module("sockspec_foo_plugin", block.group(1))


def quickstart_plugin() -> types.ModuleType:
    """The plugin module of the hookspecs docstring's quickstart."""
    doc = hookspecs.__doc__ or ""
    block = re.search(r"\n( {7}from sockspec import .*?)\n\n3\. ", doc, re.S)
    assert block is not None, "the quickstart's plugin module was not found"
    return _module("quickstart_plugin", textwrap.dedent(block.group(1)))


def test_the_quickstart_plugin_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _fresh_registry(monkeypatch)
    registry.register_plugin(quickstart_plugin(), name="foo")
    with sockspec.Socket(backend="foo") as sock:
        sock.bind("127.0.0.1")
        assert sock.backend == "foo"
    assert "chose foo" in capsys.readouterr().out
    with pytest.raises(ValueError, match="backend 'foo': option 'fast' needs a value"):
        sockspec.get_backend("foo:fast")
    assert sockspec.get_backend("foo:inner=selectors").inner.name == "selectors"


def test_the_guide_and_the_quickstart_show_the_same_entry_point() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for line in (
        '[project.entry-points."sockspec.backends"]',
        'foo = "sockspec_foo.plugin"',
    ):
        assert line in guide
        assert line in (hookspecs.__doc__ or "")


def test_the_guides_backend_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _fresh_registry(monkeypatch)
    registry.register_plugin(guide_plugin(), name="foo")
    monkeypatch.setenv("SOCKSPEC_BACKEND", "foo")
    with sockspec.Socket(type=sockspec.SOCK_DGRAM, timeout=5.0) as sock:
        sock.bind("127.0.0.1")
        sock.send_to("127.0.0.1", sock.local_port, b"ping")
        assert sock.receive_from().data == b"ping"
        assert sock.backend == "foo"
    assert [i.summary for i in sockspec.backend_info() if i.name == "foo"] == [
        "blocking OS sockets, the short way"
    ]


def test_the_guides_backend_passes_the_conformance_suite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conformance = pytest.importorskip("sockspec.conformance")
    registry = _fresh_registry(monkeypatch)
    registry.register_plugin(guide_plugin(), name="foo")
    results = conformance.run(
        on=[conformance.Target("foo", "foo"), conformance.Target("foo", "stdlib")]
    )
    failures = [f"{r.target} {r.check}: {r.message}" for r in results if r.failed]
    assert not failures, "\n".join(failures)
    assert sum(r.passed for r in results) > sum(r.skipped for r in results)
    unix = [r for r in results if r.check.endswith("_unix")]
    assert unix
    assert all(r.skipped and "AF_UNIX" in r.message for r in unix)
