"""Write an explorer sample (default ``paper_lib/data/explorer/``) from a preset's results.

The explorer (``paper_lib.widgets.Explorer()``, ``notebooks/04_explorer.ipynb``, Binder) opens a
shipped model with its sample (``paper_lib.widgets.SAMPLES``: ``explorer/`` for the robust model,
``explorer_extended/`` for the extended one), so that what it shows is what that model does on its
preset's data, without running the workflow first. Two files:

``structures.db``
    ASE database of the chosen structures (finite clusters, lengths in Å), with the keys of
    ``results/<preset>/structures.db`` (``sid``, ``label``, ``defect``, ``level`` in %, ...).
``fingerprints.h5``
    Their fingerprints, copied bit for bit from ``results/<preset>/fingerprints.h5`` (the layout of
    :func:`paper_lib.io.write_fingerprints`, gzip-compressed to keep the package small); its
    ``row_id`` points into ``structures.db`` beside it (attribute ``source``); attribute ``sample``
    (JSON) records the source files, the preset, the seed and the rule below; attribute
    ``fingerprint`` is the source file's (the explorer checks it against the model's).

The rule: for each of the model's classes, ``--per-class`` structures drawn with ``--seed`` from the
pristine structures the model (``--model``) held out from training (``validation_sids`` in its
JSON; the displaced copies of those structures were left out of training too) that have at least
one variant of each defect kind in ``--defects`` (default: displacements and vacancies) with a
fingerprint; for each, its pristine fingerprint and one variant of each of those kinds (drawn with
the same generator when it has several). Size: the robust sample (7 classes x 3, both kinds, 63
entries) takes 3.2 MB; a 30-class sample of 1 structure per class took 5.0 MB with both kinds (90
entries), 3.3 MB with ``--defects displacements`` (60) and 1.5 MB with ``--defects`` alone
(pristine only, 30; a pristine fingerprint compresses better than a defective one). No entry is chosen
by what the model predicts for it. The model must have trained on these results: its
``training_data`` names the structure database the fingerprint file was made from (``source``) and,
where both record one, the same ``dataset_digest``; the fingerprint parameters must be the model's.

Usage (from the repository root, after the preset has run; reads ``--results`` only)::

    python scripts/make_explorer_sample.py            # robust: then git add paper_lib/data/explorer
    python scripts/make_explorer_sample.py --results results/extended --model extended \
        --out paper_lib/data/explorer_extended --per-class 1
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "paper_lib" / "data" / "explorer"
MODEL_JSON = ROOT / "paper_lib" / "data" / "model.json"


def model_json(model: str | Path) -> Path:
    """The metadata file (``NAME.json``) of ``model``: a shipped model's name
    (:data:`paper_lib.model.SHIPPED_MODELS`), a ``NAME.keras`` file or the ``NAME.json`` itself."""
    from paper_lib.model import SHIPPED_MODELS, metadata_path

    path = SHIPPED_MODELS.get(str(model), Path(model))
    return path if path.suffix == ".json" else metadata_path(path)


#: The defect kinds of a sample's variants (the default of ``--defects``), in the order written.
DEFECTS = ("displacements", "vacancies")


def choose(meta: dict, held_out: set[int], classes, per_class: int, seed: int,
           defects: tuple[str, ...] = DEFECTS) -> list[int]:
    """Positions (rows of the fingerprint file) of the sample, in the order they are written:
    by class, then sid, then pristine and one variant of each kind in ``defects`` (in the order of
    :data:`DEFECTS`)."""
    defects = tuple(k for k in DEFECTS if k in defects)
    rng = np.random.default_rng(seed)
    sid, label, defect = meta["sid"], meta["label"], meta["defect"]
    chosen = []
    for cls in classes:
        candidates = []
        for s in np.unique(sid[(label == cls) & (defect == "pristine")]):
            if int(s) not in held_out:
                continue
            mine = sid == s
            if all((mine & (defect == kind)).any() for kind in defects):
                candidates.append(int(s))
        if len(candidates) < per_class:
            raise ValueError(f"{cls}: only {len(candidates)} held-out structures with a variant of each kind "
                             f"in {list(defects)}")
        for s in sorted(rng.choice(candidates, size=per_class, replace=False).tolist()):
            mine = sid == s
            chosen.append(int(np.flatnonzero(mine & (defect == "pristine"))[0]))
            for kind in defects:
                options = np.flatnonzero(mine & (defect == kind))
                chosen.append(int(options[rng.integers(len(options))]))
    return chosen


def rule(defects: tuple[str, ...]) -> str:
    """The ``rule`` the ``sample`` attribute records for variants of the kinds ``defects``."""
    defects = tuple(k for k in DEFECTS if k in defects)
    if defects == DEFECTS:
        return ("per class, per_class held-out (validation_sids) pristine structures with both defect kinds, "
                "drawn with numpy default_rng(seed); each with one displacements and one vacancies variant")
    if not defects:
        return "per class, per_class held-out (validation_sids) pristine structures, drawn with numpy default_rng(seed)"
    return (f"per class, per_class held-out (validation_sids) pristine structures with a {defects[0]} variant, "
            f"drawn with numpy default_rng(seed); each with one {defects[0]} variant")


def write_sample(results: Path, model_json: Path, out: Path, per_class: int, seed: int,
                 defects: tuple[str, ...] = DEFECTS) -> dict:
    """Write ``out/structures.db`` and ``out/fingerprints.h5`` (see the module's docstring) from
    ``results`` for the model whose metadata is ``model_json``; returns the ``sample`` record."""
    import h5py

    from paper_lib.io import atomic_path, open_database, read_fingerprints, write_structures
    from paper_lib.model import check_fingerprint_params

    source_h5 = results / "fingerprints.h5"
    source_db = results / "structures.db"
    meta = read_fingerprints(source_h5, with_fingerprints=False)
    model = json.loads(model_json.read_text())
    training = model["training_data"]
    made_from = meta["attrs"].get("source")
    if training.get("source") != made_from:
        raise ValueError(f"{model_json} trained on {training.get('source')!r} (preset {training.get('preset')!r}), "
                         f"but {source_h5} was made from {made_from!r}: its held-out structures are not these")
    digests = (training.get("dataset_digest"), meta["attrs"].get("dataset_digest"))
    if None not in digests and digests[0] != digests[1]:
        raise ValueError(f"{model_json} trained on dataset {digests[0]}, but {source_h5} holds dataset {digests[1]}")
    check_fingerprint_params({k: v for k, v in model["fingerprint"].items() if k != "target_atoms"},
                             json.loads(meta["attrs"]["fingerprint"]), f"{source_h5} for {model_json}")
    positions = choose(meta, set(training["validation_sids"]), model["classes"], per_class, seed, defects)
    order = np.argsort(positions)                      # h5py reads increasing indices
    with h5py.File(source_h5, "r") as h5:
        fps = np.empty((len(positions), 64, 64, 3), np.float32)
        fps[order] = h5["fingerprints"][np.array(positions)[order]]
    db = open_database(source_db)
    rows = []
    for p in positions:
        row = db.get(id=int(meta["row_id"][p]))
        keys = dict(row.key_value_pairs)
        assert (keys["sid"], keys["defect"], keys["level"]) == (meta["sid"][p], meta["defect"][p], meta["level"][p])
        rows.append((row.toatoms(), keys))
    out.mkdir(parents=True, exist_ok=True)
    written = write_structures(out / "structures.db", rows)
    assert written == len(positions)
    sample = {"preset": training["preset"], "seed": seed, "per_class": per_class,
              "source_fingerprints": f"results/{results.name}/fingerprints.h5",
              "source_structures": f"results/{results.name}/structures.db",
              "source_row_id": [int(meta["row_id"][p]) for p in positions],
              "model_training_digest": training["digest"],
              "rule": rule(defects)}
    attrs = {"fingerprint": meta["attrs"]["fingerprint"], "source": "structures.db",
             "paper_lib_version": meta["attrs"].get("paper_lib_version", ""), "sample": json.dumps(sample)}
    with atomic_path(out / "fingerprints.h5") as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("fingerprints", data=fps, chunks=(1, 64, 64, 3), compression="gzip",
                          compression_opts=9, shuffle=True)
        h5.create_dataset("row_id", data=np.arange(1, len(positions) + 1, dtype=np.int64))
        h5.create_dataset("sid", data=meta["sid"][positions].astype(np.int64))
        for key in ("label", "defect"):
            h5.create_dataset(key, data=meta[key][positions].astype(object), dtype=h5py.string_dtype())
        h5.create_dataset("level", data=meta["level"][positions].astype(float))
        h5.create_dataset("failed_row_id", data=np.zeros(0, np.int64))
        h5.create_dataset("failed_error", data=np.zeros(0, object), dtype=h5py.string_dtype())
        for key, value in attrs.items():
            h5.attrs[key] = value
    return sample


def check(out: Path, model_json: Path) -> None:
    """The model (``model_json``'s) on the sample: accuracy on the pristine entries and on all of them."""
    from paper_lib.io import load_fingerprint_set
    from paper_lib.model import load_model, predict_with_uncertainty

    data = load_fingerprint_set([out / "fingerprints.h5"])
    loaded = load_model(model_json.with_suffix(".keras"))
    summary, decided = predict_with_uncertainty(loaded, data["fingerprints"])
    best = np.array(loaded.classes)[summary["probabilities"].argmax(axis=1)]
    labels = np.array([label for label, _ in decided])
    for name, keep in (("pristine", data["defect"] == "pristine"), ("all", np.ones(len(best), bool))):
        print(f"{loaded.path.name}, {name}: best class right {np.sum(best[keep] == data['label'][keep])}/{keep.sum()}, "
              f"decided label right {np.sum(labels[keep] == data['label'][keep])}/{keep.sum()} "
              f"(unknown {np.sum(labels[keep] == 'unknown')})")
    for i in np.flatnonzero(best != data["label"]):
        print(f"  wrong: sid {data['sid'][i]} {data['label'][i]} {data['defect'][i]} {data['level'][i]:g} % "
              f"-> {best[i]} ({summary['probabilities'][i].max():.3f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "robust",
                        help="the preset's results (fingerprints.h5, structures.db; default results/robust); only read")
    parser.add_argument("--model", default=str(MODEL_JSON),
                        help="the model whose held-out structures (validation_sids) and classes the sample takes: "
                             "a shipped model's name, NAME.keras or NAME.json (default paper_lib/data/model.json, "
                             "the robust model)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default paper_lib/data/explorer)")
    parser.add_argument("--per-class", type=int, default=3, help="structures per class (default 3)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the choice (default 2026)")
    parser.add_argument("--defects", nargs="*", choices=DEFECTS, default=list(DEFECTS),
                        help="the defect kinds with one variant per structure (default: displacements vacancies; "
                             "none: pristine only, the smallest sample)")
    parser.add_argument("--no-check", action="store_true", help="skip classifying the sample with the model")
    args = parser.parse_args(argv)
    metadata = model_json(args.model)
    sample = write_sample(args.results, metadata, args.out, args.per_class, args.seed, tuple(args.defects))
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir()) if p.is_file()}
    print(f"{args.out}: {len(sample['source_row_id'])} entries, "
          + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items())
          + f", total {sum(sizes.values()) / 1e6:.2f} MB")
    if not args.no_check:
        check(args.out, metadata)


if __name__ == "__main__":
    main()
