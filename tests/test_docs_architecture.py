"""docs/architecture.md names only modules that exist.

The page's diagrams name modules by path (``api/socket.py``, relative to
``src/sockspec``; ``tests/...`` relative to the repository) or, inside the
memory backend's box, by file name alone.  A module renamed or removed
without updating the page fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "sockspec"
PAGE = ROOT / "docs" / "architecture.md"


def named_modules(text: str) -> set[str]:
    """Every ``something.py`` path the text names."""
    return set(re.findall(r"(?<![\w./])([\w/]+\.py)\b", text))


def exists(name: str) -> bool:
    if name.startswith(("tests/", "benchmarks/")):
        return (ROOT / name).is_file()
    if "/" in name:
        return (PACKAGE / name).is_file()
    return any(PACKAGE.rglob(name))


def test_every_module_named_on_the_architecture_page_exists() -> None:
    names = named_modules(PAGE.read_text(encoding="utf-8"))
    assert len(names) > 20, f"the page names too few modules to be a map: {names}"
    missing = sorted(name for name in names if not exists(name))
    assert not missing, f"docs/architecture.md names missing modules: {missing}"


def test_a_missing_module_is_reported() -> None:
    names = named_modules("the facade in api/socket.py and api/nosuch.py")
    assert names == {"api/socket.py", "api/nosuch.py"}
    assert exists("api/socket.py")
    assert not exists("api/nosuch.py")
    assert exists("_sched.py")
    assert not exists("_nosuch.py")


def test_the_page_is_in_the_table_of_contents() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert re.search(r"^architecture$", index, re.M), "architecture is not in a toctree"
