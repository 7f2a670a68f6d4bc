"""Every Python example in the documentation runs, so the docs cannot drift.

The test reads each ``docs/**/*.md`` page, takes its ```` ```python ````
blocks in order and runs them in one fresh interpreter per page (blocks of a
page share their globals, so a guide can build an example up step by step).
The interpreter runs in a temporary directory, with ``SOCKSPEC_BACKEND``
unset, and is killed if it takes longer than :data:`PAGE_TIMEOUT` seconds: a
hung example fails, it never hangs the suite.

Conventions a page can use (HTML comments, which MyST does not render):

* A ```` ```text ```` block right after a Python block is that block's
  expected standard output, compared exactly (trailing spaces aside).
* ``<!-- docs-test: pytest -->`` just before a block runs it as a pytest
  test module (with the installed pytest plugins, ``memory_network``
  included) instead of executing it.
* ``<!-- docs-test: skip REASON -->`` just before a block leaves it out; the
  reason is required and shown in the test report.

Run as a script, this file is the runner inside that fresh interpreter: it
reads the blocks as JSON on standard input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Seconds one page's examples may take, all blocks together.
PAGE_TIMEOUT = 60.0

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>\w+)\s*(?P<arg>.*?)\s*-->\s*$")


@dataclasses.dataclass
class Block:
    """One fenced code block of a page."""

    #: The info string's first word (``python``, ``text``, ``sh``...).
    lang: str
    #: The code, without the fences.
    code: str
    #: 1-based line number of the opening fence.
    line: int
    #: ``docs-test`` marker just before the block: ``(what, argument)``.
    marker: tuple[str, str] | None = None
    #: Expected standard output (the ``text`` block that follows), if any.
    expected: str | None = None


def fenced_blocks(text: str) -> list[Block]:
    """Return the fenced code blocks of a Markdown page, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending_marker: tuple[str, str] | None = None
    last_code_end = -2
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if marker:
            pending_marker = (marker["what"], marker["arg"])
            i += 1
            continue
        opening = _FENCE.match(lines[i])
        if not opening:
            if lines[i].strip():
                pending_marker = None
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence) and set(lines[i].strip()) == {fence[0]}
        ):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        info = opening["info"].strip().split()
        block = Block(
            lang=info[0] if info else "",
            code="\n".join(body) + "\n",
            line=start + 1,
            marker=pending_marker,
        )
        adjacent = all(not line.strip() for line in lines[last_code_end + 1 : start])
        if block.lang == "text" and blocks and blocks[-1].lang == "python" and adjacent:
            blocks[-1].expected = block.code
        blocks.append(block)
        pending_marker = None
        last_code_end = i
        i += 1
    return blocks


def doc_pages() -> list[Path]:
    """Every Markdown page of the docs (the build folder left out)."""
    return sorted(
        path
        for path in DOCS.rglob("*.md")
        if "_build" not in path.relative_to(DOCS).parts
    )


def python_blocks(page: Path) -> list[Block]:
    """The Python blocks of *page*, skipped ones included."""
    return [
        b for b in fenced_blocks(page.read_text(encoding="utf-8")) if b.lang == "python"
    ]


# -- the tests -------------------------------------------------------------------

PAGES_WITH_EXAMPLES = [page for page in doc_pages() if python_blocks(page)]


def _id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=_id)
def test_page_examples_run(page: Path) -> None:
    blocks = python_blocks(page)
    skipped = [b for b in blocks if b.marker and b.marker[0] == "skip"]
    payload = [
        {
            "name": f"{_id(page)}:{b.line}",
            "code": b.code,
            "expected": b.expected,
            "pytest": bool(b.marker and b.marker[0] == "pytest"),
        }
        for b in blocks
        if b not in skipped
    ]
    env = {k: v for k, v in os.environ.items() if k != "SOCKSPEC_BACKEND"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="sockspec-docs-") as cwd:
        try:
            result = subprocess.run(
                [sys.executable, __file__],
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                cwd=cwd,
                env=env,
                timeout=PAGE_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"the examples of {_id(page)} ran longer than {PAGE_TIMEOUT:.0f} s; "
                f"output so far:\n{exc.stdout or ''}{exc.stderr or ''}"
            )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.strip().endswith(f"ran {len(payload)} blocks")


def test_markers_are_known_and_skips_give_a_reason() -> None:
    for page in doc_pages():
        for block in fenced_blocks(page.read_text(encoding="utf-8")):
            if block.marker is None:
                continue
            what, arg = block.marker
            where = f"{_id(page)}:{block.line}"
            assert what in {"skip", "pytest"}, f"{where}: unknown marker {what!r}"
            assert block.lang == "python", f"{where}: marker on a {block.lang} block"
            if what == "skip":
                assert arg, f"{where}: a skipped example must say why"


def test_block_reader_pairs_output_and_markers() -> None:
    page = (
        "intro\n\n<!-- docs-test: skip needs a real DNS -->\n```python\nx = 1\n```\n\n"
        "```python\nprint(2)\n```\n\n```text\n2\n```\n\n"
        "::: note\n````python\nprint('```')\n````\n:::\n"
    )
    blocks = fenced_blocks(page)
    assert [b.lang for b in blocks] == ["python", "python", "text", "python"]
    assert blocks[0].marker == ("skip", "needs a real DNS")
    assert blocks[1].marker is None
    assert blocks[1].expected == "2\n"
    assert blocks[3].code == "print('```')\n"
    assert blocks[3].line == 17


# -- the runner (this file run as a script) -----------------------------------


def _run_blocks(blocks: list[dict[str, object]]) -> None:
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    for n, block in enumerate(blocks):
        name, code = str(block["name"]), str(block["code"])
        if block["pytest"]:
            path = Path(f"test_docs_example_{n}.py")
            path.write_text(code, encoding="utf-8")
            status = pytest.main([str(path), "-q", "-p", "no:cacheprovider"])
            if status != 0:
                raise SystemExit(f"{name}: the pytest example failed (exit {status})")
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, name, "exec"), namespace)
        expected = block["expected"]
        if expected is not None:
            got = [line.rstrip() for line in out.getvalue().rstrip("\n").splitlines()]
            want = [line.rstrip() for line in str(expected).rstrip("\n").splitlines()]
            if got != want:
                raise SystemExit(
                    f"{name}: printed\n"
                    + "\n".join(got)
                    + "\nbut the page shows\n"
                    + "\n".join(want)
                )
        else:
            sys.stdout.write(out.getvalue())
    print(f"ran {len(blocks)} blocks")


if __name__ == "__main__":
    _run_blocks(json.load(sys.stdin))
