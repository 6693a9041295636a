"""Classification throughput end to end from files, against spglib on the same structures.

    python benchmarks/bench_classify.py [--n 200] [--model FILE] [--processes N]

Writes ``--n`` structure files (CIF, POSCAR, extended XYZ; primitive cells of the seven classes with
random elements and parameters, randomly rotated), then times reading + classifying them with
``python -m paper_lib classify``'s code path on one core and on ``--processes`` cores. The
reference timed in the same run is reading the same files and asking spglib for the space group
(symprec 1e-3): the classical method, which needs no model.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write

from paper_lib.io import read_structure_file
from paper_lib.model import classify, load_model
from paper_lib.structures import CLASSES_7, prototype_for, random_rotation, spacegroup_number


def make_files(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        proto = prototype_for(CLASSES_7[i % 7], rng)
        atoms, _ = proto.build("Cu", 2.5, rng)
        atoms = random_rotation(atoms, rng)
        fmt = ("cif", "vasp", "extxyz")[i % 3]
        path = folder / f"s{i:04d}.{'vasp' if fmt == 'vasp' else fmt}"
        write(path, atoms, format=fmt)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    args = parser.parse_args()
    loaded = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.n)
        classify(read_structure_file(paths[0]), loaded)                    # warm up TF and numba
        start = time.perf_counter()
        for path in paths:
            spacegroup_number(read_structure_file(path)[0], 1e-3)
        spglib_rate = args.n / (time.perf_counter() - start)
        rates = {}
        for processes in sorted({1, args.processes}):
            start = time.perf_counter()
            structures = [read_structure_file(p)[0] for p in paths]
            results = classify(structures, loaded, processes=processes)
            rates[processes] = args.n / (time.perf_counter() - start)
        correct = sum(r.label == CLASSES_7[i % 7] for i, r in enumerate(results))
    print(f"{args.n} files (CIF/POSCAR/extXYZ), model {loaded.path.name}")
    print(f"  spglib (read + space group)       : {spglib_rate:7.1f} structures/s")
    for processes, rate in rates.items():
        print(f"  classify (read + fingerprint + CNN), {processes} core(s): {rate:7.1f} structures/s "
              f"({rate / spglib_rate:.2f}x spglib)")
    print(f"  correct class: {correct}/{args.n}")


if __name__ == "__main__":
    main()
