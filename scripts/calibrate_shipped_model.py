"""Calibrate when a trained model answers ``unknown``, measure it, and write the calibrated model.

    python scripts/calibrate_shipped_model.py [--results results/robust] [--seeds 2026 ... 2030]
        [--members PATTERN] [--processes 2] [--out paper_lib/data/model.keras]
        [--figures figures/robust/uncertainty]

The shipped (robust) model, the defaults: what ``scripts/train_shipped_model.sh`` and
``scripts/train_seeds.sh`` wrote under ``results/robust/`` (the robust preset's structures and
fingerprints, the network of seed 2026 in ``model.keras`` and its further seeds in
``seeds/model-SEED.keras``, all with the same validation split). The extended model:

    python scripts/calibrate_shipped_model.py --results results/extended --seeds 2027 2028 2029 \
        --members 'seeds/model-{seed}.keras' --figures figures/extended/uncertainty \
        --out results/extended/calibrated.keras

``--seeds``: the networks, the first one the main network; ``--members``: where each one is under
``--results`` (``{seed}`` stands for the seed; default: ``model.keras`` for the first seed,
``seeds/model-{seed}.keras`` for the others). Every member must have the same classes, fingerprint
parameters, training data and validation split as the first. Every step caches its output under
``RESULTS/uncertainty/`` and is skipped when it exists, so an interrupted run resumes (the samples
record the seeds they come from and are drawn again for other seeds).

1. **In-class held-out data**: the validation pristine structures (never trained on) and every
   defective test structure (vacancies, displacements), with the sites per primitive cell of the
   crystal each one's pre-processing finds (``crystal_frame``, with its wider search when the model's
   pre-processing is ``crystal_frame_wide``), or none. Split by pristine structure (sid parity) into
   a calibration half and a test half.
2. **Out-of-class data** (:mod:`paper_lib.out_of_class`, for the model's classes): elemental
   prototypes of none of the classes' structure types, random crystals and amorphous snapshots; the
   calibration split and the test split hold different prototypes. Fingerprinted with the model's
   parameters.
3. **Samples** of each uncertainty method: MC dropout on the main network, the ensemble of the
   first 3 seeds (of both when two are given) and, with more than 3, of all of them.
4. **Choice**: for each method and measure, the threshold that flags at most ``--flag`` of the
   in-class calibration structures (pristine, displacements <= 5 %, vacancies <= 25 %); the method
   and measure kept are those that flag the most out-of-class *calibration* structures (a tie
   keeps the one that gives the fewest in-class calibration structures a wrong class, then the first
   in the order of the loops). A temperature is fitted on the in-class calibration
   half. ``methods.csv`` and ``reliability.*`` are on the test halves; ``levels.csv`` has every
   held-out structure, both halves. The site check: the paper's classes take the sites per
   primitive cell of their prototypes (:func:`paper_lib.structures.class_site_counts`); other
   classes (the extended model's) the counts the pre-processing finds on the in-class calibration
   half's pristine and easy structures (as above), every count found for a class.
   **Held-out prototypes** (the extended model, whose library builds :data:`paper_lib.prototypes.HELD_OUT`
   but never trains on them): ``--held-out-n`` dataset structures of each, pristine, with 2 %
   displacements and with 10 % vacancies, decided with the kept decision (never calibrated on
   them): ``held_out.csv``.
5. **Outputs**: the decision in the model's JSON (and, for an ensemble, the members in one
   ``.keras``), and under ``--figures``: ``methods.csv`` (every method and measure),
   ``levels.csv`` (per Table 1 level: accuracy, flagged, wrong answers given as a class, per
   seed accuracy with mean and s.d.), ``out_of_class.csv`` (per prototype), ``reliability.csv``,
   ``sites.csv`` (classes without prototype site counts: how many calibration structures showed
   each count), ``held_out.csv`` (extended model) and the figures ``reliability.png``, ``coverage.png``, ``flagged_by_level.png``.
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

from paper_lib import uncertainty as unc  # noqa: E402

#: the shipped model's seeds: 2026 (results/robust/model.keras), then results/robust/seeds/model-SEED.keras
SEEDS = (2026, 2027, 2028, 2029, 2030)
EASY = "(defect == 'pristine') | ((defect == 'displacements') & (level <= 5)) | ((defect == 'vacancies') & (level <= 25))"

#: held-out prototypes: the defects each structure is also given, (kind, level %)
HELD_OUT_DEFECTS = (("pristine", 0.0), ("displacements", 2.0), ("vacancies", 10.0))
#: held-out prototypes: the seed of their random streams
HELD_OUT_SEED = 2018


def methods_for(seeds) -> dict:
    """The uncertainty methods of networks ``seeds`` (first: the main one), name -> (method, seeds):
    MC dropout on the first, the ensemble of the first 3 (of both when two are given) and, with
    more than 3, of all."""
    seeds = tuple(seeds)
    methods = {"mc_dropout": ("mc_dropout", seeds[:1])}
    if len(seeds) >= 2:
        methods[f"ensemble{min(3, len(seeds))}"] = ("ensemble", seeds[:3])
    if len(seeds) > 3:
        methods[f"ensemble{len(seeds)}"] = ("ensemble", seeds)
    return methods


def member_path(results: Path, seed: int, seeds, pattern: str | None = None) -> Path:
    """The network of ``seed`` under ``results``: ``pattern`` with ``{seed}`` filled in, or by default
    ``model.keras`` for the first of ``seeds`` and ``seeds/model-SEED.keras`` for the others."""
    if pattern is not None:
        return results / pattern.format(seed=seed)
    return results / "model.keras" if seed == seeds[0] else results / "seeds" / f"model-{seed}.keras"


def check_members(paths: dict) -> dict:
    """The main member's metadata (JSON beside the first of ``paths``, seed -> .keras path), after
    checking that every member has its seed, and the first one's classes, fingerprint parameters,
    training data and validation split."""
    from paper_lib.model import metadata_path

    first = None
    for seed, path in paths.items():
        meta = json.loads(metadata_path(path).read_text())
        if meta.get("seed") != seed:
            raise SystemExit(f"{path}: trained with seed {meta.get('seed')}, not {seed}")
        if first is None:
            first = meta
            continue
        for key in ("classes", "fingerprint"):
            if meta[key] != first[key]:
                raise SystemExit(f"{path}: its {key} differ from the main network's")
        for key in ("digest", "validation_sids"):
            if meta["training_data"].get(key) != first["training_data"].get(key):
                raise SystemExit(f"{path}: its training data ({key}) differ from the main network's")
    return first


# ------------------------------------------------------------------------------------------------
# 1. in-class held-out data
# ------------------------------------------------------------------------------------------------

def _sites_of(item):
    """(row id, sites per primitive cell of the crystal frame found, -1 for none) of (row id, atoms,
    wide): ``wide`` is the crystal_frame_wide search."""
    from paper_lib.preprocessing import NoCrystalFrame, crystal_frame

    row_id, atoms, wide = item
    try:
        return row_id, len(crystal_frame(atoms, wide=wide).sites)
    except NoCrystalFrame:
        return row_id, -1


def crystal_sites(results: Path, cache: Path, row_ids, wide: bool, processes: int) -> dict:
    """Row id -> sites per primitive cell of the crystal frame found in that row of
    ``results/structures.db`` (-1: none), for ``row_ids``; kept in ``cache/crystal_sites.csv``, to
    which the rows not yet there are added (``wide``: the crystal_frame_wide search)."""
    import multiprocessing as mp

    from paper_lib.io import read_structures

    path = cache / "crystal_sites.csv"
    known = pd.read_csv(path) if path.exists() else pd.DataFrame({"row_id": [], "sites": []}, dtype=int)
    todo = set(row_ids) - set(known.row_id.tolist())
    if todo:
        items = [(rid, atoms, wide) for rid, atoms, _ in read_structures(results / "structures.db") if rid in todo]
        start = time.perf_counter()
        with mp.get_context("fork").Pool(processes) as pool:
            found = dict(pool.imap_unordered(_sites_of, items, chunksize=64))
        print(f"crystal frames of {len(items)} structures in {time.perf_counter() - start:.0f} s", flush=True)
        known = pd.concat([known, pd.DataFrame({"row_id": list(found), "sites": list(found.values())})],
                          ignore_index=True).sort_values("row_id")
        known.to_csv(path, index=False)
    return dict(zip(known.row_id.tolist(), known.sites.tolist()))


def in_class(results: Path, cache: Path, processes: int, validation_sids, wide: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows (row_id, sid, label, defect, level, sites, half) and their fingerprints (rows with a
    lattice; sites -1 where the pre-processing found none, their fingerprint rows are zero).
    ``validation_sids``: the pristine structures the networks never trained on; ``wide``: the
    crystal frames of the crystal_frame_wide pre-processing."""
    from paper_lib.io import load_fingerprint_set, read_fingerprints, read_structures

    table_path, fp_path = cache / "in_class.csv", cache / "in_class_fingerprints.npy"
    validation = set(validation_sids)
    if not table_path.exists():
        data = load_fingerprint_set([results / "fingerprints.h5"])
        keep = (data["defect"] != "pristine") | np.isin(data["sid"], sorted(validation))
        failed = set(int(i) for i in read_fingerprints(results / "fingerprints.h5", with_fingerprints=False)["failed_row_id"])
        rows = pd.DataFrame({k: data[k][keep] for k in ("row_id", "sid", "label", "defect", "level")})
        fps = data["fingerprints"][keep]
        lost = [(rid, atoms, kv) for rid, atoms, kv in read_structures(results / "structures.db") if rid in failed
                and (kv["defect"] != "pristine" or kv["sid"] in validation)]
        rows = pd.concat([rows, pd.DataFrame({"row_id": [r for r, _, _ in lost], "sid": [kv["sid"] for _, _, kv in lost],
                                              "label": [kv["label"] for _, _, kv in lost],
                                              "defect": [kv["defect"] for _, _, kv in lost],
                                              "level": [float(kv["level"]) for _, _, kv in lost]})], ignore_index=True)
        fps = np.concatenate([fps, np.zeros((len(lost), *fps.shape[1:]), np.float32)])
        sites = crystal_sites(results, cache, set(rows.row_id.tolist()), wide, processes)
        rows["sites"] = rows.row_id.map(sites).astype(int)
        rows.loc[rows.row_id.isin(failed), "sites"] = -1
        rows["half"] = np.where(rows.sid % 2 == 0, "calibration", "test")
        np.save(fp_path, fps)
        rows.to_csv(table_path, index=False)
    return pd.read_csv(table_path), np.load(fp_path, mmap_mode="r")


