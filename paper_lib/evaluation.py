"""Evaluation of predictions: accuracy, per-class recall and confusion matrices (percent)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: columns of ``accuracy.csv``: method, defect kind, level (%), structures scored, accuracy (%)
ACCURACY_COLUMNS = ["method", "defect", "level", "n", "accuracy"]


@dataclass(frozen=True)
class Evaluation:
    """``accuracy`` (%) over ``n`` structures, ``recall`` per true class (%; NaN for an absent
    class), and ``confusion`` counts (rows: true class, columns: predicted class)."""

    n: int
    accuracy: float
    recall: dict[str, float]
    confusion: pd.DataFrame


def evaluate(true_labels, predicted_labels, classes) -> Evaluation:
    """Compare predicted with true labels (strings from ``classes``).

    Predictions outside ``classes`` (a baseline's ``none``) get their own confusion columns; a true
    label outside ``classes`` is a ``ValueError``."""
    true = np.asarray(true_labels, dtype=object)
    predicted = np.asarray(predicted_labels, dtype=object)
    if true.shape != predicted.shape:
        raise ValueError(f"{len(true)} true labels for {len(predicted)} predictions")
    classes = list(classes)
    foreign = sorted(set(true.tolist()) - set(classes), key=str)
    if foreign:
        raise ValueError(f"true labels {foreign} are not among the classes {classes}")
    extra = sorted(set(predicted.tolist()) - set(classes))   # e.g. a baseline's "none"
    confusion = pd.crosstab(pd.Series(true, name="true"), pd.Series(predicted, name="predicted")).reindex(
        index=pd.Index(classes, name="true"), columns=pd.Index(classes + extra, name="predicted"), fill_value=0)
    recall = {}
    for c in classes:
        members = int(confusion.loc[c].sum())
        recall[c] = 100.0 * confusion.loc[c, c] / members if members else float("nan")
    accuracy = 100.0 * float(np.mean(true == predicted)) if len(true) else float("nan")
    return Evaluation(n=int(len(true)), accuracy=accuracy, recall=recall, confusion=confusion)


def accuracy_row(method: str, defect: str, level: float, evaluation: Evaluation) -> dict:
    """One row of ``accuracy.csv``."""
    return {"method": method, "defect": defect, "level": float(level), "n": evaluation.n,
            "accuracy": round(evaluation.accuracy, 4)}


#: columns of a per-structure prediction table (``python -m paper_lib evaluate --predictions``,
#: ``python -m paper_lib baselines``): one row per structure and method
PREDICTION_COLUMNS = ["method", "row_id", "sid", "label", "defect", "level", "predicted", "detail"]


@dataclass(frozen=True)
class Summary:
    """Tables of :func:`summarise`: ``accuracy`` (ACCURACY_COLUMNS), ``recall`` (method, defect,
    level, class, n, recall in %) and ``confusion`` ((method, defect, level) -> counts)."""

    accuracy: pd.DataFrame
    recall: pd.DataFrame
    confusion: dict


def summarise(predictions: pd.DataFrame, classes) -> Summary:
    """Accuracy, per-class recall and confusion per method, defect kind and level from a
    per-structure prediction table (PREDICTION_COLUMNS)."""
    missing = set(("method", "label", "defect", "level", "predicted")) - set(predictions.columns)
    if missing:
        raise ValueError(f"the prediction table lacks the column(s) {', '.join(sorted(missing))}")
    rows, recalls, confusion = [], [], {}
    for (method, defect, level), group in predictions.groupby(["method", "defect", "level"], sort=True):
        result = evaluate(group["label"], group["predicted"], classes)
        rows.append(accuracy_row(method, defect, level, result))
        for c, r in result.recall.items():
            recalls.append({"method": method, "defect": defect, "level": float(level), "class": c,
                            "n": int(result.confusion.loc[c].sum()), "recall": round(r, 4)})
        confusion[(method, defect, float(level))] = result.confusion
    return Summary(pd.DataFrame(rows, columns=ACCURACY_COLUMNS),
                   pd.DataFrame(recalls, columns=["method", "defect", "level", "class", "n", "recall"]),
                   confusion)


#: a method trained with several seeds appears in ``accuracy.csv`` as ``NAME`` (the main seed)
#: and ``NAME_seed<S>`` (each further seed)
SEED_SUFFIX = r"_seed\d+$"


def seed_spread(accuracy: pd.DataFrame) -> pd.DataFrame:
    """``accuracy.csv`` with each method's seeds folded into one row per defect and level:
    ``accuracy`` the mean over seeds (%), ``accuracy_sd`` their sample standard deviation (NaN
    for one seed), ``seeds`` how many have an accuracy there. Methods without further seeds keep
    their value (1 seed)."""
    table = accuracy.assign(method=accuracy["method"].str.replace(SEED_SUFFIX, "", regex=True))
    grouped = table.groupby(["method", "defect", "level"], sort=True)
    out = grouped.agg(n=("n", "max"), accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
                      seeds=("accuracy", "count")).reset_index()
    return out


def wilson_interval(right, n, z: float = 1.959964) -> tuple:
    """Wilson score interval (low, high), as fractions in [0, 1], of a proportion of ``right``
    successes in ``n`` trials (scalars or arrays alike); ``z`` = 1.96 gives 95 %. NaN where n is 0.
    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 % or 100 %."""
    right = np.asarray(right, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = right / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    low, high = np.where(right == 0, 0.0, low), np.where(right == n, 1.0, high)   # exact at 0 % and 100 %
    low, high = np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def sid_runs(sids) -> list[list[int]]:
    """Sorted distinct integers as runs ``[[start, stop], ...]`` (stop excluded): the pristine
    structures a model saw, short in model.json however many there are."""
    runs: list[list[int]] = []
    for sid in sorted({int(s) for s in sids}):
        if runs and runs[-1][1] == sid:
            runs[-1][1] = sid + 1
        else:
            runs.append([sid, sid + 1])
    return runs


def trained_on(defect, sid, dataset_digest, training_data: dict) -> tuple[np.ndarray, bool]:
    """Which rows are structures a model trained on, by their identity: a pristine row whose
    dataset (``dataset_digest`` of its file, see ``Preset.dataset_digest``) is the model's and
    whose ``sid`` the model saw (``training_data.pristine_sids``) but did not hold out
    (``validation_sids``). The file the rows came from plays no part.

    Returns (mask, known); ``known`` is False when the model or the file records no dataset
    digest, and then no row is marked."""
    defect, sid = np.asarray(defect), np.asarray(sid)
    mask = np.zeros(len(sid), dtype=bool)
    model_digest = training_data.get("dataset_digest")
    if not model_digest or not dataset_digest or "pristine_sids" not in training_data:
        return mask, False
    if dataset_digest != model_digest:
        return mask, True
    seen = np.zeros(len(sid), dtype=bool)
    for start, stop in training_data["pristine_sids"]:
        seen |= (sid >= start) & (sid < stop)
    held_out = np.isin(sid, training_data.get("validation_sids", []))
    return (defect == "pristine") & seen & ~held_out, True


#: fingerprints per call of ``predict`` in :func:`model_predictions` (its progress steps): 32 of
#: predict's batches of 256
PREDICT_CHUNK = 8192


class TrainingDataWarning(UserWarning):
    """Fingerprints of which nobody can tell whether a model trained on them (the model or the
    file records no dataset digest): they are scored as they are."""


def model_predictions(model, fingerprint_files, method: str = "cnn", *, progress: bool | None = False) -> pd.DataFrame:
    """Per-structure predictions (:data:`PREDICTION_COLUMNS`; ``detail`` is the top probability) of a
    model on fingerprint files, read one file at a time, of the structures it did not train on.

    ``model``: a :class:`~paper_lib.model.LoadedModel`, a model file or a shipped model's name. A
    pristine structure the model trained on (:func:`trained_on`: same dataset digest, a sid it saw
    and did not hold out) is never scored: its row is left out of the table. Raises ``ValueError``
    when every structure given is one the model trained on (nothing held out is left to score),
    when a file holds classes the model does not know, and :class:`~paper_lib.model.ModelError`
    when a file's fingerprint parameters differ from the model's. Warns
    (:class:`TrainingDataWarning`) for a file whose structures cannot be told apart from the
    model's training data: all of them are scored. ``progress``: a bar on stderr (None: only on a
    terminal), one step per fingerprint.
    """
    import warnings

    from .io import load_fingerprint_set, read_fingerprints
    from .model import LoadedModel, check_fingerprint_params, load_model, predict
    from .parallel import progress_bar

    fingerprint_files = list(fingerprint_files)
    if not fingerprint_files:
        raise ValueError("no fingerprint files given")
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    model_params = {k: v for k, v in loaded.fingerprint.items() if k != "target_atoms"}
    training = loaded.metadata.get("training_data", {})
    total = sum(len(read_fingerprints(path, with_fingerprints=False)["row_id"]) for path in fingerprint_files)
    parts, n_trained = [], 0
    with progress_bar(total=total, desc="evaluate", unit="fp", progress=progress) as bar:
        for path in fingerprint_files:
            data = load_fingerprint_set([path])
            check_fingerprint_params(model_params, data["fingerprint_params"], loaded.path)
            foreign = sorted(set(data["label"]) - set(loaded.classes))
            if foreign:
                raise ValueError(f"{path}: the data hold classes the model does not know ({', '.join(foreign)}); "
                                 f"the model's classes: {', '.join(loaded.classes)}")
            trained, known = trained_on(data["defect"], data["sid"], data["dataset_digest"], training)
            if not known:
                warnings.warn(f"{path}: cannot tell which of its structures {loaded.path} trained on (the model or "
                              "the file records no dataset digest): every pristine structure is scored",
                              TrainingDataWarning, stacklevel=2)
            keep = ~trained
            n_trained += int(trained.sum())
            bar.update(int(trained.sum()))          # structures it trained on: not scored
            chosen = data["fingerprints"][keep]
            probabilities = np.zeros((0, len(loaded.classes)), np.float32)
            for first in range(0, len(chosen), PREDICT_CHUNK):
                part = predict(loaded, chosen[first:first + PREDICT_CHUNK])
                probabilities = np.concatenate([probabilities, part])
                bar.update(len(part))
            predicted = np.array(loaded.classes)[np.argmax(probabilities, axis=1)] if keep.any() else []
            parts.append(pd.DataFrame({"method": method, "row_id": data["row_id"][keep],
                                       "sid": data["sid"][keep], "label": data["label"][keep],
                                       "defect": data["defect"][keep], "level": data["level"][keep],
                                       "predicted": predicted,
                                       "detail": probabilities.max(axis=1) if keep.any() else []}))
    table = pd.concat(parts, ignore_index=True)[PREDICTION_COLUMNS]
    if n_trained and table.empty:
        raise ValueError(f"{', '.join(map(str, fingerprint_files))}: every structure is one {loaded.path} trained on; "
                         "a model is scored on structures it did not train on only")
    return table


# --------------------------------------------------------------------------------------------
# Real crystals: ASE's dcdft set of elemental solids, with the dataset's defects added
# --------------------------------------------------------------------------------------------

#: dcdft crystals whose space group is one of the seven classes but whose structure type is none of
#: the prototypes the network was trained on: a miss there is not a wrong answer to a fair question
OTHER_STRUCTURE_TYPES = {
    "H": "molecular H2 on an hcp lattice", "B": "alpha-B, 12-atom icosahedra (R-3m)",
    "C": "graphite (P6_3/mmc)", "Li": "9R stacking (R-3m)", "Na": "9R stacking (R-3m)",
    "S": "S on an hR1 lattice", "Mn": "two-atom antiferromagnetic fcc cell",
}


def dcdft_crystals(classes=None) -> list[tuple[str, object, str]]:
    """``(element, Atoms, class)`` for ASE's dcdft crystals whose space group (spglib, 1e-3 A)
    belongs to one of ``classes`` (default: the seven), in the collection's order."""
    from ase.collections import dcdft

    from .structures import CLASSES_7, SPACEGROUPS, spacegroup_number

    classes = CLASSES_7 if classes is None else classes
    group_to_class = {sg: c for c in classes for sg in SPACEGROUPS[c]}
    out = []
    for name in dcdft.names:
        atoms = dcdft[name]
        label = group_to_class.get(spacegroup_number(atoms, 1e-3))
        if label:
            out.append((name, atoms, label))
    return out


