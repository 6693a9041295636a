"""Time per structure of every method on the same defective structures, in one run, on one core:
spglib at the four tolerances, PTM, and the CNN (fingerprint + prediction, the shipped model).

    python benchmarks/bench_baselines.py [--per-class 6]

Prints each method's time per structure and its ratio to the CNN's.
"""
import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import numpy as np  # noqa: E402

from paper_lib import config  # noqa: E402
from paper_lib.baselines import SPGLIB_SETTINGS, periodic_supercell, ptm_prediction, spglib_prediction  # noqa: E402
from paper_lib.defects import apply  # noqa: E402
from paper_lib.structures import CLASSES_7, pristine_of  # noqa: E402


def structures(per_class: int):
    raw = config.load("config/quick.yaml").raw
    preset = config.validate({**raw, "pristine": {**raw["pristine"], "counts": {c: per_class for c in CLASSES_7}}})
    rng = np.random.default_rng(0)
    out = []
    for sid in range(preset.n_pristine):
        atoms, record = pristine_of(preset, sid)
        for kind, level in (("pristine", 0), ("vacancies", 10), ("displacements", 2)):
            defective = atoms if kind == "pristine" else apply(kind, level, atoms, rng)
            out.append((kind, defective, record["nn_distance"]))
    return out


def timed(function, items):
    start = time.perf_counter()
    for item in items:
        function(item)
    return (time.perf_counter() - start) / len(items)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6)
    args = parser.parse_args()
    from paper_lib.diffraction import fingerprint
    from paper_lib.model import load_model, predict

    items = structures(args.per_class)
    crystals = [(kind, periodic_supercell(a, nn)) for kind, a, nn in items]
    model = load_model()
    params = {k: v for k, v in model.fingerprint.items() if k != "target_atoms"}
    predict(model, fingerprint(items[0][1], target_atoms=None, **params)[None])     # compile once

    def cnn(item):
        predict(model, fingerprint(item[1], target_atoms=None, **params)[None])

    cnn_time = timed(cnn, items)
    print(f"{len(items)} structures ({args.per_class} per class; pristine, 10 % vacancies, 2 % displacements), one core")
    print(f"{'method':14s} {'ms/structure':>13s} {'vs CNN':>8s}")
    print(f"{'cnn':14s} {cnn_time * 1e3:13.1f} {1.0:8.2f}")
    for method, (symprec, angle) in SPGLIB_SETTINGS.items():
        t = timed(lambda c: spglib_prediction(c[1], symprec, angle, CLASSES_7), crystals)
        print(f"{method:14s} {t * 1e3:13.1f} {t / cnn_time:8.2f}")
        for kind in ("pristine", "vacancies"):
            subset = [c for c in crystals if c[0] == kind]
            t = timed(lambda c: spglib_prediction(c[1], symprec, angle, CLASSES_7), subset)
            print(f"{'  ' + kind:14s} {t * 1e3:13.1f} {t / cnn_time:8.2f}")
    t = timed(lambda c: ptm_prediction(c[1], CLASSES_7), crystals)
    print(f"{'ptm':14s} {t * 1e3:13.1f} {t / cnn_time:8.2f}")


if __name__ == "__main__":
    main()