# ------------------------------------------------------------------------------------------------
# 2. out-of-class data
# ------------------------------------------------------------------------------------------------

def out_of_class(cache: Path, processes: int, n_per_kind: int, classes, params: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Out-of-class structures for a model of ``classes`` (:func:`paper_lib.out_of_class.held_out_set`),
    both splits, fingerprinted with the model's parameters ``params``: their records (with ``half``,
    ``sites``: -1 no lattice found, ``error``) and fingerprints (zero where none)."""
    from paper_lib.diffraction import fingerprints
    from paper_lib.out_of_class import held_out_set
    from paper_lib.prototypes import HELD_OUT

    table_path, fp_path = cache / "out_of_class.csv", cache / "out_of_class_fingerprints.npy"
    if not table_path.exists():
        tables, all_fps = [], []
        for half, seed in (("calibration", 1), ("test", 2)):
            start = time.perf_counter()
            items = held_out_set(half, n_per_kind, seed, classes=classes)
            if any(meta["name"] in HELD_OUT for _, meta in items):
                raise RuntimeError("a held-out prototype among the out-of-class structures")
            batch = fingerprints([a for a, _ in items], processes=processes, progress=False, **params)
            info = pd.DataFrame([{k: v for k, v in meta.items()} for _, meta in items])
            info["half"] = half
            info["sites"] = 0
            info.loc[batch.ok, "sites"] = batch.sites
            info.loc[list(batch.no_lattice), "sites"] = -1
            broken = sorted(set(i for i, _ in batch.failed) - set(batch.no_lattice))
            info["error"] = ""
            for i, message in batch.failed:
                if i in broken:
                    info.loc[i, "error"] = message
            fps = np.zeros((len(items), 64, 64, 3), np.float32)
            fps[batch.ok] = batch.fingerprints
            tables.append(info)
            all_fps.append(fps)
            print(f"out-of-class {half}: {len(items)} structures in {time.perf_counter() - start:.0f} s "
                  f"({len(batch.no_lattice)} without a lattice, {len(broken)} failed)", flush=True)
        np.save(fp_path, np.concatenate(all_fps))
        pd.concat(tables, ignore_index=True).to_csv(table_path, index=False)
    return pd.read_csv(table_path, keep_default_na=False), np.load(fp_path, mmap_mode="r")


# ------------------------------------------------------------------------------------------------
# 3. samples
# ------------------------------------------------------------------------------------------------

def load_members(paths: dict, seeds):
    from paper_lib.model import load_model

    return [load_model(paths[s]) for s in seeds]


def _network(paths: dict, method: str, seeds):
    """The Keras model a method samples: the one network (MC dropout) or the ensemble of ``seeds``."""
    members = load_members(paths, seeds)
    if method == "mc_dropout":
        return members[0].model
    return unc.ensemble_network([m.model for m in members], members[0].classes)


def _cached_samples(path: Path, seeds) -> bool:
    """True if the samples at ``path`` exist and come from ``seeds`` (a file without the record, as
    first written for the shipped model, is taken as it is)."""
    if not path.exists():
        return False
    stored = np.load(path)
    if "seeds" in stored.files and tuple(int(s) for s in stored["seeds"]) != tuple(seeds):
        print(f"{path.name}: samples of seeds {stored['seeds'].tolist()}, not {list(seeds)}: drawn again", flush=True)
        return False
    return True


def samples(paths: dict, cache: Path, name: str, method: str, seeds, fps_in: np.ndarray, fps_out: np.ndarray) -> tuple:
    """Samples (n, S, classes) of ``method`` with networks ``seeds`` on the in-class and out-of-class
    fingerprints, cached as ``samples_NAME.npz``."""
    path = cache / f"samples_{name}.npz"
    if not _cached_samples(path, seeds):
        keras_model = _network(paths, method, seeds)
        start = time.perf_counter()
        s_in = unc.sample_probabilities(keras_model, np.asarray(fps_in), method)
        s_out = unc.sample_probabilities(keras_model, np.asarray(fps_out), method)
        seconds = time.perf_counter() - start
        np.savez(path, inside=s_in.astype(np.float32), outside=s_out.astype(np.float32), seconds=seconds,
                 seeds=np.asarray(seeds))
        print(f"samples {name}: {len(fps_in) + len(fps_out)} structures in {seconds:.0f} s", flush=True)
    data = np.load(path)
    return data["inside"], data["outside"]


# ------------------------------------------------------------------------------------------------
# 4. choice and measurement
# ------------------------------------------------------------------------------------------------

def auroc(negatives, positives) -> float:
    """Area under the ROC curve of a score meant to be higher for ``positives`` (Mann-Whitney U)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[negatives, positives])
    n, p = len(negatives), len(positives)
    return float((ranks[n:].sum() - p * (p + 1) / 2) / (n * p)) if n and p else float("nan")


