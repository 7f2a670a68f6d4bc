"""Running a snippet in a fresh interpreter, for tests of what importing does.

The test process has long since imported everything, so whether a module
loads another (lazily or not) can only be seen in a new interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

TIMEOUT = 60.0


def python_output(code: str, **env: str) -> str:
    """Run *code* (dedented) in a fresh interpreter and return its stdout.

    *env* adds environment variables; a non-zero exit fails with stderr.
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
