"""Run independent training tasks in several single-threaded processes.

The batched ensembles of the Gaussian and GAN chapters are small networks whose steps are
dominated by per-operation overhead, so a second torch thread in the same process buys
little and stalls whenever another program wants a core. Splitting an ensemble into
sub-ensembles, one per process, keeps every core busy instead. The training code
guarantees that a member's result does not depend on which members share its ensemble,
so the split changes the wall time, not the numbers.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def split(items: Sequence[T], parts: int) -> list[list[T]]:
    """`items` in min(parts, len(items)) consecutive chunks whose sizes differ by at most one,
    larger chunks first (15 items in 2 parts: 8 + 7)."""
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be an integer >= 1, got {parts!r}")
    items = list(items)
    return [[items[i] for i in chunk] for chunk in np.array_split(np.arange(len(items)), max(1, min(parts, len(items)))) if len(chunk)]


def _single_thread() -> None:
    torch.set_num_threads(1)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[tuple], workers: int = 1,
              cost: Callable[[tuple], float] | None = None) -> list:
    """[fn(*task) for task in tasks], computed in `workers` processes.

    With workers == 1 the tasks run here, in order. Otherwise they run in a pool of `workers`
    "spawn" processes (fresh interpreters: safe with torch, and the same on every OS), each
    starting with one torch thread (`fn` may set its own), submitted largest `cost` first so
    that the processes finish together. `fn` and the tasks must be picklable (`fn` defined at
    module level). Results come back in the order of `tasks` whatever the schedule.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        return [fn(*task) for task in tasks]
    order = sorted(range(len(tasks)), key=lambda i: -cost(tasks[i]) if cost else 0)  # stable: ties keep their order
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, max(len(tasks), 1)), mp_context=context, initializer=_single_thread) as pool:
        futures = {i: pool.submit(fn, *tasks[i]) for i in order}
        return [futures[i].result() for i in range(len(tasks))]
