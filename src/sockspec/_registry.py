"""Finding, loading and choosing backends.

Theory of operation
-------------------
Backends are pluggy plugins of the project ``"sockspec"``.  Built-in and
third-party ones alike are modules named by entry points in the group
``sockspec.backends``; the registry imports each, registers it with the
plugin manager and calls ``check_pending()`` so a misspelt hook fails loudly.
Then it asks every plugin's ``sockspec_add_backends`` for the backends it
offers.  Anything that goes wrong with one plugin -- its import fails, it
does not register, its hook raises or returns nonsense, another distribution
uses the same plugin name or claims the same backend name -- is recorded as a
:class:`PluginProblem` and a :class:`RuntimeWarning`, and every other plugin
keeps working.  ``$SOCKSPEC_DISABLE_PLUGINS`` (comma-separated plugin names)
blocks plugins before they are imported.

Loading is lazy (``import sockspec`` scans nothing and imports neither
pluggy nor :mod:`importlib.metadata`) and happens once, under a
lock, the first time a backend is chosen or listed.  A backend object is
made by its factory the first time its name (with options, ``"trace:memory"``)
is chosen, then kept: choosing a backend costs hook calls once, sockets never
do.

Which backend a new socket uses: the ``backend=`` argument, else the one set
by :func:`use_backend`, else ``$SOCKSPEC_BACKEND``, else ``"stdlib"``.  Every
level takes ``name`` or ``name:options``; the text after the first colon is
handed to the backend's factory.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import os
import re
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .api.backend import Backend, BackendSpec, Capabilities

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "BACKEND_ENV",
    "DEFAULT_BACKEND",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "BackendInfo",
    "PluginProblem",
    "Registry",
    "UnknownBackend",
    "available_backends",
    "backend_choices",
    "backend_info",
    "disabled_plugins",
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

# Used only for a built-in whose entry point is missing: sockspec running
# from a source tree without installed metadata, or with metadata older than
# the code.  They still load through the same code path as entry points.
_BUILTIN_PLUGINS = {
    "stdlib": "sockspec.backends.stdlib",
    "selectors": "sockspec.backends.selectors",
    "memory": "sockspec.backends.memory",
}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class UnknownBackend(ValueError):
    """The backend name asked for is not available.

    The message lists the names that are, or names the plugins that both
    claim the name.
    """


@dataclasses.dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be loaded, or a backend name two plugins claim."""

    #: Entry-point (plugin) name.
    plugin: str
    #: Distribution that provides it, or ``None`` if unknown.
    distribution: str | None
    #: What went wrong: the exception type and message, or the conflict.
    error: str

    def __str__(self) -> str:
        origin = f" (from {self.distribution})" if self.distribution else ""
        return f"{self.plugin}{origin}: {self.error}"


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
    #: Its factory cannot work without options (``name:options``).
    needs_options: bool = False


@dataclasses.dataclass(frozen=True)
class _Found:
    """One plugin to load: entry-point name, ``module[:attr]``, distribution."""

    name: str
    target: str
    distribution: str | None


@dataclasses.dataclass
class _Entry:
    spec: BackendSpec
    plugin: str
    distribution: str | None