def real_crystal_predictions(model, displacements, vacancies, copies: int = 5, seed: int = 0,
                             processes: int = 1, classes=None):
    """Predictions of ``model`` (a LoadedModel) for ASE's dcdft crystals, pristine and with the
    dataset's defects: each crystal goes through the dataset's pre-processing of the model's
    ``preprocessing`` (``paper2018``: random rotation, conventional cell, ~250-atom supercell;
    ``crystal_frame``: a larger aligned sphere; both at unit nearest-neighbour distance), then ``copies``
    random realisations of every displacement level (% of d_nn, Gaussian per component) and
    vacancy level (% of atoms removed) are made and classified as finite clusters.

    Returns a prediction table (PREDICTION_COLUMNS plus ``structure``, the element, and ``fair``,
    False for the structure types of ``OTHER_STRUCTURE_TYPES``); ``detail`` is the top probability.
    """
    from .defects import apply
    from .diffraction import fingerprints
    from .model import predict
    from .preprocessing import dataset_cluster

    crystals = dcdft_crystals(classes or model.classes)
    target = model.fingerprint.get("target_atoms", 250)
    robust = model.fingerprint.get("preprocessing", "paper2018") != "paper2018"
    params = {k: v for k, v in model.fingerprint.items() if k != "target_atoms"}
    items, keys = [], []
    for sid, (name, atoms, label) in enumerate(crystals):
        rng = np.random.default_rng([seed, sid])
        plan = [("pristine", 0.0)] + [("displacements", float(d)) for d in displacements] \
            + [("vacancies", float(v)) for v in vacancies]
        for defect, level in plan:
            for _ in range(1 if defect == "pristine" else copies):
                cluster = dataset_cluster(atoms, target, rng, model.fingerprint["preprocessing"])
                items.append(cluster if defect == "pristine" else
                             apply(defect, level, cluster, rng, 1.0 if robust else None))
                keys.append({"sid": sid, "structure": name, "label": label, "defect": defect, "level": level})
    batch = fingerprints(items, processes=processes, target_atoms=target if robust else None,
                         progress=False, **params)
    probabilities = np.full((len(items), len(model.classes)), np.nan, dtype=np.float32)
    if len(batch.ok):
        probabilities[batch.ok] = predict(model, batch.fingerprints)
    rows = []
    for i, (key, p) in enumerate(zip(keys, probabilities)):
        found = np.isfinite(p).all()
        rows.append({"method": "cnn_dcdft", "row_id": i, **key,
                     "predicted": model.classes[int(np.argmax(p))] if found else "error",
                     "detail": float(p.max()) if found else float("nan"),
                     "fair": key["structure"] not in OTHER_STRUCTURE_TYPES})
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS + ["structure", "fair"])


