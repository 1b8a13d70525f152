"""Slow: every notebook executed under the ci profile through `python -m mine book`, the book built
with -W -n (in a scratch copy, see conftest.book), chapter skipping, and determinism."""

from __future__ import annotations

import json
import re

import pytest

from conftest import mine_cli, toc_files
from mine import run as runner

pytestmark = pytest.mark.slow


def chapters(project):
    return [runner.Notebook.load(p) for p in runner.notebook_paths(project / "notebooks")]


def test_book_builds_without_warnings(book):
    project, proc = book
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "build succeeded" in proc.stdout
    warnings = re.findall(r".*\bWARNING:.*", proc.stdout + proc.stderr)  # Sphinx's form, not a kernel's log
    assert warnings == []


def test_every_chapter_ran_into_its_folder(book):
    project, proc = book
    assert chapters(project), "no notebooks found"
    for nb in chapters(project):
        folder = project / "book" / "generated" / nb.short
        assert f"ran {nb.short} in" in proc.stdout
        for name in (f"{nb.stem}.ipynb", "results.json", "params.json", runner.STAMP_FILE):
            assert (folder / name).is_file(), f"{folder / name} missing"
        assert json.loads((folder / "results.json").read_text()), f"{nb.short}: empty results.json"
    assert not list((project / "book" / "generated").glob(".*")), "temporary folders left behind"


def test_every_page_exists_with_offline_mathjax(book):
    project, _ = book
    html = project / "_build" / "html"
    assert (html / "index.html").is_file()
    for page in toc_files(project / "_toc.yml"):
        assert (html / f"{page}.html").is_file(), f"{page}.html missing"
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def test_unchanged_chapters_are_skipped(book):
    project, first = book
    assert first.returncode == 0
    again = mine_cli("book", "--profile", "ci", "--quiet", cwd=project)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for nb in chapters(project):
        assert f"skipped {nb.short}: unchanged" in again.stdout
    assert "ran " not in again.stdout


def test_same_seed_same_results(book, tmp_path):
    """The theory chapter run again (through `run`, into another folder) gives byte-identical results."""
    project, _ = book
    proc = mine_cli("run", "theory", "--profile", "ci", "--quiet", "--out", str(tmp_path), cwd=project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / proc.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]
    generated = project / "book" / "generated" / "theory"
    for name in ("results.json", "params.json"):
        assert (folder / name).read_bytes() == (generated / name).read_bytes(), name
