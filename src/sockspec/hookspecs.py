"""The pluggy hook specifications of sockspec.

A backend plugin is a module (or any object) with functions marked
``@sockspec.hookimpl`` whose names match the hooks below, registered under
the entry-point group ``sockspec.backends``::

    [project.entry-points."sockspec.backends"]
    foo = "sockspec_foo.plugin"

Hooks run when a backend is first chosen, never when a socket sends or
receives: the registry asks ``sockspec_add_backends`` once, calls the
factory of the chosen backend once per option string and keeps the object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .api.backend import Backend, BackendSpec

#: Marks the functions of this module as hook specifications.
hookspec = pluggy.HookspecMarker("sockspec")
#: Marks a plugin's function as the implementation of a sockspec hook.
hookimpl = pluggy.HookimplMarker("sockspec")


# -- discovery ----------------------------------------------------------------


@hookspec
def sockspec_add_backends() -> Sequence[BackendSpec]:  # type: ignore[empty-body]
    """Declare the backends this plugin provides.

    Called once, when the registry first loads the plugins.  Return a
    sequence of :class:`~sockspec.BackendSpec`; an empty one is fine.  Two
    plugins declaring the same name is an error that names both.
    The results of all plugins are collected (not firstresult).
    """


# -- life cycle -----------------------------------------------------------------


@hookspec
def sockspec_backend_created(backend: Backend, options: str | None) -> None:
    """Observe a backend object just made by its factory.

    Called once per backend name and option string, before the first socket
    of that backend exists; a plugin may inspect or configure *backend*
    (tracing, metrics).  Exceptions propagate to the code that chose the
    backend.

    :param backend: the new backend object.
    :param options: the text after ``name:`` in the choice, or ``None``.
    """
