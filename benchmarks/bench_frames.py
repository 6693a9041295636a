"""How well the crystal frame and length scale are recovered, and at what cost.

    python benchmarks/bench_frames.py [--replicas 2] [--out frames.csv]

For every prototype of the seven classes, ``--replicas`` random crystals are written down as a
noisy, defective supercell of the primitive cell (about 450 atoms, periodic) and as a randomly
rotated spherical cluster (about 150-400 atoms), with Gaussian noise sigma in {0, 2, 5, 8} % of the
nearest-neighbour distance and vacancies eta in {0, 30} %. For each, ``crystal_frame`` gives a
lattice in its standard frame and the nearest-neighbour distance of the average crystal, compared
with the ideal crystal's:

* misorientation: the largest angle between a recovered lattice vector and the nearest ideal lattice
  vector of the same length (degrees);
* length error: |d_nn found / d_nn ideal - 1|, d_nn being the shortest distance between sites of
  the crystal (noise levels are in units of it too).

alpha-As (A7) is a small distortion of simple cubic: its pseudo-cubic lattice is found, a consistent
choice the network is trained on, so its angles are not scored. The reference timed in the same run
is spglib's standard cell (symprec 1e-3 Angstrom, what the paper's pre-processing calls) on the
same structures.
"""
from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
import pandas as pd
import spglib
from ase import Atoms
from scipy.spatial.transform import Rotation

from paper_lib.preprocessing import NoCrystalFrame, crystal_frame, exact_frame
from paper_lib.structures import PROTOTYPES, mean_nn_distance


def misorientation(found: np.ndarray, ideal: np.ndarray) -> float:
    """Largest angle (deg) between a row of ``found`` and the nearest same-length vector of the
    lattice spanned by the rows of ``ideal`` (both in the standard frame)."""
    grid = np.array(list(itertools.product(range(-3, 4), repeat=3)))
    ref = grid @ ideal
    ref = ref[np.linalg.norm(ref, axis=1) > 1e-9]
    worst = 0.0
    for v in found:
        same = np.abs(np.linalg.norm(ref, axis=1) - np.linalg.norm(v)) < 0.1 * np.linalg.norm(v)
        cos = np.where(same, ref @ v / np.linalg.norm(ref, axis=1) / np.linalg.norm(v), -1.0)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos.max(), -1, 1)))))
    return worst


def forms(primitive: Atoms, rng: np.random.Generator):
    reps = np.ones(3, dtype=int)
    while len(primitive) * reps.prod() < 400:
        reps[np.argmin(reps * primitive.cell.lengths())] += 1
    yield "primitive_supercell", primitive.repeat(reps)
    big = primitive.repeat(12 if len(primitive) < 3 else 8)
    centre = big.positions.mean(axis=0)
    keep = np.linalg.norm(big.positions - centre, axis=1) < 3.6 * mean_nn_distance(primitive)
    rotation = Rotation.random(random_state=rng.integers(2**31)).as_matrix()
    yield "rotated_cluster", Atoms(big.numbers[keep], (big.positions[keep] - centre) @ rotation.T)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--out", help="per-case CSV")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    rows, t_frame, t_spglib = [], 0.0, 0.0
    for name, proto in PROTOTYPES.items():
        for _ in range(args.replicas):
            primitive, _ = proto.build("Cu", 2.5, rng)
            ideal = exact_frame(primitive)
            d_nn = ideal.nn_distance            # the ideal crystal's nearest-neighbour distance
            ideal_lattice = ideal.lattice @ ideal.rotation.T
            for form, atoms in forms(primitive, rng):
                for sigma, eta in itertools.product((0, 2, 5, 8), (0, 30)):
                    case = atoms.copy()
                    case.positions += rng.normal(0, sigma / 100 * d_nn, case.positions.shape)
                    case = case[np.sort(rng.permutation(len(case))[int(eta / 100 * len(case)):])]
                    start = time.perf_counter()
                    try:
                        frame = crystal_frame(case)
                        error = None
                    except NoCrystalFrame as exc:
                        frame, error = None, str(exc)
                    t_frame += time.perf_counter() - start
                    start = time.perf_counter()
                    if case.pbc.all():
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            spglib.standardize_cell((case.cell.array, case.get_scaled_positions(), case.numbers),
                                                    symprec=1e-3)
                    t_spglib += time.perf_counter() - start
                    row = {"prototype": name, "form": form, "sigma": sigma, "eta": eta, "n_atoms": len(case),
                           "found": frame is not None, "error": error}
                    if frame is not None:
                        row["length_error"] = abs(frame.nn_distance / d_nn - 1)
                        row["misorientation"] = (np.nan if name == "A7_alpha-As" else
                                                 misorientation(frame.lattice @ frame.rotation.T, ideal_lattice))
                    rows.append(row)
    table = pd.DataFrame(rows)
    scored = table[table.found & (table.prototype != "A7_alpha-As")]
    print(f"{len(table)} structures; frame found for {table.found.mean():.1%}")
    summary = scored.groupby("sigma").agg(
        n=("found", "size"),
        median_deg=("misorientation", "median"), max_deg=("misorientation", "max"),
        within_half_deg=("misorientation", lambda m: f"{(m < 0.5).mean():.1%}"),
        median_length_error=("length_error", "median"),
        within_2pct=("length_error", lambda e: f"{(e < 0.02).mean():.1%}"))
    print(summary.to_string())
    print("\nframe found / within 0.5 deg, per prototype:")
    per = table.groupby("prototype").apply(lambda g: f"{g.found.mean():.0%} / "
                                           f"{(g.misorientation < 0.5).mean():.0%}", include_groups=False)
    print(per.to_string())
    n = len(table)
    print(f"\ntime per structure: crystal_frame {1e3 * t_frame / n:.1f} ms; "
          f"spglib standardize_cell (periodic forms only, symprec 1e-3) {1e3 * t_spglib / (n / 2):.1f} ms")
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
