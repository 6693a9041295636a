"""Why the paper's network fails at large displacements: the length scale, or the damping?

    python benchmarks/bench_nn_rescaling.py --db 'results/paper/structures/shard-*.db' \
        --model results/paper/model.keras --level 10 --per-class 150 --out figures/paper/nn_rescaling.csv

The paper's pre-processing (``paper2018``) scales every cluster so that *its own* mean
nearest-neighbour distance is 1 Angstrom. Random displacements (Gaussian, sigma = delta x d_nn per
component) shorten each atom's nearest-neighbour distance, so a displaced cluster is blown up
before its pattern is taken: its Bragg peaks move inward, as if its lattice were larger. The same
displacements also damp the outer peaks by the Debye-Waller-like factor exp(-q^2 sigma^2) and raise
a diffuse background. This benchmark separates the two by classifying the same structures four ways
(positions in Angstrom, every pattern through the same detector, mask and normalisation):

``as_evaluated``
    the displaced cluster as the workflow fingerprints it (:func:`paper_lib.diffraction.fingerprint`,
    scaled by its own mean nearest-neighbour distance);
``parent_scale``
    the same displaced atoms scaled by the mean nearest-neighbour distance of their pristine parent
    (damping and diffuse background, no change of length scale);
``pristine_rescaled``
    the pristine parent scaled by the displaced cluster's mean nearest-neighbour distance (the change
    of length scale alone, no displacement);
``pristine``
    the pristine parent as the workflow fingerprints it.

The three conditions other than ``as_evaluated`` are built from
:func:`paper_lib.diffraction.detector_intensity` (the same kernel without scaling); the script first
checks that this rebuild reproduces :func:`~paper_lib.diffraction.fingerprint` on the displaced
clusters. Structures are sampled ``--per-class`` per class (all of a smaller class); the accuracy of
the level is then the class-weighted mean of the per-class recalls, with the class counts of the
whole level as weights. Prints a table and writes one row per structure and condition to ``--out``.
"""
from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONDITIONS = ("as_evaluated", "parent_scale", "pristine_rescaled", "pristine")


def fingerprint_at_scale(atoms, length: float, params: dict) -> np.ndarray:
    """The (64, 64, 3) fingerprint of ``atoms`` with positions divided by ``length`` (Angstrom)
    instead of by their own mean nearest-neighbour distance: the six rotated patterns of
    :func:`paper_lib.diffraction.detector_intensity` (float32), masked, summed per channel and
    min-max normalised as :func:`paper_lib.diffraction.fingerprint` does."""
    from paper_lib.diffraction import detector_intensity, pixel_mask, rotation_matrix

    keep = pixel_mask(params["mask_inner_px"], params["mask_outer_px"]).reshape(64, 64)
    positions = atoms.positions / length
    numbers = atoms.numbers + params["z_shift"]
    channels = np.zeros((64, 64, 3))
    for channel, axis in enumerate("xyz"):
        for sign in (+1, -1):
            rotation = rotation_matrix(axis, sign * params["angle_deg"])
            pattern = detector_intensity(positions @ rotation.T, numbers, dtype=np.float32)
            channels[:, :, channel] += np.where(keep, pattern, 0.0)
    low, high = channels.min(), channels.max()
    return ((channels - low) / (high - low)).astype(np.float32)


