"""A large periodic cell: time and peak memory of classifying one 100,000-atom noisy fcc cell.

    python benchmarks/bench_large_cell.py [--atoms 100000] [--sigma 0.05] [--model FILE]

The cell (fcc Cu, a = 3.615 Angstrom, Gaussian noise ``--sigma`` in units of the nearest-neighbour
distance on every position) is built first; then, in the same process, the time of
``paper_lib.classify`` on it is measured against a reference timed in the same run: building an
ASE neighbour list of that cell (cutoff 3 Angstrom), the first step any per-atom analysis
(PTM, CNA) takes. Peak memory is the process's maximum resident set size (``ru_maxrss``) after classifying,
before the reference runs (TensorFlow itself accounts for about 650 MB of it).
Targets: correct class, <= 10 s, <= 2 GB.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from ase.build import bulk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=100_000)
    parser.add_argument("--sigma", type=float, default=0.05, help="noise, in nearest-neighbour distances")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args()

    from paper_lib.model import classify, load_model

    a = 3.615
    n = int(round((args.atoms / 4) ** (1 / 3)))
    cell = bulk("Cu", "fcc", a=a, cubic=True).repeat((n, n, n))
    rng = np.random.default_rng(0)
    cell.positions += rng.normal(0, args.sigma * a / np.sqrt(2), cell.positions.shape)
    loaded = load_model(args.model)
    classify(bulk("Cu", "fcc", a=a), loaded)                         # warm up TF and numba

    start = time.perf_counter()
    result = classify(cell, loaded)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # before the reference

    from ase.neighborlist import neighbor_list

    start = time.perf_counter()
    neighbor_list("i", cell, 3.0)
    reference = time.perf_counter() - start
    print(f"{len(cell)} atoms, fcc Cu, noise {args.sigma:.0%} of d_nn; model {loaded.path.name}")
    print(f"  classify: {result.label} (p = {result.confidence:.3f}) in {elapsed:.2f} s "
          f"({elapsed / reference:.2f}x an ASE neighbour list of the cell, {reference:.2f} s)")
    print(f"  peak memory of the process: {peak_mb:.0f} MB")
    ok = result.label == "fcc" and elapsed <= 10 and peak_mb <= 2048
    print(f"  target (fcc, <= 10 s, <= 2 GB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