def real_crystal_accuracy(predictions: pd.DataFrame, classes) -> pd.DataFrame:
    """The accuracy table (:data:`ACCURACY_COLUMNS`) of :func:`real_crystal_predictions`, with
    ``accuracy_trained_types``: the accuracy (%) over the crystals of the structure types the
    network was trained on alone (``fair``)."""
    table = summarise(predictions, classes).accuracy
    fair = summarise(predictions[predictions["fair"]], classes).accuracy
    table["accuracy_trained_types"] = fair["accuracy"].values
    return table


# --------------------------------------------------------------------------------------------
# Local maps: per-atom labels against the truth
# --------------------------------------------------------------------------------------------

#: atoms at least this far (Angstrom) from every grain boundary are a grain's interior
INTERIOR_DEPTH = 5.0


def local_scores(truth, labels, boundary_distance, depth: float = INTERIOR_DEPTH) -> dict:
    """Per-atom scores of a local map against the truth (both arrays of class names, ``unknown``
    for an amorphous region): ``interior`` (accuracy over atoms at least ``depth`` Angstrom from
    every boundary, in [0, 1]), ``crystalline`` (the same over crystalline interior atoms),
    ``amorphous_unknown`` (share of the amorphous interior called ``unknown``; NaN without one),
    ``per_class`` (interior accuracy of each true class) and ``n_interior``."""
    truth, labels = np.asarray(truth).astype(str), np.asarray(labels).astype(str)
    inside = np.asarray(boundary_distance) >= depth
    right = truth == labels
    crystalline = inside & (truth != "unknown")
    amorphous = inside & (truth == "unknown")
    return {"interior": float(right[inside].mean()) if inside.any() else float("nan"),
            "crystalline": float(right[crystalline].mean()) if crystalline.any() else float("nan"),
            "amorphous_unknown": float(right[amorphous].mean()) if amorphous.any() else float("nan"),
            "per_class": {c: float(right[inside & (truth == c)].mean()) for c in np.unique(truth[inside])},
            "n_interior": int(inside.sum())}


