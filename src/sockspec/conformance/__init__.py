"""The sockspec conformance suite: one set of checks, every backend.

Quickstart for backend authors
------------------------------
Install your plugin next to sockspec and run::

    sockspec check yourbackend          # the matrix, exit 1 on any failure
    sockspec check yourbackend -k timeouts -v

or from Python, on a backend object that need not be installed (a factory
is called afresh for each check)::

    from sockspec import conformance

    for result in conformance.run(YourBackend()):
        assert not result.failed, (result.check, result.message)

and under pytest, one test per check::

    from sockspec.conformance.test_suite import conformance_tests

    test_your_backend = conformance_tests(YourBackend)

Declare what the backend can do in :class:`sockspec.Capabilities`
(families, types, options, ``virtual_time``, ``os_sockets``, ``features``):
a check that needs something missing is *skipped* with that reason, never
passed; ``Capabilities(poller=False)`` skips the checks that need a Poller.
Behaviour that is not about one family or type (readiness, the Poller,
timeouts, close waking a blocked call, closed sockets, options) is checked
on whatever families and types the backend declares.  The features checks
look for are ``"zero-copy-send-file"`` (the backend sends regular files with
``os.sendfile``).  A failure's message names what the check expected and the
Sockets/A line it proves.

Writing a check
---------------
A check is a function of a :class:`Harness`, registered with :func:`check`::

    @check(group="stream", spec=["send/write / Send a block of bytes"],
           per_family=FAMILIES)
    def echo(h: Harness) -> None:
        \"\"\"One byte there and back.\"\"\"
        client, server = h.pair()
        client.send(b"x")
        assert server.receive(1) == b"x"

Every socket the harness makes has a finite timeout and is closed when the
check ends; time is measured with :meth:`Harness.monotonic`, the backend's
clock, so checks run unchanged on a virtual-time backend.

:func:`spec_mapping` ties every line of the Sockets/A text to the Python API
and the checks that prove it; ``python -m sockspec.conformance mapping``
prints it as Markdown (``docs/spec-mapping.md``).
"""

from __future__ import annotations

from .core import (
    FAMILIES,
    IP_FAMILIES,
    Check,
    Requirements,
    Skip,
    all_checks,
    check,
    select_checks,
)
from .harness import Harness, Task
from .mapping import MappingRow, mapping_markdown, spec_mapping, unclaimed_lines
from .runner import Outcome, Result, Target, run, run_check, targets
from .spec import SpecLine, spec_lines, spec_text

__all__ = [
    # writing checks
    "FAMILIES",
    "IP_FAMILIES",
    "Check",
    "Harness",
    "Requirements",
    "Skip",
    "Task",
    "check",
    # running them
    "Outcome",
    "Result",
    "Target",
    "all_checks",
    "run",
    "run_check",
    "select_checks",
    "targets",
    # the spec
    "MappingRow",
    "SpecLine",
    "mapping_markdown",
    "spec_lines",
    "spec_mapping",
    "spec_text",
    "unclaimed_lines",
]
