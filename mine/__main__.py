"""The command line: ``python -m mine list | run | book`` (``--help`` on each).

Exit codes: 0 success, 1 a notebook or the book build failed, 2 a bad parameter, profile or
notebook name (nothing written), 130 interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import sys

from . import run as runner
from .params import NotebookError, ParameterError, format_params, parse_value


def _list(args: argparse.Namespace) -> int:
    notebooks = ([runner.find_notebook(spec) for spec in args.notebooks] if args.notebooks
                 else [runner.Notebook.load(path) for path in runner.notebook_paths()])
    if not notebooks:
        print(f"no notebooks (NN_name.ipynb) in {runner.NOTEBOOKS_DIR}")
    for nb in notebooks:
        print(f"{nb.short}  ({nb.path})")
        print("\n".join(format_params(nb.params.values())) or "  (no parameters)")
    return 0


def _run(args: argparse.Namespace) -> int:
    overrides = {name: parse_value(value) for name, value in args.param}
    folder = runner.run(args.notebook, overrides, args.profile, args.out, progress=not args.quiet)
    print(folder)
    return 0


def _book(args: argparse.Namespace) -> int:
    return runner.build_book(args.profile, force=args.force, progress=not args.quiet)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m mine", description="Run the report's notebooks and build the book.",
        epilog="Examples: python -m mine list; python -m mine run theory -p seed 1; "
               "python -m mine book --profile ci")
    sub = top.add_subparsers(dest="command", required=True, metavar="{list,run,book}")

    p = sub.add_parser("list", help="every notebook with its parameters, defaults, allowed values and help",
                       description="List every notebook in notebooks/ (or the ones named) with its short name "
                                   "and each parameter: name, type, default, allowed range or choices, help.")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="short name, stem or path (default: all)")
    p.set_defaults(func=_list)

    p = sub.add_parser("run", help="execute one notebook into runs/<short>-<hash>/",
                       description="Execute one notebook with papermill into OUT/<short>-<hash8>/ (hash of the "
                                   "effective parameters): the executed notebook, figures/, results.json, "
                                   "timings.json, params.json. Parameters are validated before any kernel starts; "
                                   "a failed or interrupted run leaves nothing behind.")
    p.add_argument("notebook", help="short name (theory), stem (00_theory) or path to an .ipynb file")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a parameter; VALUE is read like YAML (3, 1e-3, true, dv, \"[0.2, 0.5]\")")
    p.add_argument("--profile", help="apply notebooks/profiles/PROFILE.yaml first (e.g. ci: small budgets)")
    p.add_argument("--out", default=str(runner.ROOT / "runs"), help="parent folder of the run folder (default: runs/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    p = sub.add_parser("book", help="execute changed chapters into book/generated/ and build _build/html",
                       description="Execute every notebook in order into book/generated/<short>/, skipping a "
                                   "chapter whose parameters, notebook and mine/ sources are unchanged, then run "
                                   "jupyter-book build . -W -n --keep-going.")
    p.add_argument("--profile", help="apply notebooks/profiles/PROFILE.yaml (e.g. ci: small budgets)")
    p.add_argument("--force", action="store_true", help="rerun every chapter and rebuild every page")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_book)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ParameterError, NotebookError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except runner.ExecutionFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the unfinished run folder was removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
