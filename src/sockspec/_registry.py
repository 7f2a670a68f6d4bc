"""Finding, loading and choosing backends.

Theory of operation
-------------------
Backends are pluggy plugins of the project ``"sockspec"``.  Built-in and
third-party ones alike are modules named by entry points in the group
``sockspec.backends``; the registry imports each, registers it with the
plugin manager and calls ``check_pending()`` so a misspelt hook fails loudly.
A plugin that fails to import or to register is recorded as a
:class:`PluginProblem` (and a warning), and every other plugin keeps working.

Loading is lazy (``import sockspec`` scans nothing) and happens once.  A
backend object is made by its factory the first time its name (with
options, ``"trace:memory"``) is chosen, then kept: choosing a backend costs
hook calls once, sockets never do.

Which backend a new socket uses: the ``backend=`` argument, else the one set
by :func:`use_backend`, else ``$SOCKSPEC_BACKEND``, else ``"stdlib"``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import threading
import types
import warnings
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .api.backend import Backend, BackendSpec

__all__ = [
    "BACKEND_ENV",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "BackendInfo",
    "PluginProblem",
    "UnknownBackend",
    "available_backends",
    "backend_info",
    "get_backend",
    "plugin_problems",
    "resolve_backend",
    "use_backend",
]

#: Entry-point group that plugins register their module under.
ENTRY_POINT_GROUP = "sockspec.backends"
#: Environment variable naming the default backend (``name`` or ``name:options``).
BACKEND_ENV = "SOCKSPEC_BACKEND"
#: Environment variable with comma-separated plugin names not to load.
DISABLE_ENV = "SOCKSPEC_DISABLE_PLUGINS"
#: The backend used when nothing else chooses one.
DEFAULT_BACKEND = "stdlib"

# Used only when sockspec runs from a source tree without installed metadata,
# so the built-ins still load through the same code path as entry points.
_BUILTIN_PLUGINS = {
    "stdlib": "sockspec.backends.stdlib",
}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class UnknownBackend(ValueError):
    """The backend name asked for is not available."""


@dataclasses.dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be loaded, or a backend name two plugins claim."""

    #: Entry-point (plugin) name.
    plugin: str
    #: Distribution that provides it, or ``None`` if unknown.
    distribution: str | None
    #: What went wrong.
    error: str


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """A backend as ``sockspec backends`` lists it."""

    #: The name to choose it by.
    name: str
    #: The plugin (entry-point name) that provides it.
    plugin: str
    #: The distribution that provides the plugin, or ``None``.
    distribution: str | None
    #: One-line description.
    summary: str


@dataclasses.dataclass
class _Entry:
    spec: BackendSpec
    plugin: str
    distribution: str | None