def check_cache(cache: Path, params: dict) -> None:
    """Stop if the fingerprints cached under ``cache`` were made with other fingerprint parameters
    than the model's (recorded in ``fingerprint_params.json`` by the first run; a cache from before
    the record is taken as it is)."""
    record = cache / "fingerprint_params.json"
    if record.exists():
        stored = json.loads(record.read_text())
        if stored != json.loads(json.dumps(params)):
            raise SystemExit(f"{cache}: its cached fingerprints were made with {stored}, but the model's are "
                             f"{params}; delete the folder to compute them again")
    else:
        record.write_text(json.dumps(params, sort_keys=True, indent=1))


def assess(rows: pd.DataFrame, ood: pd.DataFrame, s_in, s_out, classes, measure: str, flag: float,
           sites: dict, temperature: float = 1.0, threshold: float | None = None) -> dict:
    """Calibrate the threshold on the in-class calibration half (unless given) and measure."""
    classes = list(classes)
    lattice_in, lattice_out = rows.sites.values >= 0, ood.sites.values >= 0
    sum_in, sum_out = unc.summarise(s_in, temperature), unc.summarise(s_out, temperature)
    easy = rows.eval(EASY).values
    if threshold is None:
        cal = easy & (rows.half.values == "calibration") & lattice_in
        threshold = unc.threshold_for(sum_in[measure][cal], flag)
    decision = unc.Decision(method="ensemble", samples=1, measure=measure, threshold=threshold,
                            temperature=temperature, sites=sites)
    labels_in = np.array([lab for lab, _ in unc.decide(sum_in, classes, decision, rows.sites.values)])
    labels_in[~lattice_in] = unc.UNKNOWN
    cnn_only = unc.Decision(method="ensemble", samples=1, measure=measure, threshold=threshold, temperature=temperature)
    labels_out = np.array([lab for lab, _ in unc.decide(sum_out, classes, decision, ood.sites.values)])
    labels_out_cnn = np.array([lab for lab, _ in unc.decide(sum_out, classes, cnn_only)])
    labels_out[~lattice_out] = unc.UNKNOWN
    labels_out_cnn[~lattice_out] = unc.UNKNOWN
    best_in = np.array(classes)[sum_in["best"]]
    test = rows.half.values == "test"
    out = {"measure": measure, "threshold": threshold, "temperature": temperature}
    for half in ("calibration", "test"):
        o = ood.half.values == half
        out[f"ood_{half}_unknown"] = float(np.mean(labels_out[o] == unc.UNKNOWN))
        out[f"ood_{half}_unknown_cnn_only"] = float(np.mean(labels_out_cnn[o] == unc.UNKNOWN))
    out["in_test_pristine_flagged"] = float(np.mean(labels_in[test & (rows.defect.values == "pristine")] == unc.UNKNOWN))
    out["in_test_easy_flagged"] = float(np.mean(labels_in[test & easy] == unc.UNKNOWN))
    wrong_as_class = (labels_in != unc.UNKNOWN) & (labels_in != rows.label.values)
    out["in_test_wrong_as_class"] = float(np.mean(wrong_as_class[test]))
    out["in_calibration_wrong_as_class"] = float(np.mean(wrong_as_class[rows.half.values == "calibration"]))
    framed = test & lattice_in
    out["ece_test"], _ = unc.reliability(sum_in["probabilities"][framed].max(axis=1),
                                         best_in[framed] == rows.label.values[framed])
    pristine = test & (rows.defect.values == "pristine") & lattice_in
    o = (ood.half.values == "test") & lattice_out
    score = np.concatenate([sum_in[measure][pristine], sum_out[measure][o]])
    out["auroc_test"] = auroc(score[:pristine.sum()], score[pristine.sum():])
    out["_labels_in"], out["_labels_out"], out["_sum_in"], out["_sum_out"] = labels_in, labels_out, sum_in, sum_out
    out["_decision_sites"] = sites
    return out