class Registry:
    """The plugin manager plus the backends it found; one per process.

    The process-wide instance is ``sockspec._registry.REGISTRY``; the module
    functions (:func:`available_backends`, :func:`get_backend`...) use it.
    Tests can make a fresh one to load the installed plugins again.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._loading = False
        self._entries: dict[str, _Entry] = {}
        self._conflicts: dict[str, str] = {}
        self._problems: list[PluginProblem] = []
        self._disabled: list[str] = []
        self._dists: dict[str, str | None] = {}
        self._backends: dict[str, Backend] = {}
        # The part of _backends that is not a proxy (resolves to itself):
        # get() answers those with one dict lookup.
        self._direct: dict[str, Backend] = {}
        self._override: list[Backend | str] = []
        # ($SOCKSPEC_BACKEND, its backend, whether that stands for another,
        # the raw value object os.environ held)
        self._env_cache: tuple[str | None, Backend, bool, object] | None = None

    # -- loading ---------------------------------------------------------------

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy manager, with every plugin loaded."""
        self.load()
        assert self._pm is not None
        return self._pm

    @property
    def loaded(self) -> bool:
        """Whether the plugins have been loaded (entry points scanned)."""
        return self._pm is not None

    def load(self) -> None:
        """Load every plugin once; later calls do nothing."""
        if self._pm is not None:
            return
        with self._lock:
            if self._pm is not None:
                return
            if self._loading:
                # A plugin asked for backends while being imported; the
                # answer would be a half-loaded registry.
                raise RuntimeError(
                    "a sockspec plugin used the backend registry while the "
                    "plugins were loading; do it later, not at import time"
                )
            self._loading = True
            try:
                self._pm = self._load_all()
            finally:
                self._loading = False

    def _load_all(self) -> pluggy.PluginManager:
        # pluggy imports importlib.metadata (tens of modules): only here, when
        # a backend is first chosen or listed, never at ``import sockspec``.
        import pluggy

        from . import hookspecs

        pm = pluggy.PluginManager("sockspec")
        pm.add_hookspecs(hookspecs)
        blocked = _blocked_names()
        found, duplicates = _discover()
        for problem in duplicates:
            self._problem(problem.plugin, problem.distribution, problem.error)
        for plugin in found:
            self._dists[plugin.name] = plugin.distribution
            if plugin.name in blocked:
                pm.set_blocked(plugin.name)
                self._disabled.append(plugin.name)
                continue
            self._load_plugin(pm, plugin)
        self._collect(pm)
        return pm

    def _load_plugin(self, pm: pluggy.PluginManager, found: _Found) -> None:
        try:
            module: Any = _import_target(found.target)
            pm.register(module, name=found.name)
            pm.check_pending()
        except Exception as exc:  # a broken plugin must not break the others
            _unregister(pm, found.name)
            self._problem(found.name, found.distribution, _describe(exc))

    def _problem(self, plugin: str, dist: str | None, error: str) -> None:
        problem = PluginProblem(plugin, dist, error)
        self._problems.append(problem)
        warnings.warn(
            f"sockspec plugin {problem}", RuntimeWarning, stacklevel=_stacklevel()
        )

    def _collect(self, pm: pluggy.PluginManager) -> None:
        """Ask each plugin for its backends, attributing them to the plugin."""
        for impl in pm.hook.sockspec_add_backends.get_hookimpls():
            name = impl.plugin_name
            dist = self._dists.get(name)
            try:
                specs = _checked_specs(impl.function())
            except Exception as exc:
                _unregister(pm, name)
                self._problem(name, dist, _describe(exc))
                continue
            for spec in specs:
                self._add(spec, name, dist)

    def _add(self, spec: BackendSpec, plugin: str, dist: str | None) -> None:
        name = spec.name
        where = _where(plugin, dist)
        if name in self._conflicts:
            self._conflicts[name] += f", {where}"
            self._problem(plugin, dist, self._conflicts[name])
            return
        other = self._entries.get(name)
        if other is None:
            self._entries[name] = _Entry(spec, plugin, dist)
            return
        # Neither wins: silently preferring one would make the choice depend
        # on installation order.
        del self._entries[name]
        message = (
            f"backend name {name!r} is claimed by more than one plugin: "
            f"{_where(other.plugin, other.distribution)}, {where}"
        )
        self._conflicts[name] = message
        self._problem(plugin, dist, message)

    def register_plugin(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object at run time (tests, embedding).

        Unlike entry-point plugins, a plugin registered here that is broken
        raises at once.  Returns the plugin's name.
        """
        pm = self.plugin_manager
        with self._lock:
            plugin_name = pm.register(plugin, name=name)
            if plugin_name is None:
                raise ValueError(f"plugin {name!r} is blocked")
            try:
                pm.check_pending()
                specs: list[BackendSpec] = []
                for impl in pm.hook.sockspec_add_backends.get_hookimpls():
                    if impl.plugin is plugin:
                        specs.extend(_checked_specs(impl.function()))
                for spec in specs:
                    if spec.name in self._entries or spec.name in self._conflicts:
                        raise ValueError(
                            f"backend name {spec.name!r} is already provided by "
                            f"plugin {self._owner(spec.name)!r}"
                        )
            except Exception as exc:
                pm.unregister(plugin)
                hint = _hook_hint(exc)
                if hint:
                    raise type(exc)(plugin, f"{exc}{hint}") from exc
                raise
            for spec in specs:
                self._entries[spec.name] = _Entry(spec, plugin_name, None)
            return plugin_name

    def _owner(self, name: str) -> str:
        entry = self._entries.get(name)
        return entry.plugin if entry is not None else "several plugins"

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin registered by :meth:`register_plugin`."""
        pm = self.plugin_manager
        with self._lock:
            _unregister(pm, name)
            for key in [k for k, e in self._entries.items() if e.plugin == name]:
                del self._entries[key]
            for key in [
                k for k in self._backends if k.split(":", 1)[0] not in self._entries
            ]:
                del self._backends[key]
                self._direct.pop(key, None)
            self._env_cache = None

    # -- choosing --------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the backends that can be chosen."""
        self.load()
        return sorted(self._entries)

    def get(self, choice: str) -> Backend:
        """Return the backend for ``name`` or ``name:options``, made once.

        The object is passed through :meth:`Backend.resolve`, so a proxy
        (``"memory"`` means the current network) gives what it stands for.
        """
        backend = self._direct.get(choice)
        if backend is not None:
            return backend
        return self._made(choice).resolve()

    def _made(self, choice: str) -> Backend:
        """The (cached) object the factory made for *choice*."""
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
                raise UnknownBackend(self._unknown(name))
            if entry.spec.needs_options and not options:
                raise ValueError(
                    f"backend {name!r} needs options: choose it as "
                    f"'{name}:OPTIONS' (plugin {entry.plugin!r})"
                )
            backend = entry.spec.factory(options or None)
            if not isinstance(backend, Backend):
                raise TypeError(
                    f"the factory of backend {name!r} (plugin {entry.plugin!r}) "
                    f"returned {type(backend).__name__}, not a sockspec.Backend"
                )
            _check_made(backend, name, entry.plugin)
            self.plugin_manager.hook.sockspec_backend_created(
                backend=backend, options=options or None
            )
            self._backends[choice] = backend
            if not _is_proxy(backend):
                self._direct[choice] = backend
            return backend

    def _unknown(self, name: str) -> str:
        if name in self._conflicts:
            return self._conflicts[name]
        names = self.names()
        message = f"unknown backend {name!r}"
        # A misspelling is the likeliest mistake; name the backend it resembles.
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        message += f"; available backends: {', '.join(names) or 'none'}"
        if name in self._disabled:
            message += f" (plugin {name!r} is disabled by ${DISABLE_ENV})"
        elif any(p.plugin == name for p in self._problems):
            message += f" (plugin {name!r} failed to load; see `sockspec backends`)"
        return message

    def default(self) -> Backend:
        """The backend a socket gets when none is named."""
        override = self._override
        if override:
            top = override[-1]
            return top.resolve() if isinstance(top, Backend) else self.get(top)
        raw = _environ_get(_ENV_KEY)
        cache = self._env_cache
        if cache is not None and cache[3] is raw:
            # Socket() without backend= comes here: keep it to a dict lookup
            # and a tuple check.  os.environ keeps the same value object
            # until the variable is set again.
            return cache[1].resolve() if cache[2] else cache[1]
        env = os.environ.get(BACKEND_ENV, "").strip() or None
        if env is None:
            backend = self._made(DEFAULT_BACKEND)
        else:
            try:
                backend = self._made(env)
            except UnknownBackend as exc:
                raise UnknownBackend(f"${BACKEND_ENV}={env!r}: {exc}") from None
        self._env_cache = (env, backend, _is_proxy(backend), raw)
        return backend.resolve()

    def resolve(self, backend: str | Backend | None) -> Backend:
        """Turn a ``backend=`` argument into a backend object."""
        if backend is None:
            return self.default()
        if isinstance(backend, str):
            return self.get(backend)
        # The MRO test is in C; isinstance on an ABC runs Python code, so it
        # only decides for classes registered as virtual subclasses.
        if Backend in backend.__class__.__mro__ or isinstance(backend, Backend):
            return backend.resolve()
        raise TypeError(
            f"backend must be a name, a Backend or None, got {type(backend).__name__}"
        )

    def choices(self) -> list[Backend | str]:
        """What :class:`use_backend` has in force, newest first."""
        return self._override[::-1]

    def push(self, backend: Backend | str) -> None:
        """Make *backend* the default until :meth:`pop` (see :class:`use_backend`)."""
        with self._lock:
            self._override.append(backend)

    def pop(self, backend: Backend | str) -> None:
        """Undo the latest :meth:`push` of *backend*, wherever it is in the stack."""
        with self._lock:
            stack = self._override
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is backend:
                    del stack[i]
                    return

    # -- reporting -------------------------------------------------------------

    def problems(self) -> list[PluginProblem]:
        """Plugins that failed to load, and name conflicts."""
        self.load()
        return list(self._problems)

    def disabled(self) -> list[str]:
        """Plugins blocked by ``$SOCKSPEC_DISABLE_PLUGINS``."""
        self.load()
        return list(self._disabled)

    def info(self) -> list[BackendInfo]:
        """Every available backend with its origin."""
        self.load()
        return [
            BackendInfo(
                name, e.plugin, e.distribution, e.spec.summary, e.spec.needs_options
            )
            for name, e in sorted(self._entries.items())
        ]


def _is_proxy(backend: Backend) -> bool:
    """Whether *backend* overrides :meth:`Backend.resolve` (stands for another)."""
    return type(backend).resolve is not Backend.resolve


def _discover() -> tuple[list[_Found], list[PluginProblem]]:
    """Return the plugins to load, and the plugin names used twice.

    The same distribution seen twice (it is on ``sys.path`` twice) counts
    once; two distributions using one plugin name are a problem, and neither
    loads.
    """
    found: dict[str, _Found] = {}
    clashes: dict[str, list[_Found]] = {}
    from importlib import metadata

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else None
        plugin = _Found(ep.name, ep.value, dist)
        previous = found.get(ep.name)
        if previous is None:
            found[ep.name] = plugin
        elif _canonical(previous.distribution) != _canonical(dist):
            clashes.setdefault(ep.name, [previous]).append(plugin)
    for name, target in _BUILTIN_PLUGINS.items():
        if name not in found and _module_exists(target):
            found[name] = _Found(name, target, "sockspec")
    problems = []
    for name, plugins in clashes.items():
        del found[name]
        owners = ", ".join(p.distribution or "unknown distribution" for p in plugins)
        problems.append(
            PluginProblem(
                name,
                plugins[-1].distribution,
                f"plugin name {name!r} is used by more than one distribution: "
                f"{owners}; none of them was loaded",
            )
        )
    return list(found.values()), problems


def _blocked_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _canonical(dist: str | None) -> str | None:
    return None if dist is None else re.sub(r"[-_.]+", "-", dist).lower()


def _module_exists(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.partition(":")[0]) is not None
    except ImportError:
        return False


def _import_target(target: str) -> object:
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def _checked_specs(result: object) -> list[BackendSpec]:
    """Validate what a ``sockspec_add_backends`` implementation returned."""
    if not isinstance(result, Iterable) or isinstance(result, (str, bytes)):
        raise TypeError(
            f"sockspec_add_backends must return a sequence of BackendSpec, "
            f"got {result!r}"
        )
    specs = list(result)
    for spec in specs:
        if not isinstance(spec, BackendSpec):
            raise TypeError(f"expected a BackendSpec, got {spec!r}")
        if not _NAME.match(spec.name):
            raise ValueError(
                f"invalid backend name {spec.name!r}: use letters, digits, "
                f"'_', '-' and '.', and no ':'"
            )
        if not callable(spec.factory):
            raise TypeError(f"the factory of backend {spec.name!r} is not callable")
    return specs


def _where(plugin: str, dist: str | None) -> str:
    return f"plugin {plugin!r} ({dist or 'unknown distribution'})"


def _unregister(pm: pluggy.PluginManager, name: str) -> None:
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}{_hook_hint(exc)}"