def accuracy_by_boundary_distance(truth, labels, boundary_distance, width: float = 1.0,
                                  limit: float = 20.0) -> pd.DataFrame:
    """Per-atom accuracy of a local map in shells of ``width`` Angstrom of distance to the nearest
    grain boundary, up to ``limit``: columns ``distance`` (shell centre, Angstrom), ``accuracy``, ``n``."""
    truth, labels = np.asarray(truth).astype(str), np.asarray(labels).astype(str)
    distance = np.asarray(boundary_distance)
    rows = []
    for low in np.arange(0.0, limit, width):
        shell = (distance >= low) & (distance < low + width)
        if shell.any():
            rows.append({"distance": low + width / 2, "accuracy": float((truth[shell] == labels[shell]).mean()),
                         "n": int(shell.sum())})
    return pd.DataFrame(rows)


def boundary_width(profile: pd.DataFrame, level: float = 0.9) -> float:
    """How far (Angstrom) from a boundary a map stays below ``level`` accuracy: the inner edge of the
    first shell from which every shell of ``profile`` (:func:`accuracy_by_boundary_distance`) reaches
    it; inf when none does."""
    good = profile["accuracy"].to_numpy() >= level
    for i in range(len(good)):
        if good[i:].all():
            width = profile["distance"].iloc[1] - profile["distance"].iloc[0] if len(profile) > 1 else 1.0
            return float(profile["distance"].iloc[i] - width / 2)
    return float("inf")


