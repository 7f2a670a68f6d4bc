"""Every public name has a docstring and a place in the API reference.

The reference (``docs/reference.rst``) is written as autodoc directives, one
per public name, grouped by topic; these tests keep it complete as names are
added, and keep the docstrings it is generated from present.  They read the
same introspection helpers the Sphinx extension uses (``docs/_ext``), without
needing Sphinx.
"""

from __future__ import annotations

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
    r"^\.\. (?P<kind>auto\w+|sockspec-data)::(?P<args>.*(?:\n   (?!:)\S.*)*)",
    re.M,
)


def documented_names() -> set[str]:
    """Names the reference documents, as written after its directives."""
    text = REFERENCE.read_text(encoding="utf-8")
    names: set[str] = set()
    for match in _DIRECTIVE.finditer(text):
        args = match["args"].split()
        if match["kind"] == "sockspec-data":
            names.update(args)
        elif args:
            names.add(args[0].removeprefix("sockspec."))
    return names


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
    documented = documented_names()
    missing = [hook for hook in HOOKS if f"hookspecs.{hook}" not in documented]
    assert HOOKS, "no hook specifications found"
    assert not missing, f"add these hooks to docs/reference.rst: {missing}"


def test_reference_documents_only_what_exists() -> None:
    for name in documented_names():
        target: object = sockspec
        for part in name.split("."):
            assert hasattr(target, part), f"docs/reference.rst names {name!r}"
            target = getattr(target, part)


def test_reference_reader_sees_continuation_lines() -> None:
    # The constants directive spans two lines; both must count.
    assert {"SO_REUSEADDR", "IPV6_V6ONLY", "hookimpl"} <= documented_names()