_UNKNOWN_HOOK = re.compile(r"unknown hook '(?P<hook>[^']+)'")


def _hook_hint(exc: BaseException) -> str:
    """`` (did you mean ...?)`` for pluggy's unknown-hook error, else ``""``."""
    found = _UNKNOWN_HOOK.search(str(exc))
    if found is None:
        return ""
    from . import hookspecs

    names = [n for n in vars(hookspecs) if n.startswith("sockspec_")]
    close = difflib.get_close_matches(found["hook"], names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_made(backend: Backend, name: str, plugin: str) -> None:
    """A factory's backend must have a name and capabilities; say whose it is."""
    where = f"the factory of backend {name!r} (plugin {plugin!r})"
    if not isinstance(getattr(backend, "name", None), str):
        raise TypeError(f"{where} made a backend without a name (a str)")
    if not isinstance(getattr(backend, "capabilities", None), Capabilities):
        raise TypeError(
            f"{where} made a backend without capabilities (a sockspec.Capabilities)"
        )


def _stacklevel() -> int:
    """Point a loading warning at the first frame outside sockspec."""
    frame = sys._getframe(1)
    level = 1
    here = os.path.dirname(__file__)
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


# os.environ.get costs about 1 us (it encodes the key and, when the variable
# is unset, raises and catches KeyError in Python); Socket() without backend=
# reads $SOCKSPEC_BACKEND every time, since it may change while the program
# runs.  os.environ's own mapping answers the same question with one C dict
# lookup; where it is not there (another platform), os.environ.get does.
_environ_get: Callable[[Any], object]
_ENV_KEY: object
try:
    _environ_get = os.environ._data.get  # type: ignore[attr-defined]
    _ENV_KEY = os.environ.encodekey(BACKEND_ENV)
except AttributeError:  # pragma: no cover - not CPython's os.environ
    _environ_get = os.environ.get
    _ENV_KEY = BACKEND_ENV


#: The process-wide registry.
REGISTRY = Registry()


def resolve_backend(backend: str | Backend | None) -> Backend:
    """Return the backend object for a ``backend=`` argument."""
    return REGISTRY.resolve(backend)


def get_backend(name: str | None = None) -> Backend:
    """Return the backend chosen by *name* (``name:options``), or the default.

    Raises :class:`UnknownBackend`, listing the available names, when no
    plugin offers *name*.
    """
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


def disabled_plugins() -> list[str]:
    """Return the plugins that ``$SOCKSPEC_DISABLE_PLUGINS`` kept from loading."""
    return REGISTRY.disabled()


def backend_choices() -> tuple[Backend | str, ...]:
    """Return what :class:`use_backend` has in force, newest first.

    Each entry is what was passed (a name, ``"name:options"``, or a backend
    object), unresolved.  A proxy backend reads this to find what it stands
    for (``"memory"`` looks for the newest memory network); the tuple is a
    snapshot, so changing the choices goes through :class:`use_backend` only.
    """
    return tuple(REGISTRY.choices())


class use_backend:
    """Make *backend* the process-wide default until the block ends.

    ``with sockspec.use_backend("memory"): ...`` -- sockets made inside (in
    any thread) without ``backend=`` use it; the previous default comes back
    on exit.  Takes a name (``"name:options"``) or a backend object; unknown
    names fail at once, when the object is made, with the list of available
    ones.  Making the object changes nothing else: the choice is put in
    force by entering the ``with`` block or, without ``with``, by
    :meth:`start`, and undone by leaving the block or by :meth:`restore`
    (the way ``unittest.mock.patch`` works).  An object that is never
    put in force warns when it is garbage-collected, since that is almost
    always a ``with`` that was forgotten.
    """

    def __init__(self, backend: str | Backend) -> None:
        if isinstance(backend, str):
            REGISTRY.get(backend)  # fail early on unknown names
        elif not isinstance(backend, Backend):
            raise TypeError(
                f"backend must be a name or a Backend, got {type(backend).__name__}"
            )
        self._backend = backend
        self._active = False
        self._used = False

    def start(self) -> Backend:
        """Put the choice in force now (what entering ``with`` does).

        Returns the backend sockets will get.  Raises :class:`RuntimeError`
        if this choice is already in force; :meth:`restore` undoes it.
        """
        if self._active:
            raise RuntimeError(f"use_backend({self._backend!r}) is already in force")
        self._used = True
        REGISTRY.push(self._backend)
        self._active = True
        try:
            return REGISTRY.resolve(self._backend)
        except BaseException:
            self.restore()
            raise

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Undo this choice (what leaving the ``with`` block does); idempotent."""
        if self._active:
            self._active = False
            REGISTRY.pop(self._backend)

    def __del__(self) -> None:
        if not getattr(self, "_used", True):
            warnings.warn(
                f"use_backend({self._backend!r}) was never put in force: use it "
                f"in a 'with' statement, or call start()",
                RuntimeWarning,
                stacklevel=2,
            )