def decision_sites(rows: pd.DataFrame, classes) -> tuple[dict, pd.DataFrame | None]:
    """The site counts of the decision's check 2, class -> sites per primitive cell, and (classes
    without prototype counts) the table they come from.

    The paper's classes: their prototypes' (:func:`paper_lib.structures.class_site_counts`), table
    None. Other classes (the extended model's): every count the pre-processing found on the in-class
    calibration half's pristine and easy structures (displacements <= 5 %, vacancies <= 25 %) of the
    class; the table counts the structures per class and count. A class where no crystal was found
    gets no check."""
    from paper_lib.structures import class_site_counts

    known = class_site_counts(classes)
    if set(classes) <= set(known):
        return known, None
    found = rows[(rows.half.values == "calibration") & rows.eval(EASY).values & (rows.sites.values > 0)]
    table = pd.crosstab(found.label, found.sites)
    sites = {c: sorted(int(k) for k in table.columns[table.loc[c] > 0]) for c in classes if c in table.index}
    return sites, table


def all_seed_samples(paths: dict, cache: Path, methods: dict, seeds, fps_in) -> np.ndarray:
    """In-class samples (n, seeds, classes), one network per seed: the ensemble of all ``seeds`` if
    one of ``methods`` is, else the one network's plain pass (cached as ``samples_single.npz``)."""
    for name, (method, member_seeds) in methods.items():
        if method == "ensemble" and tuple(member_seeds) == tuple(seeds):
            return np.load(cache / f"samples_{name}.npz")["inside"]
    path = cache / "samples_single.npz"
    if not _cached_samples(path, seeds):
        s_in = unc.sample_probabilities(_network(paths, "ensemble", seeds), np.asarray(fps_in), "ensemble")
        np.savez(path, inside=s_in.astype(np.float32), seeds=np.asarray(seeds))
    return np.load(path)["inside"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/robust")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="the networks' training seeds, the main network first (default: the shipped model's)")
    parser.add_argument("--members", help="path of each network under --results, with {seed} for its seed "
                                          "(default: model.keras for the first seed, seeds/model-{seed}.keras for the others)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--n-per-kind", type=int, default=24, help="out-of-class structures per prototype/kind and split")
    parser.add_argument("--held-out-n", type=int, default=40,
                        help="structures per held-out prototype of the extended library (each also with defects)")
    parser.add_argument("--flag", type=float, default=0.03,
                        help="share of in-class calibration structures (pristine, displacements <= 5 %%, "
                             "vacancies <= 25 %%) the threshold may flag")
    parser.add_argument("--out", help="write the calibrated model here (e.g. paper_lib/data/model.keras)")
    parser.add_argument("--figures", default="figures/robust/uncertainty")
    args = parser.parse_args()
    results = ROOT / args.results
    seeds = tuple(args.seeds)
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seeds: a seed given twice: {list(seeds)}")
    if args.members is not None and "{seed}" not in args.members:
        parser.error("--members must contain {seed}")
    paths = {s: member_path(results, s, seeds, args.members) for s in seeds}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        parser.error(f"no network at {', '.join(missing)}")
    meta = check_members(paths)
    methods = methods_for(seeds)
    cache = results / "uncertainty"
    cache.mkdir(parents=True, exist_ok=True)
    figures = ROOT / args.figures
    figures.mkdir(parents=True, exist_ok=True)

    main_network = load_members(paths, seeds[:1])[0]
    classes, params = main_network.classes, dict(main_network.fingerprint)
    check_cache(cache, params)
    wide = params.get("preprocessing") == "crystal_frame_wide"
    rows, fps_in = in_class(results, cache, args.processes, meta["training_data"]["validation_sids"], wide)
    ood, fps_out = out_of_class(cache, args.processes, args.n_per_kind, classes, params)
    sites, site_table = decision_sites(rows, classes)
    print(f"in-class: {len(rows)} rows ({(rows.sites < 0).sum()} without a lattice); out-of-class: {len(ood)}",
          flush=True)
    print("sites per primitive cell found, in-class pristine/defective:\n",
          pd.crosstab(rows.label, rows.sites).to_string(), flush=True)
    if site_table is not None:
        site_table.to_csv(figures / "sites.csv")
        print("site counts of the decision, from the calibration half's pristine and easy structures:\n",
              "\n".join(f"  {c}: {v}" for c, v in sites.items()), flush=True)

    records, kept = [], None
    for name, (method, member_seeds) in methods.items():
        s_in, s_out = samples(paths, cache, name, method, member_seeds, fps_in, fps_out)
        cal = (rows.half.values == "calibration") & (rows.sites.values >= 0)
        truth = np.array([list(classes).index(c) for c in rows.label.values[cal]])
        temperature = unc.fit_temperature(s_in[cal], truth)
        for measure in unc.MEASURES:
            for t in (1.0, temperature):
                r = assess(rows, ood, s_in, s_out, classes, measure, args.flag, sites, temperature=t)
                r["method"] = name
                records.append(r)
                # chosen on the calibration halves alone: the most out-of-class calibration
                # structures unknown; on a tie, the fewest in-class calibration structures given a
                # wrong class; on a tie of both, the first in the fixed order of the loops (MC
                # dropout, 3, all members; entropy, mutual information, margin; no temperature
                # before the fitted one)
                key = (r["ood_calibration_unknown"], -r["in_calibration_wrong_as_class"])
                if kept is None or key > kept[0]:
                    kept = (key, r)
    table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in records])
    cols = ["method", "measure", "temperature", "threshold", "ood_calibration_unknown",
            "in_calibration_wrong_as_class", "ood_test_unknown",
            "ood_test_unknown_cnn_only", "in_test_pristine_flagged", "in_test_easy_flagged", "in_test_wrong_as_class",
            "ece_test", "auroc_test"]
    table = table[cols]
    print(table.round(4).to_string(index=False), flush=True)
    table.round(6).to_csv(figures / "methods.csv", index=False)
    best = kept[1]
    print(f"kept: {best['method']} {best['measure']} T={best['temperature']:.3f} threshold={best['threshold']:.4f}")
    s_all = all_seed_samples(paths, cache, methods, seeds, fps_in)
    report(rows, ood, best, classes, figures, s_all, seeds)
    from paper_lib.prototypes import EXTENDED, HELD_OUT

    if set(classes) <= set(EXTENDED) and not set(HELD_OUT) & set(classes) and args.held_out_n > 0:
        held_out_test(paths, cache, figures, methods[best["method"]], best, classes, sites, params,
                      args.processes, args.held_out_n)
    if args.out:
        write_calibrated(paths, methods, best, sites, args, rows, ood, site_table is not None)


