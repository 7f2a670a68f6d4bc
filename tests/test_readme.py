"""The README's code runs and its Quickstart matches CI."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

import sockspec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("code", _blocks("python"))
def test_readme_python_examples_run_on_every_backend(
    code: str, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example names no backend: the one chosen from outside must show.
    with sockspec.use_backend(backend):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip() == f"{backend} b'hello'"


def test_quickstart_has_two_commands_and_ci_runs_the_second() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = (
        re.findall(r"```sh\n(.*?)```", quickstart, flags=re.S)[0].strip().splitlines()
    )
    assert len(commands) == 2
    assert "sockspec check" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci


def test_tox_skips_missing_pythons_but_ci_demands_them() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    assert tox.getboolean("tox", "skip_missing_interpreters")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = ci.index("python3 -m tox")
    assert "export TOX_SKIP_MISSING_INTERPRETERS=false\n" in ci[:command]
