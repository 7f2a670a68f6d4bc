"""Sphinx configuration for the sockspec documentation.

Built by ``tox -e docs`` with warnings as errors.  The pages are MyST
Markdown; the API reference is reStructuredText because autodoc writes
reStructuredText.  ``_ext/sockspec_docs.py`` generates the parts that must
not drift from the code (the error table, the spec aliases, the constants and
the conformance matrix) from the installed package at build time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sockspec

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "sockspec"
author = "sockspec developers"
copyright = "sockspec developers"
release = sockspec.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sockspec_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# -- MyST ------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# Lets pages link to each other's sections: [text](backends.md#precedence).
myst_heading_anchors = 3

# -- autodoc -----------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"show-inheritance": True}

# -- references ----------------------------------------------------------------
# Every cross-reference must resolve, so a renamed function breaks the build.
# Names from the standard library and pluggy have no target here (the build
# stays offline, without intersphinx); they are the only ones let through.
nitpicky = True
nitpick_ignore_regex = [
    # Type variables, and the conformance suite's helper types and functions
    # that its docstrings mention but that are not part of its API.
    (r"py:(class|obj)", r"(.*\.)?_[A-Z]"),
    # Anything inside a private module (``memory._socket.MemorySocket``) is an
    # implementation detail a signature may name but the reference does not.
    (r"py:(class|obj|mod|func)", r"(.*\.)?_[a-z]\w*(\..*)?"),
    (
        r"py:(class|obj|func)",
        r"(CheckFunction|.*\.harness\.Caught|.*\.spec\.resolve_claim)",
    ),
    (r"py:(class|exc|obj|data|func|meth|mod|attr)", r"(builtins\.)?[a-z]+"),
    (r"py:(class|exc|obj|data)", r"[A-Z][A-Za-z]*Error"),
    (
        r"py:(class|exc|obj|data|func|mod|meth)",
        r"(typing|collections\.abc|types|enum|abc|socket|selectors|time|os|"
        r"pluggy|io|dataclasses|random|threading|ssl)(\..*)?",
    ),
    (
        r"py:(class|obj)",
        r"(BinaryIO|Hashable|Callable|Sequence|Iterator|Any|"
        r"Exception|BaseException|OSError|TracebackType|HookimplMarker)",
    ),
]

# -- HTML ------------------------------------------------------------------------
html_theme = "furo"
html_title = f"sockspec {release}"
html_static_path: list[str] = []