def per_seed_accuracy(s_all: np.ndarray, seeds, rows: pd.DataFrame, classes) -> pd.DataFrame:
    """Accuracy of each seed's network alone (no uncertainty, no unknown), per Table 1 level;
    structures without a lattice count as wrong. ``s_all``: in-class samples (n, seeds, classes)."""
    out = []
    truth = rows.label.values
    for k, seed in enumerate(seeds):
        predicted = np.array(classes)[s_all[:, k].argmax(axis=1)]
        right = (predicted == truth) & (rows.sites.values >= 0)
        for (defect, level), group in rows.groupby(["defect", "level"]).groups.items():
            out.append({"defect": defect, "level": level, "seed": seed, "accuracy": 100 * right[group].mean()})
    return pd.DataFrame(out)


def held_out_structures(n: int, params: dict) -> tuple[pd.DataFrame, list]:
    """``n`` dataset structures of each prototype of :data:`paper_lib.prototypes.HELD_OUT` (elements of
    the presets' ``elements: all``, the pre-processing and cluster size of ``params``), each pristine
    and with the defects of :data:`HELD_OUT_DEFECTS`; random streams seeded by (prototype, index)."""
    from paper_lib.defects import apply, dataset_nn_distance
    from paper_lib.prototypes import HELD_OUT, default_elements, pristine_prototype

    elements = default_elements()
    records, structures = [], []
    for k, name in enumerate(HELD_OUT):
        for i in range(n):
            cluster, record = pristine_prototype(name, elements, int(params["target_atoms"]),
                                                 np.random.default_rng([HELD_OUT_SEED, k, i]),
                                                 preprocessing=params["preprocessing"])
            nn = dataset_nn_distance(cluster, params["preprocessing"])
            for j, (kind, level) in enumerate(HELD_OUT_DEFECTS):
                atoms = cluster if kind == "pristine" else apply(
                    kind, level, cluster, np.random.default_rng([HELD_OUT_SEED, k, i, 1 + j]), nn)
                records.append({"prototype": name, "index": i, "element": record["element"],
                                "defect": kind, "level": level})
                structures.append(atoms)
    return pd.DataFrame(records), structures


