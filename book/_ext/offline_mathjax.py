"""Serve MathJax from the built site so that math typesets with no network.

The MathJax 3 ES5 bundle ships in the `mathjax` Python package installed by the pinned
`django-static-mathjax` wheel (``mathjax/static/mathjax/es5/``). On `config-inited` this
extension points Sphinx's `mathjax_path` at ``_static/mathjax/tex-mml-chtml.js`` (a path
relative to ``_static``); when an HTML build finishes it copies the bundle there. Nothing of
MathJax is committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SCRIPT = "tex-mml-chtml.js"


def mathjax_dir() -> Path:
    """The ES5 bundle of the installed `mathjax` package."""
    import mathjax

    path = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (path / SCRIPT).is_file():
        raise RuntimeError(f"offline_mathjax: no {SCRIPT} under {path}; install django-static-mathjax")
    return path


def _config_inited(app, config) -> None:
    mathjax_dir()  # fail early, before a long build, when the bundle is missing
    config.mathjax_path = f"mathjax/{SCRIPT}"


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_dir(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
