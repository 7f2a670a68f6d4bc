"""Every relative link in the Markdown a reader opens lands inside the repository.

A code host shows README.md and docs/*.md as plain Markdown, so a link to a
file outside the checkout (or one since renamed) is a dead end there, even
when the Sphinx build does not see it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("examples/**/*.md")]
)

_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)
_CODE_SPAN = re.compile(r"(`+).*?\1", flags=re.S)
#: ``[text](target)``, ``![alt](target "title")``, ``[text](<target>)``.
_INLINE = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)[^)]*\)")
#: ``[label]: target`` at the start of a line.
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", flags=re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def links(text: str) -> list[str]:
    """The link targets of a Markdown text, outside code."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    found = _INLINE.findall(text) + _DEFINITION.findall(text)
    return [target.strip("<>") for target in found]


def relative(targets: list[str]) -> list[str]:
    """The targets that are files of this repository, not URLs or anchors."""
    return [t for t in targets if not _SCHEME.match(t) and not t.startswith("#")]


def test_the_link_finder_sees_every_form_and_skips_code() -> None:
    text = (
        'See [a](a.md), ![b](img/b.png "title"), [c](<c d.md>), [`e`](e.md#x)\n'
        "and `[not](code.md)`.\n"
        "[f]: f.md\n"
        "```md\n[not](fenced.md)\n```\n"
        "[web](https://example.org/) [here](#anchor) [mail](mailto:x@y.z)\n"
    )
    assert relative(links(text)) == ["a.md", "img/b.png", "c d.md", "e.md#x", "f.md"]


def test_pages_are_found() -> None:
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert {"README.md", "docs/index.md", "docs/changelog.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    broken = []
    for target in relative(links(page.read_text(encoding="utf-8"))):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not path:
            continue
        resolved = (page.parent / path).resolve()
        if path.startswith("/") or not resolved.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"
