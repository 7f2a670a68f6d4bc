"""Sphinx directives that write documentation from the sockspec code itself.

Each directive computes its content from the installed package when the docs
are built, so the pages cannot drift from the code:

``sockspec-data NAME...``
    A ``py:data`` entry for each public value (constants, ``hookimpl``),
    with the ``#:`` doc comment written above it in the source.
``sockspec-errors``
    The table of :mod:`sockspec.errors`: each class, the built-in exceptions
    it also is, the errno it carries and its summary.
``sockspec-spec-aliases``
    The Sockets/A names and the PEP 8 names they alias.
``sockspec-conformance-matrix``
    Every conformance check against every built-in backend, run at build
    time (see :mod:`sockspec_matrix`).

They emit reStructuredText, so they are used in ``.rst`` pages or inside a
MyST ``{eval-rst}`` block.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import sockspec_introspect as intro
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

import sockspec

__all__ = ["setup"]


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _list_table(header: list[str], rows: list[list[str]], widths: str = "auto") -> str:
    """Return a reStructuredText list-table; cells are inline markup."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first or ' '}")
        lines.extend(f"     - {cell or ' '}" for cell in rest)
    return "\n".join(lines) + "\n"


def _public_name(kind: type) -> str:
    """The name a reader imports *kind* by: ``sockspec.Family``, not its module."""
    if getattr(sockspec, kind.__name__, None) is kind:
        return f"sockspec.{kind.__name__}"
    top = kind.__module__.split(".")[0]
    if getattr(__import__(top), kind.__name__, None) is kind:
        return f"{top}.{kind.__name__}"
    return f"{kind.__module__}.{kind.__qualname__}"


class _GeneratedRST(SphinxDirective):
    """A directive whose body is reStructuredText computed at build time."""

    def rst(self) -> str:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        return self.parse_text_to_nodes(self.rst())


class DataDirective(_GeneratedRST):
    """``py:data`` entries for public values, from their ``#:`` comments."""

    required_arguments = 1
    final_argument_whitespace = True

    def rst(self) -> str:
        parts = []
        for name in self.arguments[0].split():
            value = getattr(sockspec, name)
            doc = intro.data_doc(name)
            if not doc:
                raise self.error(
                    f"sockspec.{name} has no '#:' doc comment in "
                    f"{intro.defining_module(name)}"
                )
            parts.append(
                f".. py:data:: {name}\n"
                f"   :type: {_public_name(type(value))}\n\n"
                f"{_indent(doc)}\n"
            )
        return "\n".join(parts)


class ErrorsDirective(_GeneratedRST):
    """The error table of :mod:`sockspec.errors`."""

    def rst(self) -> str:
        rows = []
        for row in intro.error_rows():
            parents = ", ".join(f"``{name}``" for name in row.builtin_parents)
            rows.append(
                [
                    f":exc:`~sockspec.{row.name}`",
                    parents or "(``OSError`` only)",
                    f"``{row.errno_name}``" if row.errno_name else "",
                    row.summary,
                ]
            )
        return _list_table(
            ["sockspec error", "also a built-in", "errno", "raised when"],
            rows,
            widths="22 30 18 40",
        )


class SpecAliasesDirective(_GeneratedRST):
    """The spec's camelCase names and the Python names they alias."""

    def rst(self) -> str:
        from sockspec.api import SPEC_ALIASES

        rows = []
        for spec_name, name in SPEC_ALIASES.items():
            obj: Any = inspect.getattr_static(sockspec.Socket, name)
            role = "attr" if isinstance(obj, property) else "meth"
            rows.append([f"``{spec_name}``", f":{role}:`~sockspec.Socket.{name}`"])
        return _list_table(["Sockets/A name", "is an alias of"], rows)


class ConformanceMatrixDirective(_GeneratedRST):
    """Every conformance check against every built-in backend."""

    has_content = False
    cache: ClassVar[str | None] = None

    def rst(self) -> str:
        import sockspec_matrix

        if ConformanceMatrixDirective.cache is None:
            ConformanceMatrixDirective.cache = sockspec_matrix.matrix_rst()
        return ConformanceMatrixDirective.cache


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives with Sphinx."""
    app.add_directive("sockspec-data", DataDirective)
    app.add_directive("sockspec-errors", ErrorsDirective)
    app.add_directive("sockspec-spec-aliases", SpecAliasesDirective)
    app.add_directive("sockspec-conformance-matrix", ConformanceMatrixDirective)
    return {"version": sockspec.__version__, "parallel_read_safe": True}
