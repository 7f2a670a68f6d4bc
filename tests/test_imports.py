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
from _fresh import python_output

TIMEOUT = 60.0


def _modules() -> list[str]:
    """The public modules: no part of the name starts with ``_``.

    (``__main__`` modules run a program; private ones are imported by these.)
    """
    names = ["sockspec"]
    for info in pkgutil.walk_packages(sockspec.__path__, "sockspec."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _loaded_after(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running *statement*."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    loaded: list[str] = json.loads(python_output(code).splitlines()[-1])
    return loaded


# Run in a fresh interpreter that has imported nothing of sockspec: one child
# per module, forked from it, imports that module alone.  Forking spares
# fifty interpreter start-ups; each child starts from the same clean state.
_IMPORT_EACH = """
import json, os, sys
failed = {}
children = {}
for name in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
        except BaseException as exc:
            os.write(write, f"{type(exc).__name__}: {exc}".encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    children[pid] = (name, read)
for pid, (name, read) in children.items():
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 4096).decode()
    os.close(read)
    if status:
        failed[name] = message or f"exit status {status}"
print(json.dumps(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert "sockspec.api.backend" in modules
    assert "sockspec.conformance.checks.kinds" in modules
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    failed = json.loads(out.stdout.splitlines()[-1])
    assert not failed


def test_import_sockspec_loads_no_backend_nor_importlib_metadata() -> None:
    loaded = _loaded_after("import sockspec")
    assert "importlib.metadata" not in loaded
    assert "pluggy" not in loaded
    assert not [m for m in loaded if m.startswith("sockspec.backends")]
    assert "sockspec._registry" not in loaded


@pytest.mark.parametrize(
    "statement", ["import sockspec", "import sockspec.errors", "import sockspec.api"]
)
def test_import_sockspec_loads_neither_ssl_nor_dataclasses_nor_typing(
    statement: str,
) -> None:
    # Each was a large part of what ``import sockspec`` cost (issue 16;
    # benchmarks/bench_import.py): ssl for the TLS errors, dataclasses and
    # inspect for Capabilities, BackendSpec and Datagram, typing (with re)
    # for TYPE_CHECKING.  They load when the names that need them are first used.
    loaded = _loaded_after(statement)
    for heavy in ("ssl", "_ssl", "dataclasses", "inspect", "typing"):
        assert heavy not in loaded, heavy
    assert "sockspec.api.backend" not in loaded


@pytest.mark.parametrize("backend", ["stdlib", "selectors", "memory"])
def test_a_socket_that_never_uses_tls_does_not_load_ssl(backend: str) -> None:
    # Only start_tls and the TLS properties import the TLS layer.
    loaded = _loaded_after(
        f"""
import sockspec
with sockspec.Socket(backend={backend!r}) as listener:
    listener.bind("127.0.0.1")
    listener.listen()
    with sockspec.Socket(backend={backend!r}, timeout=5.0) as client:
        client.connect("127.0.0.1", listener.local_port)
        with listener.accept() as server:
            client.send(b"x")
            assert server.receive() == b"x"
"""
    )
    assert "sockspec.backends.stdlib" in loaded
    assert "ssl" not in loaded
    assert "sockspec.api.tls" not in loaded


def test_the_tls_errors_are_made_on_first_use_and_behave_as_before() -> None:
    out = python_output(
        """
        import pickle, sys
        import sockspec
        from sockspec.errors import from_os_error
        print("ssl" in sys.modules)
        from sockspec.errors import tls_error
        import ssl
        err = from_os_error(ssl.SSLEOFError(8, "EOF occurred"))
        print(type(err) is sockspec.TLSTruncated, isinstance(err, ssl.SSLEOFError))
        print(sockspec.TLSError.__module__, tls_error.__module__)
        again = pickle.loads(pickle.dumps(err))
        print(type(again) is type(err), again.errno)
        """
    ).split()
    assert out == ["False", "True", "True"] + ["sockspec.api.errors"] * 2 + [
        "True",
        "8",
    ]


def test_every_lazy_name_is_the_one_its_module_defines() -> None:
    import sockspec.errors
    from sockspec.api import _tlserrors, backend, datagram, delegating, errors

    assert sockspec.TLSError is errors.TLSError is _tlserrors.TLSError
    assert sockspec.errors.TLSCertificateError is _tlserrors.TLSCertificateError
    assert sockspec.api.TLSTruncated is _tlserrors.TLSTruncated
    assert sockspec.errors.tls_error is _tlserrors.tls_error
    assert sockspec.Capabilities is sockspec.api.Capabilities is backend.Capabilities
    assert sockspec.Datagram is datagram.Datagram
    assert sockspec.DelegatingBackend is delegating.DelegatingBackend
    # The lists written out beside the lazy names say the same as the module.
    assert sockspec.errors.__all__ == errors.__all__
    assert set(errors.__all__) <= set(sockspec.api.__all__)
    assert set(errors.__all__) - {"from_os_error", "tls_error"} <= set(sockspec.__all__)
    assert set(errors.__all__) <= set(dir(errors))


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
