"""Import structure: every module imports alone, and ``import sockspec`` is light.

Each check runs in a fresh interpreter, because the test process has long
since imported everything.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import sockspec

TIMEOUT = 60.0


def _modules() -> list[str]:
    names = ["sockspec"]
    for info in pkgutil.walk_packages(sockspec.__path__, "sockspec."):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # those run a program
            names.append(info.name)
    return sorted(names)


def _loaded_after(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running *statement*."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert "sockspec.api.backend" in modules
    assert "sockspec.backends.memory._socket" in modules
    # All at once, each in its own interpreter: a module that only imports
    # because something else happened to be imported first fails here.
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"import {name}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in modules
    }
    failures = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=TIMEOUT)
        if proc.returncode:
            failures[name] = err.strip().splitlines()[-1:]
    assert not failures


def test_import_sockspec_loads_no_backend_nor_importlib_metadata() -> None:
    loaded = _loaded_after("import sockspec")
    assert "importlib.metadata" not in loaded
    assert "pluggy" not in loaded
    assert not [m for m in loaded if m.startswith("sockspec.backends")]
    assert "sockspec._registry" not in loaded


def test_the_backend_interface_is_a_leaf() -> None:
    loaded = _loaded_after("import sockspec.api.backend")
    ours = [m for m in loaded if m.startswith("sockspec")]
    assert "sockspec.api.socket" not in ours
    assert "sockspec._registry" not in ours
    assert "sockspec.api.poller" not in ours


@pytest.mark.parametrize(
    "statement",
    [
        "sockspec.Socket().close()",
        "sockspec.available_backends()",
    ],
)
def test_a_socket_or_the_registry_loads_the_plugins(statement: str) -> None:
    loaded = _loaded_after(f"import sockspec\n{statement}")
    assert "importlib.metadata" in loaded
    assert "sockspec.backends.stdlib" in loaded


def test_lazy_names_are_the_real_objects() -> None:
    from sockspec import _registry
    from sockspec.api import poller, socket

    assert sockspec.Socket is socket.Socket
    assert sockspec.Poller is poller.Poller
    assert sockspec.use_backend is _registry.use_backend
    assert sockspec.api.Socket is socket.Socket
    assert set(sockspec.__all__) <= set(dir(sockspec))
    with pytest.raises(AttributeError, match="no_such_name"):
        sockspec.no_such_name  # noqa: B018
