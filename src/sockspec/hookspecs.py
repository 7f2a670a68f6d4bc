"""The pluggy hook specifications of sockspec, and a plugin quickstart.

Every backend, built-in or third-party, is a pluggy plugin of the project
``"sockspec"``: a module with functions marked :data:`hookimpl` whose names
match the hooks below.  sockspec finds plugins through the entry-point group
``sockspec.backends``, imports each one the first time a backend is chosen or
listed, and checks every implementation against its specification (a
misspelt hook name is an error).  Hooks run when a backend is chosen, never
when a socket sends or receives.

Quickstart: a plugin package
----------------------------
1. Declare the entry point in the package's ``pyproject.toml``; the name on
   the left is the plugin's name (shown by ``sockspec backends``, blocked by
   ``SOCKSPEC_DISABLE_PLUGINS=foo``)::

       [project]
       name = "sockspec-foo"
       dependencies = ["sockspec"]

       [project.entry-points."sockspec.backends"]
       foo = "sockspec_foo.plugin"

2. Write the plugin module ``sockspec_foo/plugin.py``.  A backend is a
   :class:`sockspec.Backend` whose ``socket()`` and ``selector()`` return
   :class:`sockspec.SocketImpl` and :class:`sockspec.SelectorImpl` objects
   (``docs/writing-backends.md`` has the whole contract); here a
   :class:`sockspec.DelegatingBackend` over ``stdlib`` stands in for them::

       from sockspec import Backend, BackendSpec, DelegatingBackend, hookimpl
       from sockspec import parse_options


       class FooBackend(DelegatingBackend):
           name = "foo"


       def make_foo(options: str | None) -> FooBackend:
           # options: the text after "foo:" ("inner=selectors"), or None
           opts = parse_options(options, "foo", inner=str)
           return FooBackend(str(opts.get("inner", "stdlib")))


       @hookimpl
       def sockspec_add_backends() -> list[BackendSpec]:
           return [BackendSpec("foo", make_foo, "my backend")]


       @hookimpl
       def sockspec_backend_created(backend: Backend, options: str | None) -> None:
           print("chose", backend.name)  # optional: observe any backend

3. Install it (``pip install -e .``) and use it::

       sockspec backends                   # lists foo, or why it failed to load
       SOCKSPEC_BACKEND=foo python app.py  # or Socket(backend="foo")

4. Prove it with the conformance suite shipped in sockspec; checks needing a
   capability the backend does not declare are skipped with the reason.
   Before it is installed, on the object:
   ``sockspec.conformance.run(FooBackend("stdlib"))``; once installed::

       sockspec check foo
       pytest --pyargs sockspec.conformance --sockspec-backend foo
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
