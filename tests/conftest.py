"""Shared helpers: the command line in a subprocess, the tiny fixture notebook, and (slow) one
ci-profile book built in a scratch copy of the project, so that the user's own book/generated/
(perhaps hours of full-settings runs) and _build/ are never replaced by the small ci ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TINY = FIXTURES / "tiny.ipynb"
# Not copied into the scratch project: environments, caches, and every output the book writes.
_NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "_build", "runs", "generated", "__pycache__", "*.egg-info",
                                     ".pytest_cache", ".ipynb_checkpoints")


def mine_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m mine ARGS` with this interpreter; cwd decides which checkout's `mine` runs."""
    return subprocess.run([sys.executable, "-m", "mine", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def toc_files(toc: Path) -> list[str]:
    """Every page of _toc.yml (root first), as paths without suffix."""
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))
            for part in entry.get("parts", []):
                walk(part.get("chapters"))

    walk(data.get("chapters"))
    for part in data.get("parts", []):
        walk(part.get("chapters"))
    return files


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """`python -m mine book --profile ci --force` run once in a scratch copy of the project.

    Returns (project root of the copy, the finished process).
    """
    project = tmp_path_factory.mktemp("book") / "project"
    shutil.copytree(ROOT, project, ignore=_NOT_COPIED)
    proc = mine_cli("book", "--profile", "ci", "--force", "--quiet", cwd=project, timeout=1800)
    summary = [line for line in proc.stdout.splitlines() if line.startswith(("ran ", "chapters done", "jupyter-book"))]
    print("\n".join(summary), proc.stderr[-5000:] if proc.returncode else "", sep="\n")
    return project, proc