def sample(db_glob: str, level: float, per_class: int, seed: int):
    """``(displaced, parent, record)`` triples: up to ``per_class`` structures per class at
    displacement ``level`` (%) with their pristine parents (same ``sid``), and the class counts of
    the whole level."""
    from ase.db import connect

    paths = sorted(glob.glob(db_glob))
    if not paths:
        raise SystemExit(f"no database matches {db_glob}")
    index = []
    for path in paths:
        db = connect(path)
        for row in db.select(defect="displacements", level=float(level)):
            index.append((path, row.id, row.sid, row.label))
    table = pd.DataFrame(index, columns=["path", "id", "sid", "label"])
    counts = table["label"].value_counts().to_dict()
    rng = np.random.default_rng(seed)
    chosen = []
    for label, group in table.groupby("label"):
        take = rng.permutation(len(group))[:per_class]
        chosen.extend(group.iloc[np.sort(take)].itertuples(index=False))
    triples = []
    for path, row_id, sid, label in chosen:
        db = connect(path)
        displaced = db.get(id=row_id).toatoms()
        parent = db.get(sid=sid, defect="pristine").toatoms()
        triples.append((displaced, parent, {"sid": int(sid), "label": label}))
    return triples, counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="structure database(s), a glob in quotes")
    parser.add_argument("--model", nargs="+", required=True, help="model.keras file(s): each is scored")
    parser.add_argument("--level", type=float, default=10.0, help="displacement level delta (%% of d_nn)")
    parser.add_argument("--per-class", type=int, default=150, help="structures sampled per class")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--out", help="CSV, one row per structure, condition and model")
    args = parser.parse_args(argv)

    from paper_lib.diffraction import fingerprint
    from paper_lib.model import load_model, predict
    from paper_lib.structures import mean_nn_distance

    start = time.perf_counter()
    triples, counts = sample(args.db, args.level, args.per_class, args.seed)
    print(f"{len(triples)} structures at delta = {args.level:g} % (level: {sum(counts.values())}, "
          f"per class {dict(sorted(counts.items()))}); sampled in {time.perf_counter() - start:.0f} s")
    models = [load_model(path) for path in args.model]
    params = {k: v for k, v in models[0].fingerprint.items() if k not in ("target_atoms", "preprocessing")}
    if any(m.fingerprint.get("preprocessing") != "paper2018" for m in models):
        raise SystemExit("this benchmark is about the paper2018 pre-processing")

    start = time.perf_counter()
    fps = {c: [] for c in CONDITIONS}
    ratios, worst = [], 0.0
    for displaced, parent, _ in triples:
        d_displaced, d_parent = mean_nn_distance(displaced), mean_nn_distance(parent)
        ratios.append(d_displaced / d_parent)
        fps["as_evaluated"].append(fingerprint(displaced, target_atoms=None, preprocessing="paper2018", **params))
        rebuilt = fingerprint_at_scale(displaced, d_displaced, params)
        worst = max(worst, float(np.abs(rebuilt - fps["as_evaluated"][-1]).max()))
        fps["parent_scale"].append(fingerprint_at_scale(displaced, d_parent, params))
        fps["pristine_rescaled"].append(fingerprint_at_scale(parent, d_displaced, params))
        fps["pristine"].append(fingerprint(parent, target_atoms=None, preprocessing="paper2018", **params))
    ratios = np.array(ratios)
    print(f"fingerprints: {time.perf_counter() - start:.0f} s; the rebuild differs from fingerprint() by at most "
          f"{worst:.1e}")
    print(f"mean nearest-neighbour distance, displaced / pristine parent: median {np.median(ratios):.3f} "
          f"(5-95 %: {np.percentile(ratios, 5):.3f}-{np.percentile(ratios, 95):.3f}); the workflow scales a "
          f"displaced cluster up by {1 / np.median(ratios):.3f}")
    if worst > 1e-4:
        raise SystemExit("the rebuilt fingerprint does not reproduce paper_lib.diffraction.fingerprint")

    rows = []
    for path, model in zip(args.model, models):
        for condition in CONDITIONS:
            probabilities = predict(model, np.stack(fps[condition]))
            for (displaced, parent, record), p, ratio in zip(triples, probabilities, ratios):
                rows.append({"model": path, "condition": condition, **record, "nn_ratio": ratio,
                             "predicted": model.classes[int(np.argmax(p))], "probability": float(p.max())})
    table = pd.DataFrame(rows)
    table["right"] = table["predicted"] == table["label"]
    weights = pd.Series(counts, dtype=float)
    weights /= weights.sum()
    recall = table.groupby(["model", "condition", "label"])["right"].mean().unstack("label")
    summary = (recall * weights[recall.columns]).sum(axis=1).unstack("condition")[list(CONDITIONS)]
    pd.set_option("display.width", 200)
    print(f"\nrecall per class (%), sample of {len(triples)}:")
    print((100 * recall).round(1).to_string())
    print(f"\naccuracy at delta = {args.level:g} % (%, class-weighted to the whole level):")
    print((100 * summary).round(1).to_string())
    for model_path, part in table[table["condition"] == "as_evaluated"].groupby("model"):
        wrong = part[~part["right"]]
        print(f"\n{model_path}: errors as evaluated, true -> predicted (sample counts):")
        print(wrong.groupby(["label", "predicted"]).size().to_string())
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"\n{args.out}: {len(table)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
