"""One way to map a function over many items: on a pool of forked worker processes, or here when
there is one process, with a progress bar on stderr.

Used by every stage that works item by item (structures, fingerprints, baselines). The function
runs in the workers as it is (a fork pool: nothing is pickled but the items and the results); an
item that should not stop the batch is the function's to catch and report in its result.
"""
from __future__ import annotations

import os
import sys

#: thread pools of the numerical libraries, set to one thread in every worker (the workers share
#: the cores among themselves)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads() -> None:
    """One thread per numerical library in this process: the initializer of every worker pool of the
    package (this module's, and the one classify streams its chunks through)."""
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"


def progress_bar(iterable=None, *, progress: bool | None = True, **kwargs):
    """A tqdm bar on stderr that updates every 2 s on a terminal and every 30 s elsewhere (a log
    file keeps a line per half minute). ``progress``: True shows it, False hides it, None shows it
    only on a terminal. Other keywords go to tqdm (``total``, ``desc``, ``unit``)."""
    from tqdm import tqdm

    return tqdm(iterable, disable=None if progress is None else not progress,
                mininterval=2 if sys.stderr.isatty() else 30, **kwargs)


def parallel_map(func, items, processes: int = 1, *, ordered: bool = True, chunksize: int | None = None,
                 progress: bool | None = True, desc: str | None = None, unit: str = "it"):
    """Yield ``func(item)`` for every item, on ``processes`` forked workers (each with
    :func:`limit_threads`) or in this process when ``processes`` is 1 or there is at most one item.

    ``ordered``: results in the order of ``items``; otherwise as they finish. ``chunksize``: items
    handed to a worker at a time (default: about four chunks per worker, at most 16 items each).
    ``progress``, ``desc``, ``unit``: the bar (see :func:`progress_bar`), one step per item. The
    pool is ended when the generator is exhausted or closed; an exception ``func`` raises ends the
    map and reaches the caller.
    """
    items = list(items)
    bar = dict(total=len(items), desc=desc, unit=unit, progress=progress)
    if processes <= 1 or len(items) <= 1:
        yield from progress_bar(map(func, items), **bar)
        return
    import multiprocessing as mp

    if chunksize is None:
        chunksize = max(1, min(16, len(items) // (4 * processes)))
    with mp.get_context("fork").Pool(processes, initializer=limit_threads) as pool:   # exit: terminate
        mapped = pool.imap if ordered else pool.imap_unordered
        yield from progress_bar(mapped(func, items, chunksize=chunksize), **bar)
