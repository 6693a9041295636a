"""The extended model, measured: Table 1 per class group over the training seeds, a split whose test
structures hold elements never trained on, the confusion matrix, accuracy against the pair of atomic
numbers of the binaries (B2 against bcc), and the speed of ``classify --model`` on 2 cores.

    python benchmarks/bench_extended.py [--results results/extended] [--seeds 2027 2028 2029]
        [--parts seeds elements binaries contrast real speed] [--model results/extended/calibrated.keras]
        [--out figures/extended]

Needs what ``scripts/train_extended_model.sh`` wrote under ``--results`` (the extended preset's
structures and fingerprints, one network per seed in ``seeds/``, their predictions). Parts:

1. **seeds**: every seed's predictions (the best class, no ``unknown``) on the held-out validation
   structures (pristine) and on every defect level: accuracy per class group (``elemental``,
   ``binary``, ``all``) and level, mean and s.d. over the seeds (``table1.csv``); the confusion
   matrix of the first seed over all levels with displacements <= 5 % and vacancies <= 25 %
   (``confusion.csv``, ``confusion.png``); per-class accuracy (``per_class.csv``); pristine accuracy
   apart for the validation structures with and without a training structure of the same class and
   the same elements (``twin_free.csv``).
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
4. **contrast**: the classes hold binaries whose scattering contrast |f_A - f_B| / (f_A + f_B) is at
   least ``prototypes.MIN_CONTRAST``; below it an ordered binary on an element structure's sites
   diffracts as that structure. Here the binaries with such a parent (B2 and D0_3 on bcc, B1 on sc,
   B3 on diamond, B4 on lonsdaleite, L1_2 on fcc) are built across contrasts from 0 to 0.5, element
   pairs drawn at random in each bin (``--contrast-per-bin`` per prototype), and classified as
   periodic cells with ``--model``: the share called the binary's class, its parent's, ``unknown``
   or another (``contrast.csv``, ``contrast.png``).
5. **real**: crystals no one here generated or chose for the classes. ASE's dcdft set (71 elemental
   crystals): a crystal of an elemental prototype's space group (spglib, 1e-3 Å) that pymatgen's
   StructureMatcher (species ignored, scaled, 3 % lengths) finds to be of that prototype's structure
   type for some free parameters in its ranges has that class; the others none of them. And common
   binary compounds built from their structure type and room-temperature lattice parameters (in
   :data:`BINARIES`). Each is classified as its periodic cell with ``--model``: ``real.csv``.
6. **speed**: ``classify`` with ``--model`` (the calibrated ensemble) on ``--speed-structures``
   pristine extended structures as periodic cells (2 workers), against the shipped seven-class model
   on the same structures in the same process: structures/s of each (``speed.csv``), timed on a
   second pass (the first compiles the network for each batch shape). Target >= 40/s.
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
    # the pristine validation structures with no training structure of the same class and elements
    # (for a cubic element class, such a pair is the same scaled geometry with the same form factor)
    validation = set(json.loads((results / "seeds" / f"model-{seeds[0]}.json").read_text())
                     ["training_data"]["validation_sids"])
    pristine = table[table.defect == "pristine"]
    seen = pristine[~pristine.sid.isin(validation)]
    trained = {(label, frozenset((a, b))) for label, a, b in zip(seen.label, seen.z_a, seen.z_b)}   # either order
    kept = pred[(pred.defect == "pristine")].merge(table[["row_id", "z_a", "z_b"]], on="row_id")
    kept["twin_in_training"] = [(label, frozenset((a, b))) in trained
                                for label, a, b in zip(kept.label, kept.z_a, kept.z_b)]
    twin_free = (kept.groupby(["twin_in_training", "seed"])["right"].agg(["mean", "size"]).reset_index()
                 .rename(columns={"mean": "accuracy", "size": "n"}))
    twin_free["accuracy"] = (100 * twin_free["accuracy"]).round(3)
    twin_free.to_csv(out / "twin_free.csv", index=False)
    print("pristine validation structures with / without a same-class, same-elements training structure:\n",
          twin_free.to_string(index=False), flush=True)
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
    fig, (ax, pairs) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
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
    from paper_lib.diffraction import Z_SHIFT
    from paper_lib.prototypes import MIN_CONTRAST

    z_low = np.minimum(binary.z_a, binary.z_b)
    z_high = np.maximum(binary.z_a, binary.z_b)
    ok = binary.right.to_numpy()
    pairs.scatter(z_low[ok], z_high[ok], s=4, color="0.6", label=f"right ({ok.sum()})")
    pairs.scatter(z_low[~ok], z_high[~ok], s=14, color="C3", marker="x", label=f"wrong ({(~ok).sum()})")
    z = np.linspace(1, 94, 100)           # contrast = MIN_CONTRAST: (Zh - Zl) = k (Zh + Zl + 2 shift)
    pairs.plot(z, ((1 + MIN_CONTRAST) * z + 2 * MIN_CONTRAST * Z_SHIFT) / (1 - MIN_CONTRAST), "k:", lw=1,
               label=f"contrast {MIN_CONTRAST}")
    pairs.set_xlim(0, 95)
    pairs.set_ylim(0, 95)
    pairs.set_xlabel("smaller Z")
    pairs.set_ylabel("larger Z")
    pairs.set_title("every binary test structure by its pair of atomic numbers", fontsize=9)
    pairs.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "binaries.png", dpi=130)
    plt.close(fig)
    b2 = binary[binary.label == "B2_CsCl"]
    b2_table = (b2.groupby("dz_bin", observed=False)["predicted"].value_counts(normalize=True).unstack(fill_value=0) * 100).round(1)
    bcc = first[first.label == "A2_W"]["predicted"].value_counts(normalize=True).mul(100).round(2)
    b2_table.to_csv(out / "b2_vs_bcc.csv")
    bcc.rename("share").rename_axis("A2_W called").to_csv(out / "bcc_called.csv")
    print("B2 CsCl, predicted class (%) by |dZ|:\n", b2_table.to_string(), "\nA2 bcc predicted as (%):\n", bcc.to_string(), flush=True)


#: the element structure whose sites an ordered binary occupies (equal species give the parent)
PARENTS = {"B2_CsCl": "A2_W", "D0_3_BiF3": "A2_W", "B1_NaCl": "Ah_alpha-Po", "B3_ZnS": "A4_diamond",
           "B4_ZnO": "lonsdaleite", "L1_2_Cu3Au": "A1_Cu"}
#: contrast bins of the contrast part (edges, dimensionless)
CONTRAST_BINS = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5)


def contrast_part(model_path: Path, per_bin: int, out: Path) -> pd.DataFrame:
    """Binaries on a parent's sites across contrasts, classified by the model: what they are called."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.data import chemical_symbols

    from paper_lib.model import classify, limit_tensorflow_threads, load_model
    from paper_lib.prototypes import EXTENDED, MIN_CONTRAST, contrast, nn_for
    from paper_lib.structures import replication_for

    limit_tensorflow_threads(1)
    rng = np.random.default_rng(7)
    pairs = [(a, b) for a in range(1, 95) for b in range(a + 1, 95)]
    kappa = np.array([contrast((chemical_symbols[a], chemical_symbols[b])) for a, b in pairs])
    cases, structures = [], []
    for name in PARENTS:
        for low, high in zip(CONTRAST_BINS[:-1], CONTRAST_BINS[1:]):
            inside = np.flatnonzero((kappa >= low) & (kappa < high))
            for k in rng.choice(inside, size=min(per_bin, len(inside)), replace=False):
                symbols = tuple(chemical_symbols[z] for z in (pairs[k] if rng.random() < 0.5 else pairs[k][::-1]))
                cell, _ = EXTENDED[name].build(symbols, nn_for(symbols), rng)
                structures.append(cell.repeat(replication_for(cell, 250)))
                cases.append({"prototype": name, "parent": PARENTS[name], "bin": f"{low:.2f}-{high:.2f}",
                              "contrast": kappa[k], "pair": "".join(symbols)})
    results = classify(structures, load_model(model_path), processes=2)
    frame = pd.DataFrame(cases)
    frame["called"] = [r.label for r in results]
    frame["answer"] = np.select([frame.called == frame.prototype, frame.called == frame.parent, frame.called == "unknown"],
                                ["binary", "parent", "unknown"], "other")
    frame.round(4).to_csv(out / "contrast_cases.csv", index=False)
    share = (frame.groupby(["prototype", "bin"])["answer"].value_counts(normalize=True).unstack(fill_value=0) * 100)
    overall = frame.groupby("bin")["answer"].value_counts(normalize=True).unstack(fill_value=0) * 100
    for column in ("binary", "parent", "unknown", "other"):
        for table_ in (share, overall):
            if column not in table_:
                table_[column] = 0.0
    share = share[["binary", "parent", "unknown", "other"]].round(1)
    overall = overall[["binary", "parent", "unknown", "other"]].round(1)
    share.to_csv(out / "contrast.csv")
    print(f"binaries on a parent's sites, called (%) by contrast (classes hold >= {MIN_CONTRAST}):\n",
          overall.to_string(), "\n", share.to_string(), flush=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    centres = [(a + b) / 2 for a, b in zip(CONTRAST_BINS[:-1], CONTRAST_BINS[1:])]
    for column, colour in (("binary", "C0"), ("parent", "C1"), ("unknown", "0.5"), ("other", "C3")):
        ax.plot(centres, overall[column].reindex(sorted(overall.index)).to_numpy(), marker="o", color=colour,
                label={"binary": "called its own class", "parent": "called the parent element structure"}.get(column, column))
    ax.axvline(MIN_CONTRAST, color="k", ls=":", lw=1)
    ax.text(MIN_CONTRAST, 50, " classes start here", fontsize=7)
    ax.set_xlabel("scattering contrast |f_A − f_B| / (f_A + f_B)")
    ax.set_ylabel("share of structures (%)")
    ax.set_title(f"Ordered binaries on an element structure's sites (B2, D0₃, B1, B3, B4, L1₂),\n"
                 f"{per_bin} random pairs per prototype and bin, pristine periodic cells (n = {len(frame)})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "contrast.png", dpi=130)
    plt.close(fig)
    return frame


#: common binary compounds: (name, prototype class, species in the prototype's roles, c/a of the
#: room-temperature structure or None). Only c/a enters: fingerprints are scaled to unit
#: nearest-neighbour distance. Internal coordinates are drawn from the prototype's ranges.
BINARIES = [
    ("NaCl", "B1_NaCl", ("Na", "Cl"), None), ("MgO", "B1_NaCl", ("Mg", "O"), None),
    ("LiF", "B1_NaCl", ("Li", "F"), None), ("PbS", "B1_NaCl", ("Pb", "S"), None),
    ("KCl", "B1_NaCl", ("K", "Cl"), None),
    ("CsCl", "B2_CsCl", ("Cs", "Cl"), None), ("NiAl", "B2_CsCl", ("Ni", "Al"), None),
    ("FeAl", "B2_CsCl", ("Fe", "Al"), None), ("CuZn", "B2_CsCl", ("Cu", "Zn"), None),
    ("ZnS", "B3_ZnS", ("Zn", "S"), None), ("SiC", "B3_ZnS", ("Si", "C"), None),
    ("InP", "B3_ZnS", ("In", "P"), None), ("GaAs", "B3_ZnS", ("Ga", "As"), None),
    ("ZnO", "B4_ZnO", ("Zn", "O"), 1.602), ("GaN", "B4_ZnO", ("Ga", "N"), 1.627),
    ("AlN", "B4_ZnO", ("Al", "N"), 1.601),
    ("CaF2", "C1_CaF2", ("Ca", "F"), None), ("UO2", "C1_CaF2", ("U", "O"), None),
    ("Cu3Au", "L1_2_Cu3Au", ("Cu", "Au"), None), ("Ni3Al", "L1_2_Cu3Au", ("Ni", "Al"), None),
    ("Fe3Al", "D0_3_BiF3", ("Al", "Fe"), None),
    ("NiAs", "B8_1_NiAs", ("Ni", "As"), 1.39), ("MgB2", "C32_AlB2", ("Mg", "B"), 1.14),
    ("WC", "Bh_WC", ("W", "C"), 0.976),
]


def _same_type(atoms, proto, rng, tries: int = 8) -> bool:
    """Whether ``atoms`` (one element) is of ``proto``'s structure type: pymatgen's StructureMatcher
    (species ignored, scaled; lengths 3 %, sites 0.1, angles 2 deg) against ``tries`` cells with
    free parameters drawn from the prototype's ranges."""
    from pymatgen.analysis.structure_matcher import FrameworkComparator, StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    matcher = StructureMatcher(ltol=0.03, stol=0.1, angle_tol=2, scale=True, comparator=FrameworkComparator())
    mine = AseAtomsAdaptor.get_structure(atoms)
    for _ in range(tries):
        cell, _ = proto.build(("Cu",), 2.5, rng)
        if matcher.fit(mine, AseAtomsAdaptor.get_structure(cell)):
            return True
    return False


def real_part(model_path: Path, out: Path) -> pd.DataFrame:
    """dcdft's elemental crystals and common binaries, as periodic cells, classified by the model."""
    from ase.collections import dcdft

    from paper_lib.model import classify, limit_tensorflow_threads, load_model
    from paper_lib.prototypes import EXTENDED, EXTENDED_CLASSES, contrast, nn_for
    from paper_lib.structures import replication_for, spacegroup_number

    limit_tensorflow_threads(1)
    rng = np.random.default_rng(5)
    groups = {}             # space group -> the elemental prototypes of it
    for name in EXTENDED_CLASSES:
        if EXTENDED[name].species == 1:
            groups.setdefault(EXTENDED[name].spacegroup, []).append(name)
    cases, structures = [], []
    for element in dcdft.names:
        atoms = dcdft[element]
        fits = [name for name in groups.get(spacegroup_number(atoms, 1e-3), [])
                if _same_type(atoms, EXTENDED[name], rng)]
        cases.append({"structure": f"{element} (dcdft)", "kind": "element", "expected": fits[0] if fits else None,
                      "contrast": 0.0})
        structures.append(atoms)
    for name, label, species, c_over_a in BINARIES:
        proto = EXTENDED[label]
        params = proto.draw(rng)
        if c_over_a is not None:
            params["c_over_a"] = c_over_a
        cell = proto.cell(species, nn_for(species), params)
        cases.append({"structure": name, "kind": "binary", "expected": label, "contrast": contrast(species)})
        structures.append(cell)
    results = classify([s.repeat(replication_for(s, 250)) for s in structures], load_model(model_path), processes=2)
    frame = pd.DataFrame(cases)
    frame["answer"] = [r.label for r in results]
    frame["best"] = [r.best for r in results]
    frame["why_unknown"] = [r.reason for r in results]
    def outcome(expected, answer) -> str:
        if answer == "unknown":
            return "unknown"
        if not isinstance(expected, str):            # of none of the classes
            return "a class (none fits)"
        return "right" if answer == expected else "parent" if PARENTS.get(expected) == answer else "wrong"

    frame["outcome"] = [outcome(e, a) for e, a in zip(frame.expected, frame.answer)]
    frame.round(3).to_csv(out / "real.csv", index=False)
    summary = frame.groupby(["kind", frame.expected.notna().map({True: "has a class", False: "no class"})])[
        "outcome"].value_counts().unstack(fill_value=0)
    print(frame.to_string(index=False), "\n", summary.to_string(), flush=True)
    return frame


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
        classify(structures, loaded, processes=2)   # a first pass compiles the network for every batch shape
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
    parser.add_argument("--parts", nargs="+", default=["seeds", "elements", "binaries", "contrast", "real", "speed"])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the held-out-elements network")
    parser.add_argument("--element-share", type=float, default=0.2, help="share of the elements held out")
    parser.add_argument("--model", type=Path, default=ROOT / "results" / "extended" / "calibrated.keras")
    parser.add_argument("--speed-structures", type=int, default=300)
    parser.add_argument("--contrast-per-bin", type=int, default=10)
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
    if "contrast" in args.parts:
        contrast_part(args.model, args.contrast_per_bin, args.out)
    if "real" in args.parts:
        real_part(args.model, args.out)
    if "speed" in args.parts:
        speed_part(args.model, args.speed_structures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