class Registry:
    """The plugin manager plus the backends it found; one per process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._entries: dict[str, _Entry] = {}
        self._conflicts: dict[str, str] = {}
        self._problems: list[PluginProblem] = []
        self._backends: dict[str, Backend] = {}
        self._override: list[Backend | str] = []
        self._env_cache: tuple[str | None, Backend] | None = None

    # -- loading ---------------------------------------------------------------

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy manager, with every plugin loaded."""
        self.load()
        assert self._pm is not None
        return self._pm

    def load(self) -> None:
        """Load every plugin once; later calls do nothing."""
        if self._pm is not None:
            return
        with self._lock:
            if self._pm is not None:
                return
            pm = pluggy.PluginManager("sockspec")
            pm.add_hookspecs(hookspecs)
            blocked = {
                name.strip()
                for name in os.environ.get(DISABLE_ENV, "").split(",")
                if name.strip()
            }
            for name, target, dist in _discover():
                if name in blocked:
                    pm.set_blocked(name)
                    continue
                self._load_plugin(pm, name, target, dist)
            self._collect(pm)
            self._pm = pm

    def _load_plugin(
        self, pm: pluggy.PluginManager, name: str, target: str, dist: str | None
    ) -> None:
        if pm.has_plugin(name) or pm.is_blocked(name):
            return
        try:
            module: Any = _import_target(target)
            pm.register(module, name=name)
            pm.check_pending()
        except Exception as exc:  # a broken plugin must not break the others
            plugin = pm.get_plugin(name)
            if plugin is not None:
                pm.unregister(plugin)
            self._problem(name, dist, f"{type(exc).__name__}: {exc}")

    def _problem(self, plugin: str, dist: str | None, error: str) -> None:
        problem = PluginProblem(plugin, dist, error)
        self._problems.append(problem)
        origin = f" (from {dist})" if dist else ""
        warnings.warn(
            f"sockspec plugin {plugin!r}{origin} failed to load: {error}",
            RuntimeWarning,
            stacklevel=4,
        )

    def _collect(self, pm: pluggy.PluginManager) -> None:
        for plugin_name, plugin in pm.list_name_plugin():
            impl = getattr(plugin, "sockspec_add_backends", None)
            if impl is None:
                continue
            dist = _dist_of(plugin_name)
            try:
                specs = list(impl())
                for spec in specs:
                    if not isinstance(spec, BackendSpec):
                        raise TypeError(f"expected BackendSpec, got {spec!r}")
                    if not _NAME.match(spec.name) or ":" in spec.name:
                        raise ValueError(f"invalid backend name {spec.name!r}")
            except Exception as exc:
                self._problem(plugin_name, dist, f"{type(exc).__name__}: {exc}")
                continue
            for spec in specs:
                self._add(spec, plugin_name, dist)

    def _add(self, spec: BackendSpec, plugin: str, dist: str | None) -> None:
        name = spec.name
        if name in self._conflicts:
            self._conflicts[name] += f", plugin {plugin!r} ({dist or 'unknown'})"
            return
        other = self._entries.get(name)
        if other is None:
            self._entries[name] = _Entry(spec, plugin, dist)
            return
        del self._entries[name]
        message = (
            f"backend name {name!r} is claimed by more than one plugin: "
            f"plugin {other.plugin!r} ({other.distribution or 'unknown'}), "
            f"plugin {plugin!r} ({dist or 'unknown'})"
        )
        self._conflicts[name] = message
        self._problem(plugin, dist, message)

    def register_plugin(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object at run time (tests, embedding)."""
        pm = self.plugin_manager
        with self._lock:
            pm.register(plugin, name=name)
            pm.check_pending()
            impl = getattr(plugin, "sockspec_add_backends", None)
            if impl is not None:
                for spec in impl():
                    self._add(spec, name or repr(plugin), None)

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin registered by :meth:`register_plugin`."""
        pm = self.plugin_manager
        with self._lock:
            plugin = pm.get_plugin(name)
            if plugin is not None:
                pm.unregister(plugin)
            for key in [k for k, e in self._entries.items() if e.plugin == name]:
                del self._entries[key]
            for key in [
                k for k in self._backends if k.split(":", 1)[0] not in self._entries
            ]:
                del self._backends[key]
            self._env_cache = None

    # -- choosing --------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the backends that can be chosen."""
        self.load()
        return sorted(self._entries)

    def get(self, choice: str) -> Backend:
        """Return the backend for ``name`` or ``name:options``, made once."""
        backend = self._backends.get(choice)
        if backend is not None:
            return backend
        self.load()
        with self._lock:
            backend = self._backends.get(choice)
            if backend is not None:
                return backend
            name, _, options = choice.partition(":")
            entry = self._entries.get(name)
            if entry is None:
                if name in self._conflicts:
                    raise UnknownBackend(self._conflicts[name])
                available = ", ".join(self.names()) or "none"
                raise UnknownBackend(
                    f"unknown backend {name!r}; available backends: {available}"
                )
            backend = entry.spec.factory(options or None)
            self.plugin_manager.hook.sockspec_backend_created(
                backend=backend, options=options or None
            )
            self._backends[choice] = backend
            return backend

    def default(self) -> Backend:
        """The backend a socket gets when none is named."""
        if self._override:
            top = self._override[-1]
            return top if isinstance(top, Backend) else self.get(top)
        env = os.environ.get(BACKEND_ENV) or None
        cache = self._env_cache
        if cache is not None and cache[0] == env:
            return cache[1]
        backend = self.get(env or DEFAULT_BACKEND)
        self._env_cache = (env, backend)
        return backend

    def resolve(self, backend: str | Backend | None) -> Backend:
        """Turn a ``backend=`` argument into a backend object."""
        if backend is None:
            return self.default()
        if isinstance(backend, str):
            return self.get(backend)
        if isinstance(backend, Backend):
            return backend
        raise TypeError(
            f"backend must be a name, a Backend or None, got {type(backend).__name__}"
        )

    def problems(self) -> list[PluginProblem]:
        """Plugins that failed to load, and name conflicts."""
        self.load()
        return list(self._problems)

    def info(self) -> list[BackendInfo]:
        """Every available backend with its origin."""
        self.load()
        return [
            BackendInfo(name, e.plugin, e.distribution, e.spec.summary)
            for name, e in sorted(self._entries.items())
        ]


def _discover() -> Iterator[tuple[str, str, str | None]]:
    """Yield ``(plugin name, module path, distribution)`` of every plugin."""
    seen: set[str] = set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        dist = ep.dist.name if ep.dist is not None else None
        yield ep.name, ep.value, dist
    for name, target in _BUILTIN_PLUGINS.items():
        if name not in seen:
            yield name, target, "sockspec"


def _import_target(target: str) -> object:
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def _dist_of(plugin_name: str) -> str | None:
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == plugin_name:
            return ep.dist.name if ep.dist is not None else None
    return "sockspec" if plugin_name in _BUILTIN_PLUGINS else None


#: The process-wide registry.
REGISTRY = Registry()


def resolve_backend(backend: str | Backend | None) -> Backend:
    """Return the backend object for a ``backend=`` argument."""
    return REGISTRY.resolve(backend)


def get_backend(name: str | None = None) -> Backend:
    """Return the backend chosen by *name* (``name:options``), or the default."""
    if name is None:
        return REGISTRY.default()
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    return REGISTRY.get(name)


def available_backends() -> list[str]:
    """Return the names of the backends that can be chosen, sorted."""
    return REGISTRY.names()


def backend_info() -> list[BackendInfo]:
    """Return every available backend with the plugin that provides it."""
    return REGISTRY.info()


def plugin_problems() -> list[PluginProblem]:
    """Return the plugins that failed to load and the name conflicts."""
    return REGISTRY.problems()


class use_backend:
    """Make *backend* the process-wide default until the block ends.

    ``with sockspec.use_backend("memory"): ...`` -- sockets made inside (in
    any thread) without ``backend=`` use it; the previous default comes back
    on exit.  Takes a name (``"name:options"``) or a backend object; unknown
    names fail at once with the list of available ones.
    """

    def __init__(self, backend: str | Backend) -> None:
        if isinstance(backend, str):
            REGISTRY.get(backend)  # fail early on unknown names
        elif not isinstance(backend, Backend):
            raise TypeError(
                f"backend must be a name or a Backend, got {type(backend).__name__}"
            )
        self._backend = backend
        REGISTRY._override.append(backend)
        self._active = True

    def __enter__(self) -> Backend:
        return REGISTRY.resolve(self._backend)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Undo this choice (what leaving the ``with`` block does)."""
        if self._active:
            self._active = False
            stack = REGISTRY._override
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is self._backend:
                    del stack[i]
                    break
