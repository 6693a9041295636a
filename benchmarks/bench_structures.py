"""Structures generated per second on one core, by stage, and the paper preset's projected time.

    python benchmarks/bench_structures.py [--pristine 300]

Stages: pristine structures in the paper's class proportions (prototype, spglib check, random
rotation, standard cell, replication, scaling), defective variants (the paper preset's 20 levels),
and writing the rows to the ASE database. The reference measured in the same run is spglib's own
symmetry search on the same cells (the part of the pristine stage no implementation avoids), so
the ratio says how much the rest costs. The whole paper preset is timed by
``python -m paper_lib structures --config config/paper.yaml --processes 2`` (README).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from paper_lib import config
from paper_lib.defects import structure_rows, variant_plan
from paper_lib.io import write_structures
from paper_lib.structures import spacegroup_number, standard_conventional_cell

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pristine", type=int, default=300, help="pristine structures to time")
    args = parser.parse_args()
    paper = config.load(ROOT / "config" / "paper.yaml")
    plan = variant_plan(paper)
    rng = np.random.default_rng(0)
    sids = np.sort(rng.choice(paper.n_pristine, size=args.pristine, replace=False))

    start = time.perf_counter()
    batches = [structure_rows(paper, plan, int(sid)) for sid in sids]
    generate = time.perf_counter() - start
    rows = [row for batch in batches for row in batch]

    start = time.perf_counter()
    for batch in batches:
        crystal = batch[0][0].copy()
        crystal.pbc = True
        cell = standard_conventional_cell(crystal)
        spacegroup_number(cell, 1e-5)
        spacegroup_number(cell, 1e-3)
    spglib_time = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_structures(Path(tmp) / "bench.db", rows)
        write = time.perf_counter() - start

    n_rows = len(rows)
    per_pristine_total = (generate + write) / len(sids)
    total_paper = paper.n_pristine * (1 + len(paper.displacements) + len(paper.vacancies))
    print(f"{len(sids)} pristine + {n_rows - len(sids)} defective structures (paper levels), one core:")
    print(f"  generate (pristine + variants): {n_rows / generate:8.0f} structures/s "
          f"({generate / len(sids) * 1e3:.1f} ms per pristine with its {n_rows // len(sids) - 1} variants)")
    print(f"  spglib alone on the same cells : {spglib_time / len(sids) * 1e3:8.1f} ms per pristine "
          f"(generation / spglib = {generate / spglib_time:.1f}x)")
    print(f"  write to ASE database          : {n_rows / write:8.0f} structures/s")
    print(f"  end to end                     : {n_rows / (generate + write):8.0f} structures/s")
    print(f"paper preset: {total_paper} structures; projected {paper.n_pristine * per_pristine_total / 60:.1f} "
          f"min on one core, {paper.n_pristine * per_pristine_total / 60 / 2:.1f} min on two "
          f"(if the database writer kept pace)")


if __name__ == "__main__":
    main()