def held_out_data(cache: Path, params: dict, processes: int, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`held_out_structures` fingerprinted with the model's parameters ``params``: their records
    (with ``sites``: -1 no lattice found) and fingerprints (zero where none), cached per ``n``."""
    from paper_lib.diffraction import fingerprints

    table_path, fp_path = cache / f"held_out_{n}.csv", cache / f"held_out_{n}_fingerprints.npy"
    if not table_path.exists():
        start = time.perf_counter()
        info, structures = held_out_structures(n, params)
        batch = fingerprints(structures, processes=processes, progress=False, **params)
        info["sites"] = 0
        info.loc[batch.ok, "sites"] = batch.sites
        info.loc[list(batch.no_lattice), "sites"] = -1
        broken = sorted(set(i for i, _ in batch.failed) - set(batch.no_lattice))
        if broken:
            raise RuntimeError(f"held-out structures that could not be fingerprinted: {[batch.failed[i] for i in broken][:3]}")
        fps = np.zeros((len(structures), 64, 64, 3), np.float32)
        fps[batch.ok] = batch.fingerprints
        np.save(fp_path, fps)
        info.to_csv(table_path, index=False)
        print(f"held-out prototypes: {len(structures)} structures in {time.perf_counter() - start:.0f} s "
              f"({len(batch.no_lattice)} without a lattice)", flush=True)
    return pd.read_csv(table_path), np.load(fp_path)


def held_out_test(paths: dict, cache: Path, figures: Path, method_seeds: tuple, best: dict, classes, sites: dict,
                  params: dict, processes: int, n: int) -> pd.DataFrame:
    """The held-out prototypes through the model with the kept decision: ``held_out.csv`` under
    ``figures``, per prototype, defect and level: structures, the share answered ``unknown`` and
    why (no lattice found, else site count, else uncertainty: the checks in the decision's order),
    the share that the uncertainty alone would flag (no site check), the labels given and the most
    probable classes (with their counts)."""
    info, fps = held_out_data(cache, params, processes, n)
    method, seeds = method_seeds
    s = unc.sample_probabilities(_network(paths, method, seeds), fps, method)
    decision = unc.Decision(method="ensemble", samples=1, measure=best["measure"], threshold=best["threshold"],
                            temperature=best["temperature"], sites=sites)
    summary = unc.summarise(s, best["temperature"])
    decided = unc.decide(summary, classes, decision, info.sites.values)
    labels = np.array([lab for lab, _ in decided], dtype=object)
    why = np.array(["answered" if reason is None else "uncertainty" if reason.startswith("uncertainty") else "sites"
                    for _, reason in decided], dtype=object)
    labels[info.sites.values < 0] = unc.UNKNOWN
    why[info.sites.values < 0] = "no lattice"
    cnn_only = unc.Decision(method="ensemble", samples=1, measure=best["measure"], threshold=best["threshold"],
                            temperature=best["temperature"])
    uncertain = np.array([lab == unc.UNKNOWN for lab, _ in unc.decide(summary, classes, cnn_only)])
    info = info.assign(label=labels, unknown=labels == unc.UNKNOWN, why=why,
                       best=np.array(classes)[summary["best"]], uncertain=uncertain | (info.sites.values < 0))
    groups = []
    for (name, defect, level), part in info.groupby(["prototype", "defect", "level"], sort=False):
        counts = part.why.value_counts()
        groups.append({"prototype": name, "defect": defect, "level": level, "n": len(part),
                       "unknown_share": round(float(part.unknown.mean()), 4),
                       "unknown_no_lattice": int(counts.get("no lattice", 0)), "unknown_sites": int(counts.get("sites", 0)),
                       "unknown_uncertainty": int(counts.get("uncertainty", 0)),
                       "unknown_share_cnn_only": round(float(part.uncertain.mean()), 4),
                       "labels_given": ", ".join(f"{k} {v}" for k, v in part.label.value_counts().items()),
                       "best_class": ", ".join(f"{k} {v}" for k, v in part.best[part.sites >= 0].value_counts().items())})
    table = pd.DataFrame(groups)
    table.to_csv(figures / "held_out.csv", index=False)
    print(table.to_string(index=False), flush=True)
    print(f"held-out prototypes answered unknown: {info.unknown.mean():.1%} of {len(info)} "
          f"(pristine {info.unknown[info.defect == 'pristine'].mean():.1%}; without the site check "
          f"{info.uncertain.mean():.1%})", flush=True)
    return table


def report(rows, ood, best, classes, figures: Path, s_all: np.ndarray, seeds) -> None:
    """levels.csv, out_of_class.csv, reliability.csv and the three figures for the kept choice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels_in, labels_out, sum_in, sum_out = best["_labels_in"], best["_labels_out"], best["_sum_in"], best["_sum_out"]
    best_in = np.array(classes)[sum_in["best"]]
    truth = rows.label.values
    lattice = rows.sites.values >= 0
    per_seed = per_seed_accuracy(s_all, seeds, rows, classes)
    spread = per_seed.groupby(["defect", "level"]).accuracy.agg(["mean", "std"]).reset_index()
    levels = []
    for (defect, level), idx in rows.groupby(["defect", "level"]).groups.items():
        idx = np.asarray(idx)
        unknown = labels_in[idx] == unc.UNKNOWN
        answered = ~unknown
        s = spread[(spread.defect == defect) & (spread.level == level)].iloc[0]
        levels.append({"defect": defect, "level": level, "n": len(idx), "no_lattice": int((~lattice[idx]).sum()),
                       "accuracy_best": 100 * np.mean((best_in[idx] == truth[idx]) & lattice[idx]),
                       "seed_accuracy_mean": s["mean"], "seed_accuracy_sd": s["std"],
                       "unknown": 100 * unknown.mean(),
                       "right": 100 * np.mean(labels_in[idx] == truth[idx]),
                       "wrong_as_class": 100 * np.mean(answered & (labels_in[idx] != truth[idx])),
                       "accuracy_of_answers": 100 * np.mean(labels_in[idx][answered] == truth[idx][answered])
                       if answered.any() else float("nan")})
    levels = pd.DataFrame(levels).sort_values(["defect", "level"])
    levels.round(3).to_csv(figures / "levels.csv", index=False)
    print(levels.round(2).to_string(index=False), flush=True)
    per_seed.round(3).to_csv(figures / "seeds.csv", index=False)

    reasons = []
    for i in range(len(ood)):
        if ood.sites.values[i] < 0:
            reasons.append("no lattice")
        elif labels_out[i] != unc.UNKNOWN:
            reasons.append("answered")
        else:
            allowed = best["_decision_sites"].get(classes[sum_out["best"][i]], [])
            reasons.append("sites" if allowed and ood.sites.values[i] not in allowed else "uncertainty")
    ood = ood.assign(outcome=reasons, best=np.array(classes)[sum_out["best"]], uncertainty=sum_out[best["measure"]])
    table = (ood.groupby(["half", "name"]).outcome.value_counts().unstack(fill_value=0))
    table["n"] = table.sum(axis=1)
    table["unknown_share"] = 1 - table.get("answered", 0) / table["n"]
    table["answered_as"] = ood[ood.outcome == "answered"].groupby(["half", "name"]).best.agg(
        lambda b: ", ".join(f"{k} {v}" for k, v in b.value_counts().items()))
    table = table.reset_index().fillna("")
    table.to_csv(figures / "out_of_class.csv", index=False)
    print(table.to_string(index=False), flush=True)

    test = (rows.half.values == "test") & lattice
    ece, bins = unc.reliability(sum_in["probabilities"][test].max(axis=1), best_in[test] == truth[test])
    pd.DataFrame(bins).round(6).to_csv(figures / "reliability.csv", index=False)
    from paper_lib.plotting import reliability_diagram

    fig = reliability_diagram(bins, ece, f"in-class test half, {test.sum()} structures")
    fig.savefig(figures / "reliability.png", dpi=150)
    plt.close(fig)

    # accuracy of the answers against the share flagged, sweeping the threshold (in-class test half)
    measure_in = sum_in[best["measure"]]
    test_all = rows.half.values == "test"
    order = np.sort(np.unique(np.r_[measure_in[test], 0.0, 1.0]))
    thresholds = order[np.linspace(0, len(order) - 1, min(len(order), 400)).astype(int)]
    flagged, accuracy, ood_flagged = [], [], []
    o = ood.half.values == "test"
    for t in thresholds:
        d = unc.Decision(method="ensemble", samples=1, measure=best["measure"], threshold=float(t),
                         temperature=best["temperature"], sites=best["_decision_sites"])
        lab = np.array([x for x, _ in unc.decide(sum_in, classes, d, rows.sites.values)])
        lab[~lattice] = unc.UNKNOWN
        answered = test_all & (lab != unc.UNKNOWN)
        flagged.append(1 - answered.sum() / test_all.sum())
        accuracy.append(np.mean(lab[answered] == truth[answered]) if answered.any() else np.nan)
        lo = np.array([x for x, _ in unc.decide(sum_out, classes, d, ood.sites.values)])
        lo[ood.sites.values < 0] = unc.UNKNOWN
        ood_flagged.append(np.mean(lo[o] == unc.UNKNOWN))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(100 * np.array(flagged), 100 * np.array(accuracy), color="tab:blue", label="in-class: accuracy of the answers")
    ax.plot(100 * np.array(flagged), 100 * np.array(ood_flagged), color="tab:red",
            label="out-of-class test: share unknown")
    mark = 1 - np.mean(labels_in[test_all] != unc.UNKNOWN)
    ax.axvline(100 * mark, color="0.5", lw=1, ls=":", label=f"calibrated threshold {best['threshold']:.3f}")
    ax.set(xlabel="in-class test structures flagged unknown (%)", ylabel="%", xlim=(0, 30), ylim=(50, 100.5),
           title="sweeping the uncertainty threshold (test halves)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(figures / "coverage.png", dpi=150)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)
    for ax, defect in zip(axes, ("displacements", "vacancies")):
        part = levels[levels.defect.isin([defect, "pristine"])].sort_values("level")
        x = np.arange(len(part))
        ax.bar(x, part.right, color="tab:green", label="right")
        ax.bar(x, part.unknown, bottom=part.right, color="0.7", label="unknown")
        ax.bar(x, part.wrong_as_class, bottom=part.right + part.unknown, color="tab:red", label="wrong class")
        ax.set_xticks(x, [f"{v:g}" for v in part.level], fontsize=7)
        ax.set(xlabel=f"{defect} (%)", title=defect)
    axes[0].set_ylabel("share of structures (%)")
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(figures / "flagged_by_level.png", dpi=150)
    plt.close(fig)


def write_calibrated(paths: dict, methods: dict, best: dict, sites: dict, args, rows, ood, sites_found: bool) -> None:
    """The kept decision written into the model (an ensemble's members into one file)."""
    from paper_lib.model import ensemble, write_model

    method, seeds = methods[best["method"]]
    members = load_members(paths, seeds)
    cal_in = (rows.half == "calibration").sum()
    preset = members[0].metadata["training_data"].get("preset", "training")
    calibration = {"flagged_in_class": args.flag, "in_class": f"{cal_in} held-out structures of the {preset} preset "
                   "(validation pristine and defective test variants, even sids)",
                   "out_of_class": f"{(ood.half == 'calibration').sum()} structures of paper_lib.out_of_class, "
                   "calibration split", "script": "scripts/calibrate_shipped_model.py"}
    if sites_found:
        calibration["sites"] = ("every count the pre-processing found on the in-class calibration half's pristine "
                                "and easy structures (displacements <= 5 %, vacancies <= 25 %) of each class")
    decision = unc.Decision(
        method=method, samples=unc.MC_SAMPLES if method == "mc_dropout" else len(seeds),
        measure=best["measure"], threshold=round(float(best["threshold"]), 6),
        temperature=round(float(best["temperature"]), 6), sites=sites, calibration=calibration)
    if method == "ensemble":
        keras_model, metadata = ensemble(members)
    else:
        keras_model, metadata = members[0].model, json.loads(json.dumps(members[0].metadata))
    metadata["uncertainty"] = decision.as_dict()
    write_model(keras_model, metadata, ROOT / args.out)
    print(f"wrote {args.out}: {decision}")


if __name__ == "__main__":
    main()
