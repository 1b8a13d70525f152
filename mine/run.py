"""Papermill orchestration: run one notebook into a folder of its own, or every chapter of the book.

A run folder holds the executed notebook ``<stem>.ipynb``, what the notebook wrote into its
working directory (``figures/``, ``results.json``, ``timings.json``) and ``params.json``, the
effective parameters. It appears all at once: the notebook executes in a hidden temporary
folder beside the target, which is renamed into place only when every cell succeeded; a
failed or interrupted run removes it, and an earlier result is never touched.

Effective parameters = the notebook's defaults <- the profile's overrides <- ``-p`` overrides,
all validated (`mine.params`) before any kernel starts.

`build_book` runs every notebook into ``book/generated/<short>/``, skipping a chapter whose
stamp (hash of its effective parameters, the notebook's bytes, every ``mine/**/*.py``, and,
for a notebook whose metadata says ``{"mine": {"reads_results": true}}``, the other chapters'
``results.json``) is unchanged, then runs ``jupyter-book build . -W -n --keep-going``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .params import Param, ParameterError, load_profile, merge, params_hash, read_params
from .report import write_json_atomic

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout holding notebooks/ (next to this package), else the working directory."""
    root = PACKAGE_DIR.parent
    return root if (root / "notebooks").is_dir() else Path.cwd()


ROOT = project_root()
NOTEBOOKS_DIR = ROOT / "notebooks"
PROFILES_DIR = NOTEBOOKS_DIR / "profiles"
GENERATED_DIR = ROOT / "book" / "generated"
STAMP_FILE = "stamp.txt"
GENERATED_ENV = "MINE_GENERATED_DIR"  # tells a kernel where this project's executed chapters are
_NUMBERED = re.compile(r"^\d+_")


class ExecutionFailed(RuntimeError):
    """A notebook raised while executing; the message names the cell and the exception."""


@dataclass(frozen=True)
class Notebook:
    """A source notebook; `short` is its file stem without the number prefix."""

    path: Path
    params: dict[str, Param] = field(compare=False, repr=False)
    reads_results: bool = False

    @classmethod
    def load(cls, path: Path) -> "Notebook":
        import nbformat

        path = Path(path)
        meta = nbformat.read(path, as_version=4).metadata.get("mine", {})
        return cls(path, read_params(path), bool(meta.get("reads_results", False)))

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def short(self) -> str:
        return _NUMBERED.sub("", self.path.stem)


def notebook_paths(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The book's notebooks, NN_name.ipynb, in order."""
    return sorted(p for p in notebooks_dir.glob("*.ipynb") if _NUMBERED.match(p.name))


def find_notebook(spec: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> Notebook:
    """A notebook by short name ('theory'), stem ('00_theory') or path to an .ipynb file."""
    candidates = notebook_paths(notebooks_dir)
    for path in candidates:
        if spec in (path.stem, _NUMBERED.sub("", path.stem)):
            return Notebook.load(path)
    if spec.endswith(".ipynb") and Path(spec).is_file():
        return Notebook.load(Path(spec))
    names = ", ".join(_NUMBERED.sub("", p.stem) for p in candidates) or "none"
    raise ParameterError(f"unknown notebook '{spec}'; available: {names} (or a path to an .ipynb file)")


def effective_params(nb: Notebook, profile: str | None = None, overrides: dict[str, Any] | None = None,
                     profiles_dir: Path = PROFILES_DIR) -> dict[str, Any]:
    """Defaults <- profile <- overrides, each value validated; ParameterError on the first problem."""
    layers = []
    if profile:
        layers.append((f"in profile '{profile}'", load_profile(profiles_dir, profile).get(nb.short, {})))
    layers.append(("given with -p", overrides or {}))
    return merge(nb.params, *layers)


def execute(nb: Notebook, params: dict[str, Any], target: Path, *, extra: dict[str, str] | None = None,
            progress: bool = True) -> Path:
    """Execute `nb` with `params` so that `target` appears complete or not at all.

    `extra` maps file names to text written into the folder before it is moved into place
    (the book's stamp). Returns `target`; raises ExecutionFailed (or KeyboardInterrupt).
    """
    import papermill

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would make the run folder private
        try:
            with _environ({GENERATED_ENV: str(GENERATED_DIR)}), _quiet_papermill_inspection():
                papermill.execute_notebook(
                    str(nb.path), str(tmp / f"{nb.stem}.ipynb"), parameters=params, kernel_name="python3",
                    progress_bar=progress, cwd=str(tmp), log_output=False,
                )
        except papermill.PapermillExecutionError as exc:
            raise ExecutionFailed(_describe_failure(nb, exc)) from None
        write_json_atomic(tmp / "params.json", params)
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text)
        _move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextmanager
def _environ(values: dict[str, str]):
    """Environment variables set for the kernels started inside the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _InspectionNoise(logging.Filter):
    """Drops papermill's own parameter-inspection warnings: its line regex misreads a help text
    holding '=', and `mine.params` has already validated every name and value."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Unable to parse line", "Passed unknown parameter"))


