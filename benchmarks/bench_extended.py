"""The extended model, measured: Table 1 per class group over the training seeds, a split whose test
structures hold elements never trained on, the confusion matrix, accuracy against the pair of atomic
numbers of the binaries (B2 against bcc), and the speed of ``classify --model`` on 2 cores.

    python benchmarks/bench_extended.py [--results results/extended] [--seeds 2027 2028 2029]
        [--parts seeds elements binaries speed] [--model results/extended/calibrated.keras]
        [--out figures/extended]

Needs what ``scripts/train_extended_model.sh`` wrote under ``--results`` (the extended preset's
structures and fingerprints, one network per seed in ``seeds/``, their predictions). Parts:

1. **seeds**: every seed's predictions (the best class, no ``unknown``) on the held-out validation
   structures (pristine) and on every defect level: accuracy per class group (``elemental``,
   ``binary``, ``all``) and level, mean and s.d. over the seeds (``table1.csv``); the confusion
   matrix of the first seed over all levels with displacements <= 5 % and vacancies <= 25 %
   (``confusion.csv``, ``confusion.png``); per-class accuracy (``per_class.csv``).
2. **elements**: the validation split holds structures whose elements also occur in training, and a
   cubic prototype at unit nearest-neighbour distance differs from another only by its form factor:
   a random split tests near-copies. Here a fifth of the elements (seeded) are held out: the
   network is trained (same recipe: pristine plus one displaced copy, ``--epochs``) on every
   structure with no held-out element and tested on every structure with one (and their defect
   variants): ``elements.csv``. A control trains the same network on shuffled labels.
3. **binaries**: accuracy of the first seed on binary structures against |Z_A - Z_B| (bins), per
   binary class (``binaries.csv``, ``binaries.png``), and what B2 CsCl and A2 bcc are confused with
   at small |dZ| (``b2_vs_bcc.csv``): their atoms sit on the same bcc positions, and the
   superstructure reflections that tell them apart scale as (f_A - f_B)^2.
4. **speed**: ``classify`` with ``--model`` (the calibrated ensemble) on ``--speed-structures``
   pristine extended structures as periodic cells (2 workers), against the shipped seven-class model
   on the same structures in the same process: structures/s of each (``speed.csv``). Target >= 40/s.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: the easy levels of the acceptance test: pristine, displacements <= 5 %, vacancies <= 25 %
EASY = "(defect == 'pristine') | ((defect == 'displacements') & (level <= 5)) | ((defect == 'vacancies') & (level <= 25))"


def group_of(label: str) -> str:
    from paper_lib.prototypes import EXTENDED

    return "elemental" if EXTENDED[label].species == 1 else "binary"


def records(results: Path) -> pd.DataFrame:
    """row_id, sid, label, defect, level, element, z_a, z_b of every structure of the database."""
    from paper_lib.io import read_structures

    rows = [{"row_id": rid, "sid": kv["sid"], "label": kv["label"], "defect": kv["defect"], "level": float(kv["level"]),
             "element": kv["element"], "z_a": int(kv["z_a"]), "z_b": int(kv["z_b"])}
            for rid, _, kv in read_structures(results / "structures.db")]
    return pd.DataFrame(rows)


def seeds_part(results: Path, seeds, table: pd.DataFrame, out: Path) -> pd.DataFrame:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = []
    for seed in seeds:
        p = pd.read_csv(results / "seeds" / f"predictions-{seed}.csv")
        p["seed"] = seed
        frames.append(p)
    pred = pd.concat(frames, ignore_index=True)
    pred["group"] = pred["label"].map(group_of)
    pred["right"] = pred["predicted"] == pred["label"]
    rows = []
    for (defect, level), block in pred.groupby(["defect", "level"]):
        for group, sub in [("all", block), *block.groupby("group")]:
            per_seed = sub.groupby("seed")["right"].mean() * 100
            rows.append({"defect": defect, "level": level, "group": group, "n": int(len(sub) / len(seeds)),
                         "accuracy_mean": per_seed.mean(), "accuracy_sd": per_seed.std(ddof=1) if len(seeds) > 1 else 0.0,
                         **{f"seed_{s}": per_seed.get(s, np.nan) for s in seeds}})
    levels = pd.DataFrame(rows).sort_values(["defect", "level", "group"])
    levels.round(3).to_csv(out / "table1.csv", index=False)
    print(levels.round(2).to_string(index=False), flush=True)
    first = pred[pred.seed == seeds[0]]
    easy = first.query(EASY)
    per_class = (easy.groupby(["label", "defect"])["right"].mean().unstack() * 100).round(2)
    per_class.to_csv(out / "per_class.csv")
    print(per_class.to_string(), flush=True)
    from paper_lib.prototypes import EXTENDED_CLASSES

    confusion = pd.crosstab(pd.Categorical(easy["label"], EXTENDED_CLASSES), pd.Categorical(easy["predicted"], EXTENDED_CLASSES),
                            dropna=False)
    confusion.to_csv(out / "confusion.csv")
    share = confusion.to_numpy() / np.maximum(confusion.to_numpy().sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EXTENDED_CLASSES)), EXTENDED_CLASSES, rotation=90, fontsize=7)
    ax.set_yticks(range(len(EXTENDED_CLASSES)), EXTENDED_CLASSES, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Extended model (seed {seeds[0]}): held-out pristine, δ ≤ 5 %, η ≤ 25 % (n = {len(easy)})", fontsize=9)
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=130)
    plt.close(fig)
    return pred


def elements_part(results: Path, table: pd.DataFrame, out: Path, seed: int, epochs: int, share: float) -> pd.DataFrame:
    """Train on structures without the held-out elements, test on those with one."""
    from ase.data import atomic_numbers

    from paper_lib.io import load_fingerprint_set
    from paper_lib.model import LoadedModel, limit_tensorflow_threads, predict, train
    from paper_lib.prototypes import EXTENDED_CLASSES

    limit_tensorflow_threads(2)
    data = load_fingerprint_set([results / "fingerprints.h5"])
    augment = load_fingerprint_set([results / "augment.h5"])
    info = table.set_index("row_id").loc[data["row_id"]]
    present = sorted(set(info.z_a) | set(info.z_b) - {0})
    rng = np.random.default_rng([seed, 31])
    held = set(rng.choice(present, size=int(round(share * len(present))), replace=False).tolist())
    has_held = info.z_a.isin(held).to_numpy() | info.z_b.isin(held).to_numpy()
    by_sid = dict(zip(table.sid[table.defect == "pristine"],
                      (table.z_a.isin(held) | table.z_b.isin(held))[table.defect == "pristine"]))
    pristine = data["defect"] == "pristine"
    train_rows = pristine & ~has_held
    aug_keep = np.array([not by_sid[int(s)] for s in augment["sid"]])
    fingerprints = np.concatenate([data["fingerprints"][train_rows], augment["fingerprints"][aug_keep]])
    labels = np.concatenate([data["label"][train_rows], augment["label"][aug_keep]])
    test = has_held
    print(f"held-out elements: {len(held)} of {len(present)} ({', '.join(sorted(str(z) for z in held))}); "
          f"train {len(labels)} fingerprints, test {int(test.sum())}", flush=True)
    rows = []
    for control in (False, True):
        y = rng.permutation(labels) if control else labels
        start = time.perf_counter()
        result = train(fingerprints, y, EXTENDED_CLASSES, seed=seed, validation_fraction=0.0, epochs=epochs, verbose=0,
                       fingerprint_params=data["fingerprint_params"])
        loaded = LoadedModel(model=result.model, classes=EXTENDED_CLASSES, fingerprint=result.metadata["fingerprint"],
                             metadata=result.metadata, path=Path("(in memory)"))
        predicted = np.array(EXTENDED_CLASSES)[predict(loaded, data["fingerprints"][test]).argmax(axis=1)]
        took = time.perf_counter() - start
        frame = pd.DataFrame({"label": data["label"][test], "predicted": predicted, "defect": data["defect"][test],
                              "level": data["level"][test]})
        frame["right"] = frame.label == frame.predicted
        frame["group"] = frame.label.map(group_of)
        for (defect, level), block in frame.groupby(["defect", "level"]):
            for group, sub in [("all", block), *block.groupby("group")]:
                rows.append({"network": "shuffled labels (control)" if control else "trained", "defect": defect,
                             "level": level, "group": group, "n": len(sub), "accuracy": 100 * sub.right.mean()})
        print(f"{'control' if control else 'trained'}: {took:.0f} s; pristine "
              f"{100 * frame[frame.defect == 'pristine'].right.mean():.2f} %", flush=True)
    result_table = pd.DataFrame(rows)
    result_table.round(3).to_csv(out / "elements.csv", index=False)
    (out / "elements.json").write_text(json.dumps({"held_out_z": sorted(int(z) for z in held), "seed": seed,
                                                   "epochs": epochs, "n_train": int(len(labels))}, indent=1))
    print(result_table.round(2).to_string(index=False), flush=True)
    return result_table


def binaries_part(pred: pd.DataFrame, table: pd.DataFrame, out: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = pred[(pred.seed == seed)].merge(table[["row_id", "z_a", "z_b", "element"]], on="row_id")
    first = first.query(EASY)
    binary = first[first.group == "binary"].copy()
    binary["dz"] = (binary.z_a - binary.z_b).abs()
    bins = [0, 1, 3, 6, 10, 20, 40, 100]
    names = ["1", "2-3", "4-6", "7-10", "11-20", "21-40", ">40"]
    binary["dz_bin"] = pd.cut(binary.dz, bins, labels=names)
    acc = (binary.groupby(["label", "dz_bin"], observed=False)["right"].agg(["mean", "size"]).reset_index())
    acc["accuracy"] = 100 * acc["mean"]
    acc.drop(columns="mean").round(2).to_csv(out / "binaries.csv", index=False)
    overall = binary.groupby("dz_bin", observed=False)["right"].agg(["mean", "size"]).reset_index()
    print(overall.to_string(index=False), flush=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.get_cmap("tab20").colors
    for k, (label, block) in enumerate(acc.groupby("label")):
        ax.plot(block.dz_bin.astype(str), block.accuracy, marker="os^"[k % 3], lw=1, ms=3, label=label, alpha=0.85,
                color=colours[k % len(colours)])
    ax.plot(overall.dz_bin.astype(str), 100 * overall["mean"], color="k", lw=2.5, label="all binaries")
    ax.set_xlabel("|Z_A − Z_B|")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Binaries, network of seed {seed}: accuracy against the difference of atomic numbers\n"
                 f"(held-out pristine, δ ≤ 5 %, η ≤ 25 %; n = {len(binary)})", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "binaries.png", dpi=130)
    plt.close(fig)
    b2 = binary[binary.label == "B2_CsCl"]
    b2_table = (b2.groupby("dz_bin", observed=False)["predicted"].value_counts(normalize=True).unstack(fill_value=0) * 100).round(1)
    bcc = first[first.label == "A2_W"]["predicted"].value_counts(normalize=True).mul(100).round(2)
    b2_table.to_csv(out / "b2_vs_bcc.csv")
    print("B2 CsCl, predicted class (%) by |dZ|:\n", b2_table.to_string(), "\nA2 bcc predicted as (%):\n", bcc.to_string(), flush=True)


def speed_part(model_path: Path, n: int, out: Path) -> None:
    from paper_lib.model import classify, limit_tensorflow_threads, load_model
    from paper_lib.prototypes import EXTENDED, EXTENDED_CLASSES, draw_symbols, nn_for
    from paper_lib.structures import replication_for

    limit_tensorflow_threads(1)
    rng = np.random.default_rng(99)
    structures = []
    for i in range(n):
        proto = EXTENDED[EXTENDED_CLASSES[i % len(EXTENDED_CLASSES)]]
        symbols = draw_symbols(proto, rng)
        cell, _ = proto.build(symbols, nn_for(symbols), rng)
        structures.append(cell.repeat(replication_for(cell, 250)))
    rows = []
    for name, path in (("extended", model_path), ("robust (seven classes)", None)):
        loaded = load_model(path)
        classify(structures[:8], loaded, processes=2)          # compile once, outside the timing
        start = time.perf_counter()
        results = classify(structures, loaded, processes=2)
        took = time.perf_counter() - start
        right = np.mean([r.label == EXTENDED_CLASSES[i % len(EXTENDED_CLASSES)] for i, r in enumerate(results)])
        rows.append({"model": name, "structures": n, "seconds": round(took, 2), "structures_per_s": round(n / took, 1),
                     "right": round(100 * right, 1) if name == "extended" else None,
                     "unknown": round(100 * np.mean([r.label == "unknown" for r in results]), 1)})
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(out / "speed.csv", index=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "extended")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2027, 2028, 2029])
    parser.add_argument("--parts", nargs="+", default=["seeds", "elements", "binaries", "speed"])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the held-out-elements network")
    parser.add_argument("--element-share", type=float, default=0.2, help="share of the elements held out")
    parser.add_argument("--model", type=Path, default=ROOT / "results" / "extended" / "calibrated.keras")
    parser.add_argument("--speed-structures", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "extended")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = records(args.results)
    pred = None
    if "seeds" in args.parts or "binaries" in args.parts:
        pred = seeds_part(args.results, args.seeds, table, args.out)
    if "binaries" in args.parts:
        binaries_part(pred, table, args.out, args.seeds[0])
    if "elements" in args.parts:
        elements_part(args.results, table, args.out, args.seeds[0], args.epochs, args.element_share)
    if "speed" in args.parts:
        speed_part(args.model, args.speed_structures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