#: the defect levels of the local-map comparison: name -> (vacancies eta %, displacements delta %)
LOCAL_LEVELS = {"pristine": (0.0, 0.0), "displacements_3": (0.0, 3.0), "vacancies_20": (20.0, 0.0),
                "vacancies_20_displacements_3": (20.0, 3.0)}
#: the methods of the local-map comparison, as per-atom array names
LOCAL_METHODS = ("cnn", "ptm", "acna")


def local_map_comparison(n_atoms: int, seed: int, level: str, model=None, processes: int = 1):
    """A synthetic periodic polycrystal (:func:`paper_lib.synthetic.voronoi_polycrystal`: fcc, bcc,
    hcp, diamond and an amorphous grain) at one of :data:`LOCAL_LEVELS`, with every atom labelled by
    the CNN's local map (:func:`paper_lib.local.local_labels`, default window and stride), PTM and
    adaptive CNA. Returns the Atoms with the arrays ``truth``, ``boundary_distance`` (Angstrom),
    ``cnn``, ``cnn_probability``, ``cnn_uncertainty``, ``ptm``, ``acna``; ``info`` holds each
    method's wall time (s), the window and stride (Angstrom) and the level."""
    import time

    from .baselines import acna_atom_labels, ptm_atom_labels
    from .local import local_labels
    from .synthetic import voronoi_polycrystal

    if level not in LOCAL_LEVELS:
        raise ValueError(f"unknown local-map level {level!r}; choose from {', '.join(LOCAL_LEVELS)}")
    vacancies, displacements = LOCAL_LEVELS[level]
    sample = voronoi_polycrystal(n_atoms, seed=seed, vacancies=vacancies / 100, displacements=displacements / 100)
    start = time.perf_counter()
    result = local_labels(sample, model=model, processes=processes)
    cnn_s = time.perf_counter() - start
    start = time.perf_counter()
    ptm = ptm_atom_labels(sample)
    ptm_s = time.perf_counter() - start
    start = time.perf_counter()
    acna = acna_atom_labels(sample)
    acna_s = time.perf_counter() - start
    sample.arrays["cnn"] = result.label.astype("U16")
    sample.arrays["cnn_probability"] = result.probability.astype(float)
    sample.arrays["cnn_uncertainty"] = result.uncertainty.astype(float)
    sample.arrays["ptm"] = ptm.astype("U16")
    sample.arrays["acna"] = acna.astype("U16")
    sample.info.update({"level": level, "window": result.window, "stride": result.stride,
                        "windows": len(result.centres), "cnn_s": cnn_s, "ptm_s": ptm_s, "acna_s": acna_s,
                        "processes": processes})
    return sample