@contextmanager
def _quiet_papermill_inspection():
    loggers, noise = [logging.getLogger("papermill"), logging.getLogger("papermill.translators")], _InspectionNoise()
    for logger in loggers:
        logger.addFilter(noise)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(noise)


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`. An older `target` is moved aside first, put back if the rename
    fails, and deleted once `tmp` is in place."""
    if not target.exists():
        os.rename(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / "previous")
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old / "previous", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _describe_failure(nb: Notebook, exc: Any) -> str:
    """Papermill's summary of a failed cell: where, the exception, the cell's source and traceback tail."""
    source = "\n".join("    " + line for line in (exc.source or "").splitlines())
    trace = [_ANSI.sub("", line) for line in (exc.traceback or [])]
    tail = "\n".join("  " + line for block in trace[-3:] for line in block.splitlines()[-6:])
    return (f"notebook '{nb.short}' ({nb.path}) failed in cell {exc.cell_index} "
            f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"  cell source:\n{source}\n  traceback (end):\n{tail}")


def run(spec: str, overrides: dict[str, Any] | None = None, profile: str | None = None,
        out: str | os.PathLike = ROOT / "runs", progress: bool = True) -> Path:
    """`python -m mine run`: validate, then execute into ``out/<short>-<hash8>/``; returns that folder."""
    nb = find_notebook(spec)
    params = effective_params(nb, profile, overrides)
    return execute(nb, params, Path(out) / f"{nb.short}-{params_hash(params)}", progress=progress)


# ---- the book ---------------------------------------------------------------------------

def stamp(nb: Notebook, params: dict[str, Any], notebooks: list[Notebook],
          generated_dir: Path = GENERATED_DIR) -> str:
    """Hash of everything a chapter's output depends on (see the module docstring)."""
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("params", json.dumps(params, sort_keys=True).encode())
    add("notebook", nb.path.read_bytes())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        add(f"mine/{path.relative_to(PACKAGE_DIR).as_posix()}", path.read_bytes())
    if nb.reads_results:
        for other in notebooks:
            results = generated_dir / other.short / "results.json"
            if other.short != nb.short:
                add(f"results/{other.short}", results.read_bytes() if results.is_file() else b"<missing>")
    return h.hexdigest()


def _say(message: str) -> None:
    print(message, flush=True)  # before jupyter-book's own output, which shares the stream


def jupyter_book_command(root: Path = ROOT) -> list[str]:
    """`jupyter-book build . -W -n --keep-going` with this environment's jupyter-book."""
    exe = Path(sys.executable).with_name("jupyter-book")
    exe = str(exe) if exe.exists() else shutil.which("jupyter-book") or "jupyter-book"
    return [exe, "build", str(root), "-W", "-n", "--keep-going"]


def build_book(profile: str | None = None, force: bool = False, progress: bool = True) -> int:
    """`python -m mine book`: execute changed chapters in order, then build the HTML; returns the exit code.

    Every chapter's parameters are validated before the first kernel starts.
    """
    notebooks = [Notebook.load(p) for p in notebook_paths()]
    if profile:
        unknown = set(load_profile(PROFILES_DIR, profile)) - {nb.short for nb in notebooks}
        for name in sorted(unknown):
            print(f"warning: profile '{profile}' names no notebook '{name}'", file=sys.stderr)
    params = {nb.short: effective_params(nb, profile) for nb in notebooks}
    total = time.perf_counter()
    for nb in notebooks:
        target = GENERATED_DIR / nb.short
        chapter_stamp = stamp(nb, params[nb.short], notebooks)
        stamp_path = target / STAMP_FILE
        if not force and stamp_path.is_file() and stamp_path.read_text().strip() == chapter_stamp:
            _say(f"skipped {nb.short}: unchanged since its last run ({target.relative_to(ROOT)})")
            continue
        _say(f"running {nb.short} ({nb.path.relative_to(ROOT)}) -> {target.relative_to(ROOT)}")
        start = time.perf_counter()
        execute(nb, params[nb.short], target, extra={STAMP_FILE: chapter_stamp + "\n"}, progress=progress)
        _say(f"ran {nb.short} in {time.perf_counter() - start:.1f} s")
    _say(f"chapters done in {time.perf_counter() - total:.1f} s; building the book")
    start = time.perf_counter()
    command = jupyter_book_command()
    if force:
        command.append("--all")
    code = subprocess.call(command, cwd=ROOT)
    _say(f"jupyter-book build {'succeeded' if code == 0 else 'FAILED'} in {time.perf_counter() - start:.1f} s")
    return code


def chapter_results(generated_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every executed chapter's results.json, by short name (for the conclusions page).

    Inside a kernel started by `execute`, the default folder is the one of the project that
    runs it (environment variable MINE_GENERATED_DIR), so a test copy reads its own chapters.
    """
    generated_dir = Path(generated_dir or os.environ.get(GENERATED_ENV) or GENERATED_DIR)
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(generated_dir.glob("*/results.json"))}
