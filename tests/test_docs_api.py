"""Every public name has a docstring and a place in the API reference.

The reference (``docs/reference.rst``) is written as autodoc directives, one
per public name, grouped by topic; these tests keep it complete as names are
added, and keep the docstrings it is generated from present.  They read the
same introspection helpers the Sphinx extension uses (``docs/_ext``), without
needing Sphinx.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import sockspec
import sockspec.hookspecs

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.rst"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import sockspec_introspect as intro  # noqa: E402 - needs the path above

_DIRECTIVE = re.compile(
    r"^\.\. (?P<kind>auto\w+|sockspec-data|module|currentmodule)::"
    r"(?P<args>.*(?:\n   (?!:)\S.*)*)",
    re.M,
)


def documented_objects() -> set[str]:
    """Dotted names of what the reference documents (``sockspec.Socket``...).

    Follows ``module``/``currentmodule`` directives the way Sphinx does: a
    name written without a module belongs to the current one.
    """
    text = REFERENCE.read_text(encoding="utf-8")
    module = ""
    found: set[str] = set()
    for match in _DIRECTIVE.finditer(text):
        kind, args = match["kind"], match["args"].split()
        if kind in ("module", "currentmodule"):
            module = args[0]
        elif kind == "sockspec-data":
            found.update(f"sockspec.{name}" for name in args)
        elif args:
            name = args[0]
            found.add(name if name.startswith("sockspec.") else f"{module}.{name}")
    return found


def documented_names() -> set[str]:
    """The names of ``sockspec`` itself that the reference documents."""
    return {
        name.removeprefix("sockspec.")
        for name in documented_objects()
        if name.count(".") == 1
    }


PUBLIC = sorted(sockspec.__all__)
CLASSES = [
    name
    for name in PUBLIC
    if inspect.isclass(getattr(sockspec, name))
    and getattr(sockspec, name).__module__.startswith("sockspec")
]
HOOKS = sorted(
    name for name in vars(sockspec.hookspecs) if name.startswith("sockspec_")
)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(sockspec, name)
    if intro.is_data(obj):
        doc = intro.data_doc(name)
        where = f"a '#:' comment above it in {intro.defining_module(name)}"
    else:
        doc = intro.own_docstring(obj)
        where = "a docstring"
    assert doc.strip(), f"sockspec.{name} needs {where}"


@pytest.mark.parametrize("name", CLASSES)
def test_public_methods_and_properties_have_docstrings(name: str) -> None:
    cls = getattr(sockspec, name)
    missing = [
        member
        for member, value in intro.public_members(cls).items()
        if not inspect.getdoc(value.fget if isinstance(value, property) else value)
    ]
    assert not missing, f"sockspec.{name} members without a docstring: {missing}"


def test_every_public_name_is_in_the_reference() -> None:
    missing = sorted(set(PUBLIC) - documented_names())
    assert not missing, f"add these to docs/reference.rst: {missing}"


def test_every_hook_is_in_the_reference() -> None:
    documented = documented_objects()
    missing = [h for h in HOOKS if f"sockspec.hookspecs.{h}" not in documented]
    assert HOOKS, "no hook specifications found"
    assert not missing, f"add these hooks to docs/reference.rst: {missing}"


def test_reference_documents_only_what_exists() -> None:
    for dotted in documented_objects():
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), (
            f"docs/reference.rst documents {dotted}, which does not exist"
        )


def test_reference_reader_sees_continuation_lines() -> None:
    # The constants directive spans two lines; both must count.
    assert {"SO_REUSEADDR", "IPV6_V6ONLY", "hookimpl"} <= documented_names()
    # Names written inside a module directive belong to that module.
    assert "sockspec.conformance.run" in documented_objects()
    assert "sockspec.errors.from_os_error" in documented_objects()
