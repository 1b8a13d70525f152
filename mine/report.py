"""The bridge from an executing notebook to the book and to `results.json`.

A notebook records each key number, table and figure once through `Report`: the value is
glued for the prose (myst-nb `glue`, pasted with ``{glue:text}`` / ``{glue:figure}``) and
kept for `results.json`, which tests, CI and the conclusions page read. Figures are also
saved as PNG under `figures/`. Wall-clock times go to `timings.json` instead, so that
`results.json` is identical for identical parameters and seeds.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and Inf as None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, pd.DataFrame):
        return to_jsonable(value.to_dict("records"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as sorted, indented JSON; readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(to_jsonable(data), f, indent=2, sort_keys=True, allow_nan=False)
        f.write("\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)  # NamedTemporaryFile creates 0600; give the file the usual mode
    os.replace(f.name, path)


class Report:
    """Collects a notebook's key results; `save()` writes them next to the notebook."""

    def __init__(self, directory: str | os.PathLike = "."):
        self.directory = Path(directory)
        self.results: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    def number(self, key: str, value: Any) -> Any:
        """Glue a scalar (or small list/dict) and record it in results.json."""
        from myst_nb import glue

        value = to_jsonable(value)
        glue(key, value, display=False)
        self.results[key] = value
        return value

    def table(self, key: str, frame: pd.DataFrame, *, display_frame=None) -> None:
        """Glue a table (optionally a formatted copy, e.g. a Styler, for display) and record its
        rows. Returns nothing, so that a cell ending in it does not show the table a second time."""
        from myst_nb import glue

        glue(key, frame if display_frame is None else display_frame, display=False)
        self.results[key] = to_jsonable(frame)

    def figure(self, key: str, fig) -> None:
        """Glue a matplotlib figure, save it as figures/<key>.png and close it."""
        import matplotlib.pyplot as plt
        from IPython.display import Image
        from myst_nb import glue

        path = self.directory / "figures" / f"{key}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        # glue the PNG itself: under the Agg backend (mine.plots) a Figure has no image repr
        glue(key, Image(filename=str(path)), display=False)
        plt.close(fig)

    def timing(self, key: str, seconds: float) -> float:
        """Glue a wall-clock time in seconds; recorded in timings.json, not results.json."""
        from myst_nb import glue

        seconds = float(seconds)
        glue(key, seconds, display=False)
        self.timings[key] = seconds
        return seconds

    def save(self) -> None:
        """Write results.json (and timings.json when any) into the report's directory."""
        write_json_atomic(self.directory / "results.json", self.results)
        if self.timings:
            write_json_atomic(self.directory / "timings.json", self.timings)
