"""Pristine accuracy on test structures that are not near-copies of training ones.

    python benchmarks/bench_grouped_split.py --results results/quick --folds 5 --seeds 2018 2019 2020 \
        --out figures/quick/grouped_split.csv

All structures are scaled to unit nearest-neighbour distance, so a random held-out split tests the
cubic classes on the geometry the network trained on (another element only changes the form factor)
and the other classes on a c/a a training structure nearly shares. This trains the paper's network
(:func:`paper_lib.model.train`, the preset's recipe: 5 epochs, Adam 1e-3, batches of 32) on the
pristine fingerprints of ``--results`` under two k-fold splits with the same number of folds:

``random``
    class-stratified random folds (:func:`paper_lib.structures.random_folds`), the usual split;
``grouped``
    :func:`paper_lib.structures.grouped_folds`: ranges of c/a (or of the rhombohedral angle) held out
    with a 1 % gap for bct_139, bct_141, hex and rh; whole elements held out for bcc, diam, fcc and sc,
    whose geometry is one and the same.

Every structure is tested once per seed. ``train`` keeps one structure per class of its training
set aside for its own validation (both splits alike). Prints the accuracy (%) per split, seed and
class, with a Wilson 95 % interval over the pooled test structures, and the distance from each test
fingerprint to the nearest training fingerprint (root-mean-square over pixels; fingerprints are in
[0, 1]); writes one row per test structure, split and seed to ``--out``.
"""
from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def load(results: Path):
    """Pristine fingerprints (n, 64, 64, 3), their records (label, prototype, element, free
    parameters) and the classes, from a preset's results folder."""
    from ase.db import connect

    from paper_lib.io import load_fingerprint_set

    data = load_fingerprint_set(sorted(glob.glob(str(results / "fingerprints" / "shard-*.h5"))), defect="pristine")
    rows = {row.sid: row.key_value_pairs for row in connect(results / "structures.db").select(defect="pristine")}
    records = pd.DataFrame([rows[int(sid)] for sid in data["sid"]])
    for column in ("c_over_a", "alpha", "z"):
        if column not in records:
            records[column] = np.nan
    return data["fingerprints"], records, sorted(set(records["label"]))


def nearest_distance(fingerprints, test, train) -> np.ndarray:
    """Root-mean-square pixel difference from each test fingerprint to its nearest training one."""
    a = fingerprints[test].reshape(len(test), -1).astype(np.float64)
    b = fingerprints[train].reshape(len(train), -1).astype(np.float64)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared.min(axis=1), 0) / a.shape[1])


def summarise(table: pd.DataFrame) -> None:
    """Print the accuracies of a result table (one row per test structure, split and seed)."""
    from paper_lib.evaluation import wilson_interval
    from paper_lib.structures import SPLIT_PARAMETER

    seeds = sorted(set(table["seed"]))
    table = table.assign(free=table["prototype"].isin(list(SPLIT_PARAMETER)))
    print("\naccuracy (%) per split and seed, every structure tested once per seed:")
    per_seed = table.groupby(["split", "seed"])["right"].mean().unstack("seed") * 100
    print(per_seed.round(1).to_string())
    for (split, free), part in [((s, None), table[table["split"] == s]) for s in ("random", "grouped")] + \
            [((s, f), table[(table["split"] == s) & (table["free"] == f)]) for f in (True, False)
             for s in ("random", "grouped")]:
        k, n = int(part["right"].sum()), len(part)
        low, high = wilson_interval(k, n)
        by_seed = part.groupby("seed")["right"].mean() * 100
        which = {None: "all classes", True: "bct_139, bct_141, hex/rh (a free parameter)",
                 False: "bcc, diam, fcc, sc (no free parameter)"}[free]
        print(f"{split:8s} {which}: {by_seed.mean():.1f} ± {by_seed.std() if len(by_seed) > 1 else float('nan'):.1f} % "
              f"(mean ± s.d. over seeds {', '.join(f'{v:.1f}' for v in by_seed)}); pooled {k}/{n}, "
              f"Wilson 95 % {100 * low:.1f}-{100 * high:.1f} %")
    print("\nrecall (%) per prototype, pooled over seeds:")
    print((table.groupby(["split", "prototype"])["right"].mean().unstack("prototype") * 100).round(1).to_string())
    print("\nnearest training fingerprint, rms (median per split and class):")
    first = table[table["seed"] == seeds[0]]
    print(first.groupby(["split", "label"])["nearest_rms"].median().unstack("label").round(4).to_string())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results/quick"), help="a preset's results folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[2018], help="training seeds")
    parser.add_argument("--tolerance", type=float, default=None, help="relative gap of the grouped split")
    parser.add_argument("--out", type=Path, help="CSV, one row per test structure, split and seed")
    parser.add_argument("--summarise", type=Path, help="only print the summary of such a CSV (no training)")
    args = parser.parse_args(argv)
    if args.summarise:
        summarise(pd.read_csv(args.summarise))
        return 0

    from paper_lib.model import LoadedModel, limit_tensorflow_threads, predict, train
    from paper_lib.structures import GEOMETRY_TOLERANCE, grouped_folds, random_folds

    limit_tensorflow_threads(2)
    tolerance = GEOMETRY_TOLERANCE if args.tolerance is None else args.tolerance
    fingerprints, records, classes = load(args.results)
    labels = records["label"].to_numpy()
    splits = {"random": random_folds(labels, args.folds, seed=0),
              "grouped": grouped_folds(records, args.folds, tolerance=tolerance, seed=0)}
    print(f"{len(records)} pristine structures of {args.results}, {args.folds} folds, seeds {args.seeds}")
    rows = []
    for split, folds in splits.items():
        for k, fold in enumerate(folds):
            distance = nearest_distance(fingerprints, fold.test, fold.train)
            print(f"{split} fold {k}: train {len(fold.train)}, test {len(fold.test)}, excluded "
                  f"{len(fold.excluded)}; nearest training fingerprint: median rms {np.median(distance):.4f}")
            for seed in args.seeds:
                start = time.perf_counter()
                result = train(fingerprints[fold.train], labels[fold.train], classes, seed=seed,
                               validation_fraction=0.0, verbose=0)
                loaded = LoadedModel(model=result.model, classes=tuple(classes),
                                     fingerprint=result.metadata["fingerprint"], metadata=result.metadata,
                                     path=Path("(in memory)"))
                predicted = np.array(classes)[predict(loaded, fingerprints[fold.test]).argmax(axis=1)]
                for i, index in enumerate(fold.test):
                    rows.append({"split": split, "fold": k, "seed": seed, "index": int(index),
                                 "label": labels[index], "prototype": records["prototype"].iloc[index],
                                 "element": records["element"].iloc[index], "kind": fold.kind[i],
                                 "nearest_rms": float(distance[i]), "predicted": predicted[i]})
                right = np.mean(predicted == labels[fold.test])
                print(f"    seed {seed}: {100 * right:.1f} % in {time.perf_counter() - start:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    table["right"] = table["predicted"] == table["label"]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)

    summarise(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
