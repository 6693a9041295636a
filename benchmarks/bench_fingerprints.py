"""Fingerprints per second for 256-atom clusters, against a float64 numpy direct sum (same run).

    python benchmarks/bench_fingerprints.py [--seconds 5] [--processes N]

Two clusters: fcc (4 x 4 x 4 conventional cells, one element) and a random cluster of 256 atoms of
three elements. For each: our fingerprint on one core, on all cores (``fingerprints(...,
processes=N)``), and the straightforward float64 numpy evaluation of the same six patterns
(phases by matrix product, complex exponentials, weighted sum); the ratios are what to read,
since absolute speeds vary between machines and with load. Condor needs about 1 s per
fingerprint on one core of these machines; the target is >= 50 fingerprints/s.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import bulk  # noqa: E402

from paper_lib import fingerprint, fingerprints  # noqa: E402
from paper_lib.diffraction import (ANGLE_DEG, Z_SHIFT, detector, form_factor, pixel_mask,  # noqa: E402
                                   prepare_cluster, rotation_matrix)


def numpy_fingerprint(atoms: Atoms) -> np.ndarray:
    """The reference: the same fingerprint by a plain float64 numpy direct sum."""
    cluster = prepare_cluster(atoms, target_atoms=None)
    det = detector()
    keep = pixel_mask()
    q = det.q[keep]
    s = np.linalg.norm(q, axis=1) / (4 * np.pi)
    numbers = cluster.numbers + Z_SHIFT
    f = np.stack([form_factor(z, s) for z in numbers], axis=1)          # (P, N)
    channels = np.zeros((3, det.q.shape[0]))
    for c, axis in enumerate("xyz"):
        for sign in (1, -1):
            r = cluster.positions @ rotation_matrix(axis, sign * ANGLE_DEG).T
            amplitude = np.sum(f * np.exp(-1j * (q @ r.T)), axis=1)
            channels[c, keep] += det.solid_angle[keep] * np.abs(amplitude) ** 2
    stack = (channels - channels.min()) / (channels.max() - channels.min())
    return stack.reshape(3, 64, 64).transpose(1, 2, 0).astype(np.float32)


def per_second(func, seconds: float) -> float:
    func()                                                               # warm up / compile
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        func()
        n += 1
    return n / (time.perf_counter() - start)


def clusters() -> dict[str, Atoms]:
    fcc = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((4, 4, 4))
    fcc.pbc = False
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 6.3, size=(256, 3))
    mixed = Atoms(numbers=rng.choice([8, 13, 28], size=256), positions=positions)
    return {"fcc-256": fcc, "random-256 (O/Al/Ni)": mixed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement (s)")
    parser.add_argument("--processes", type=int, default=os.cpu_count(), help="cores for the parallel run")
    args = parser.parse_args()
    print(f"{'cluster':24s} {'numpy f64 /s':>12s} {'ours 1 core /s':>15s} {'ratio':>7s} "
          f"{f'ours {args.processes} cores /s':>17s} {'scaling':>8s} {'max |diff|':>10s}")
    for name, atoms in clusters().items():
        reference = per_second(lambda: numpy_fingerprint(atoms), args.seconds)
        ours = per_second(lambda: fingerprint(atoms, target_atoms=None), args.seconds)
        batch = [atoms] * max(200, int(ours * args.processes * args.seconds))
        start = time.perf_counter()
        fingerprints(batch, processes=args.processes, target_atoms=None, progress=False)
        parallel = len(batch) / (time.perf_counter() - start)
        diff = np.abs(numpy_fingerprint(atoms) - fingerprint(atoms, target_atoms=None)).max()
        print(f"{name:24s} {reference:12.2f} {ours:15.1f} {ours / reference:6.0f}x "
              f"{parallel:17.1f} {parallel / ours:7.2f}x {diff:10.1e}")


if __name__ == "__main__":
    main()
