"""CPython's own test suites for its servers and clients, on the memory network.

``pytest --sockspec-compat memory`` runs an unmodified suite with the
standard modules patched onto a fresh memory network per test.  CPython's
``test_xmlrpc`` and ``test_httpservers`` are real-world suites nobody wrote
for sockspec; they must pass there as they pass on the real loopback.
(``test_socketserver``'s forking servers and ``test_urllib2_localnet``'s
HTTPS cases cannot: a simulated network does not cross ``fork()``, and TLS
over compat sockets is not implemented yet.)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("suite", ["test.test_xmlrpc", "test.test_httpservers"])
def test_cpython_suite_passes_on_the_memory_network(
    suite: str, tmp_path: object
) -> None:
    spec = importlib.util.find_spec(suite)
    if spec is None or spec.origin is None:
        pytest.skip(f"this Python has no {suite}")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--sockspec-compat",
            "memory",
            spec.origin,
        ],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
