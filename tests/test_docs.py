"""README.md and docs/*.md stay true to the code: every command they show answers ``--help``, and
every relative link (and its #anchor) leads somewhere."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(python3? [^`]+)`")
COMMAND = re.compile(r"(?:^|[\s;(])python3? (-m [A-Za-z_][\w.]*|[\w./-]+\.py)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def commands(text: str) -> set[str]:
    """``-m module`` or ``script.py`` of every python command in fenced blocks and inline code."""
    code = "\n".join(FENCE.findall(text)) + "\n" + "\n".join(INLINE.findall(text))
    return set(COMMAND.findall(code))


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_readme_fits_on_a_screen_or_two():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_commands_are_found():
    found = set().union(*(commands(p.read_text()) for p in PAGES))
    assert {"train.py", "test.py", "aggregate.py", "-m data.prepare", "-m evaluation.score"} <= found
    assert commands("```bash\npython -m a.b --x 1\n```\nsee `python c.py --y`") == {"-m a.b", "c.py"}


HELP_ALL = """
import contextlib, io, json, runpy, sys
failed = {}
for command in sys.argv[1:]:
    sys.argv = [command.split()[-1], "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            if command.startswith("-m "):
                runpy.run_module(command[3:], run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(command, run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code or 0
    except BaseException as e:
        code, out = 1, io.StringIO(repr(e))
    if code != 0 or "usage" not in out.getvalue().lower():
        failed[command] = out.getvalue()[-400:]
print(json.dumps(failed))
"""
"""Runs each command's ``--help`` in one process (the imports they share are paid once)."""


@pytest.mark.slow
def test_every_command_named_in_readme_and_docs_answers_help():
    found = sorted(set().union(*(commands(p.read_text()) for p in PAGES)))
    done = subprocess.run([sys.executable, "-c", HELP_ALL, *found], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    failed = json.loads(done.stdout.splitlines()[-1])
    assert not failed, failed


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path):
    text = FENCE.sub("", page.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"
