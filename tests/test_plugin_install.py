"""End to end: install sockspec and the example plugin into a fresh venv.

The virtual environment has no access to the system site-packages, so
nothing installed for development can hide a packaging mistake: sockspec and
``examples/sockspec-trace`` are built from copies of the source tree and
installed with pip (which fetches pluggy and the build backend from the
package index).  Then the entry-point path is proven the way a user would
meet it: the plugin is found, listed by ``sockspec backends``, chosen by
``SOCKSPEC_BACKEND``, and passes the conformance suite with
``sockspec check trace:stdlib``.

pip needs the package index, so the module is marked ``index``: the default
run (``-m 'not slow and not index'``) works on a machine without network,
and ``tox -e install`` (part of the default tox run, and so of CI) runs it,
in about 15 seconds (a venv, two builds, one conformance run).  The other
tox environments also install the example and run the conformance suite on
it through pytest, and ``tests/test_plugin_trace.py`` checks the installed
plugin in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

# Building and installing into a fresh venv took over 120 s (the suite's
# default timeout) on a machine loaded by other jobs.
pytestmark = [pytest.mark.index, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sockspec-trace"
_IGNORE = shutil.ignore_patterns(
    ".git", ".tox", "build", "dist", "*.egg-info", "__pycache__", "_build", ".*cache"
)


def _copy_project(dest: Path) -> tuple[Path, Path]:
    """Copy what a source distribution of each project holds into *dest*."""
    sockspec = dest / "sockspec"
    sockspec.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, sockspec / name)
    shutil.copytree(ROOT / "src", sockspec / "src", ignore=_IGNORE)
    trace = dest / "sockspec-trace"
    shutil.copytree(EXAMPLE, trace, ignore=_IGNORE)
    return sockspec, trace


class Env:
    """A fresh virtual environment and a clean process environment for it."""

    def __init__(self, path: Path) -> None:
        venv.EnvBuilder(with_pip=True, system_site_packages=False).create(path)
        self.bin = path / ("Scripts" if os.name == "nt" else "bin")
        self.python = str(self.bin / "python")
        self.environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SOCKSPEC_", "PYTHON", "PIP_REQUIRE", "VIRTUAL_ENV"))
        }
        self.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(
        self, *args: str, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a command from the venv's bin folder (or its python)."""
        exe = args[0] if args[0] == self.python else str(self.bin / args[0])
        result = subprocess.run(
            [exe, *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.environ, **env},
            cwd=self.bin.parent,  # not the repository: nothing importable by accident
        )
        return result


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A venv with sockspec and sockspec-trace installed from the sources."""
    base = tmp_path_factory.mktemp("install")
    sockspec_src, trace_src = _copy_project(base)
    environment = Env(base / "venv")
    result = environment.run(
        environment.python,
        "-m",
        "pip",
        "install",
        "--quiet",
        str(sockspec_src),
        str(trace_src),
        timeout=600,
    )
    assert result.returncode == 0, (
        f"pip install failed:\n{result.stdout}{result.stderr}"
    )
    return environment


def test_the_venv_cannot_see_the_development_install(env: Env) -> None:
    probe = "import sockspec; print(sockspec.__file__)"
    result = env.run(env.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    location = result.stdout.splitlines()[0]
    assert str(ROOT) not in location
    assert "site-packages" in location


def test_the_plugin_is_found_through_its_entry_point(env: Env) -> None:
    probe = (
        "import sys, sockspec\n"
        "from sockspec import _registry\n"
        "print('sockspec_trace' in sys.modules, _registry.REGISTRY.loaded)\n"
        "[info] = [i for i in sockspec.backend_info() if i.name == 'trace']\n"
        "print(info.plugin, info.distribution)\n"
        "print(sockspec.plugin_problems())\n"
    )
    result = env.run(env.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False False",  # importing sockspec neither imports nor scans plugins
        "trace sockspec-trace",
        "[]",
    ]


def test_sockspec_backends_lists_the_plugin(env: Env) -> None:
    result = env.run("sockspec", "backends")
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.split()[:1] == ["trace"]]
    assert "sockspec-trace" in line


def test_the_plugin_is_chosen_by_the_environment_variable(env: Env) -> None:
    probe = (
        "import threading, sockspec, sockspec_trace\n"
        "with sockspec.Socket(timeout=10) as server:\n"
        "    server.bind('127.0.0.1'); server.listen()\n"
        "    t = threading.Thread(target=lambda: server.accept().close())\n"
        "    t.start()\n"
        "    with sockspec.Socket(timeout=10) as client:\n"
        "        client.connect('127.0.0.1', server.local_port)\n"
        "        print(client.backend)\n"
        "    t.join(10)\n"
        "print(sorted({r.op for r in sockspec_trace.get_log()}))\n"
    )
    result = env.run(env.python, "-c", probe, SOCKSPEC_BACKEND="trace:stdlib")
    assert result.returncode == 0, result.stderr
    backend, ops = result.stdout.splitlines()
    assert backend == "trace:stdlib"
    for op in ("socket", "bind", "listen", "accept", "connect", "close"):
        assert repr(op) in ops


def test_a_disabled_plugin_is_not_offered(env: Env) -> None:
    probe = "import sockspec; print(sockspec.available_backends())"
    result = env.run(env.python, "-c", probe, SOCKSPEC_DISABLE_PLUGINS="trace")
    assert result.returncode == 0, result.stderr
    assert "trace" not in result.stdout
    assert "stdlib" in result.stdout


def test_the_plugin_passes_the_conformance_suite(env: Env) -> None:
    result = env.run("sockspec", "check", "trace:stdlib", timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
