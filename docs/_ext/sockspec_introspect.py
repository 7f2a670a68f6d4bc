"""What the documentation generates from the installed sockspec package.

Pure Python with no Sphinx import, so the tests (which run without Sphinx)
use the same functions as the Sphinx extension in ``sockspec_docs.py``:
whatever the docs show is computed here from the code, and whatever the tests
check is checked against the same computation.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import errno
import importlib
import inspect
import socket
from pathlib import Path
from typing import Any

import sockspec
import sockspec.errors

__all__ = [
    "ErrorRow",
    "data_doc",
    "defining_module",
    "error_rows",
    "is_data",
    "own_docstring",
    "public_members",
]

#: Built-in exceptions too general to be worth naming as a parent.
_GENERIC = (object, BaseException, Exception, OSError)


def defining_module(name: str) -> str:
    """Return the module that ``sockspec/__init__.py`` imports *name* from.

    Found by reading the ``from ... import`` statements, so it works for
    values that carry no ``__module__`` (constants, marker objects).
    """
    source = Path(sockspec.__file__).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module is not None
            and any(alias.name == name for alias in node.names)
        ):
            base = "sockspec" if node.level == 1 else ""
            return f"{base}.{node.module}" if base else node.module
    raise LookupError(f"sockspec/__init__.py does not import {name!r}")


def data_doc(name: str) -> str:
    """Return the ``#:`` doc comment of the public value *name* (or ``""``).

    Values (constants, the ``hookimpl`` marker) have no docstring of their
    own; Sphinx's convention is a ``#:`` comment on the lines above the
    assignment, read here from the module that defines the value.  (Plain
    :mod:`ast`, not Sphinx's analyser: the tests run without Sphinx.)
    """
    module = importlib.import_module(defining_module(name))
    lines = Path(inspect.getfile(module)).read_text(encoding="utf-8").splitlines()
    for node in ast.parse("\n".join(lines)).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                doc: list[str] = []
                i = node.lineno - 2
                while i >= 0 and lines[i].lstrip().startswith("#:"):
                    doc.insert(0, lines[i].lstrip()[2:].strip())
                    i -= 1
                return " ".join(doc).strip()
    return ""


def is_data(obj: object) -> bool:
    """Whether a public object is a value, documented by a ``#:`` comment."""
    return not (inspect.isclass(obj) or inspect.isroutine(obj))


def own_docstring(obj: object) -> str:
    """Return the docstring written for *obj* itself, not one it inherits.

    A dataclass without a docstring gets a generated ``Name(field, ...)``
    one; that does not count.
    """
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str):
        return ""
    if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return inspect.cleandoc(doc)


def public_members(cls: type) -> dict[str, Any]:
    """Return the public methods and properties *cls* defines itself.

    Aliases (a second name for the same object, like the spec's camelCase
    names) and enum members are left out: they are documented through the
    name they alias.
    """
    members: dict[str, Any] = {}
    seen: set[int] = set()
    for name, value in vars(cls).items():
        if name.startswith("_") or isinstance(value, enum.Enum):
            continue
        if not (inspect.isfunction(value) or isinstance(value, property)):
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        members[name] = value
    return members


@dataclasses.dataclass(frozen=True)
class ErrorRow:
    """One line of the error table."""

    #: The class name, as exported by :mod:`sockspec.errors`.
    name: str
    #: Built-in exception classes it also is, most specific first.
    builtin_parents: tuple[str, ...]
    #: Symbolic name of the errno it carries by default, or ``""``.
    errno_name: str
    #: The first line of its docstring.
    summary: str


def _errno_name(code: int | None) -> str:
    if code is None:
        return ""
    # Some codes have two names (EAGAIN and EWOULDBLOCK on Linux): show both.
    names = sorted(
        name
        for name in dir(errno)
        if name.startswith("E") and getattr(errno, name) == code
    )
    if names:
        return " / ".join(names)
    for name in dir(socket):  # resolver codes (EAI_*) live in socket
        if name.startswith("EAI_") and getattr(socket, name) == code:
            return name
    return str(code)


def error_rows() -> list[ErrorRow]:
    """Return the error hierarchy of :mod:`sockspec.errors`, base class first."""
    rows = []
    for name in sockspec.errors.__all__:
        cls = getattr(sockspec.errors, name)
        if not (inspect.isclass(cls) and issubclass(cls, sockspec.SocketError)):
            continue
        parents = tuple(
            base.__name__
            for base in cls.__mro__
            if base.__module__ == "builtins" and base not in _GENERIC
        )
        summary = own_docstring(cls).split("\n", 1)[0]
        rows.append(ErrorRow(name, parents, _errno_name(cls.default_errno), summary))
    rows.sort(key=lambda row: (row.name != "SocketError", row.name))
    return rows
