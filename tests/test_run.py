"""Run folders through the real command line, on the tiny fixture notebook (a kernel start each, ~2 s)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY, mine_cli
from mine import run as runner


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones included) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_creates_the_folder(tmp_path):
    proc = mine_cli("run", str(TINY), "-p", "values", "[0, 5]", "-p", "scale", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path and folder.name.startswith("tiny-") and len(folder.name) == len("tiny-") + 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no temp folder left
    assert {"tiny.ipynb", "results.json", "timings.json", "params.json"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "results.json").read_text()) == {"fixture_total": 2.0 * (1 + 2 + 3 + 0 + 5)}
    params = json.loads((folder / "params.json").read_text())
    assert params["scale"] == 2.0 and params["values"] == [0, 5] and params["n"] == 3
    assert folder.name == f"tiny-{runner.params_hash(params)}"
    assert "Executing" in proc.stderr  # papermill's progress bar


def test_failure_leaves_no_trace_and_keeps_the_earlier_result(tmp_path):
    first = mine_cli("run", str(TINY), "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    before = snapshot(tmp_path)

    failed = mine_cli("run", str(TINY), "--out", str(tmp_path), env={"MINE_FIXTURE_FAIL": "1"})
    assert failed.returncode == 1
    assert "RuntimeError: fixture asked to fail" in failed.stderr
    assert 'raise RuntimeError("fixture asked to fail")' in failed.stderr  # the failing cell is shown
    assert snapshot(tmp_path) == before  # same single folder, byte for byte; no temp folder

    again = mine_cli("run", str(TINY), "--out", str(tmp_path))  # a success replaces the folder
    assert again.returncode == 0 and Path(again.stdout.strip()) == folder
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


@pytest.mark.parametrize("args, message", [
    (["-p", "n", "-3"], "error: parameter 'n' must be an integer in [1, 10]; got -3"),
    (["-p", "nonexistent", "1"], "error: unknown parameter 'nonexistent' (given with -p); known: n, scale"),
    (["-p", "values", "[1, 9]"], "error: parameter 'values' must be a list of integers in [0, 5]; got 9 in [1, 9]"),
    (["--profile", "nope"], "error: unknown profile 'nope'; available: ci"),
])
def test_invalid_parameters_exit_2_with_one_line(tmp_path, args, message):
    out = tmp_path / "runs"
    proc = mine_cli("run", str(TINY), *args, "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message) and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == "" and not out.exists()


def test_unknown_notebook(tmp_path):
    proc = mine_cli("run", "no_such_chapter", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown notebook 'no_such_chapter'")
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_removes_the_unfinished_folder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "mine", "run", str(TINY), "-p", "sleep_s", "60", "-q",
                             "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not any((p / "tiny.ipynb").exists() for p in tmp_path.glob(".tiny-*.tmp")):  # kernel is running
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_list_shows_parameters():
    proc = mine_cli("list", str(TINY))
    assert proc.returncode == 0, proc.stderr
    assert "n: int = 3; in [1, 10]" in proc.stdout and "how many integers to add" in proc.stdout
    assert "values: list[int] = [1, 2]; each in [0, 5]" in proc.stdout
    assert "mode: str = 'sum'; one of sum, max" in proc.stdout
    every = mine_cli("list")
    assert every.returncode == 0, every.stderr
    for path in runner.notebook_paths():
        assert f"{runner.Notebook.load(path).short}  (" in every.stdout


def test_stamp_tracks_params_notebook_and_read_results(tmp_path):
    import shutil

    copy = tmp_path / "00_tiny.ipynb"
    shutil.copy(TINY, copy)
    nb = runner.Notebook.load(copy)
    reader = runner.Notebook(copy, nb.params, reads_results=True)
    other = runner.Notebook(tmp_path / "01_other.ipynb", {})
    params = {"n": 3}
    base = runner.stamp(nb, params, [nb, other], tmp_path)
    assert runner.stamp(nb, params, [nb, other], tmp_path) == base
    assert runner.stamp(nb, {"n": 4}, [nb, other], tmp_path) != base
    read = runner.stamp(reader, params, [reader, other], tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results.json").write_text("{}")
    assert runner.stamp(nb, params, [nb, other], tmp_path) == base  # does not read results
    assert runner.stamp(reader, params, [reader, other], tmp_path) != read
    copy.write_bytes(copy.read_bytes() + b" ")
    assert runner.stamp(nb, params, [nb, other], tmp_path) != base


def test_chapter_results_reads_every_chapter(tmp_path, monkeypatch):
    for name, value in [("theory", 1), ("gaussian_losses", 2)]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"x": value}))
    monkeypatch.setenv(runner.GENERATED_ENV, str(tmp_path))
    assert runner.chapter_results() == {"gaussian_losses": {"x": 2}, "theory": {"x": 1}}
