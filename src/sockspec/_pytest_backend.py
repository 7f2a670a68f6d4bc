"""The ``--sockspec-backend`` pytest option: run tests on a chosen backend.

Loaded by sockspec's pytest plugin (``sockspec.pytest_plugin``, through its
``pytest_plugins`` list), so every pytest run in an environment with sockspec
has the option; it does nothing unless it is given.

``pytest --sockspec-backend NAME`` makes ``NAME`` (``name`` or
``name:options``, for example ``trace:memory``) the default backend for the
whole session, exactly like :func:`sockspec.use_backend` around the run: every
socket and Poller made without ``backend=`` uses it, and it beats
``$SOCKSPEC_BACKEND``.  The ini setting ``sockspec_backend`` does the same from
a configuration file; the command line wins.  An unknown name stops pytest
with the list of available backends.

The conformance suite shipped in :mod:`sockspec.conformance` reads the same
option to choose the backend it checks::

    pytest --pyargs sockspec.conformance --sockspec-backend NAME
"""

from __future__ import annotations

import os

import pytest

from ._registry import BACKEND_ENV, DEFAULT_BACKEND, UnknownBackend, use_backend

__all__ = [
    "chosen_backend",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_unconfigure",
]

_OPTION = "sockspec_backend"
_INI = "sockspec_backend"
_STASH = pytest.StashKey[use_backend]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--sockspec-backend`` and the ``sockspec_backend`` ini setting."""
    group = parser.getgroup("sockspec")
    group.addoption(
        "--sockspec-backend",
        dest=_OPTION,
        metavar="NAME",
        default=None,
        help=(
            "make NAME (name or name:options, e.g. trace:memory) the default "
            "sockspec backend for the whole run; the conformance suite "
            "(--pyargs sockspec.conformance) checks this backend"
        ),
    )
    parser.addini(
        _INI,
        help="default sockspec backend for the run (--sockspec-backend wins)",
        default="",
    )


def _configured_name(config: pytest.Config) -> str | None:
    value = config.getoption(_OPTION, default=None)
    if not value:
        try:
            value = str(config.getini(_INI) or "").strip() or None
        except ValueError:  # this module's options were never added
            value = None
    return value if isinstance(value, str) else None


def pytest_configure(config: pytest.Config) -> None:
    """Install the chosen backend as the default for the session."""
    name = _configured_name(config)
    if name is None:
        return
    try:
        # "client->server" names a cross-backend conformance target; the
        # session's default is the client side.
        choice = use_backend(name.partition("->")[0].strip())
    except (UnknownBackend, ValueError) as exc:
        raise pytest.UsageError(f"--sockspec-backend {name}: {exc}") from None
    choice.start()
    config.stash[_STASH] = choice


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the default backend chosen before the session."""
    choice = config.stash.get(_STASH, None)
    if choice is not None:
        choice.restore()
        del config.stash[_STASH]


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which backend the run uses, when one was chosen."""
    name = _configured_name(config)
    return f"sockspec backend: {name}" if name else None


def chosen_backend(config: pytest.Config) -> str:
    """Return the backend a run is about, for suites like the conformance one.

    ``--sockspec-backend`` (or the ini setting; ``client->server`` names a
    cross-backend target) if given, else
    ``$SOCKSPEC_BACKEND``, else ``stdlib``.
    """
    env = os.environ.get(BACKEND_ENV, "").strip()
    return _configured_name(config) or env or DEFAULT_BACKEND
