"""Command line: ``paper-lib <step> ...`` or ``python -m paper_lib <step> ...`` (one sub-command per
stage of the data flow).

Results go to stdout, messages, warnings and errors to stderr. Without ``--verbose``, TensorFlow's
C++ and absl log lines and Keras's own warnings are kept out (:mod:`paper_lib.quiet`). Long steps
show a progress bar on stderr (structures, fingerprints, train, evaluate, baselines, classify,
augment); off a terminal the bars update every 30 s, for log files (classify: only with
``--progress``), and training prints one line per epoch.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {value}")
    return value


def _structure_format(text: str) -> str:
    from .io import format_problem

    problem = format_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N (e.g. 0/8), got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= K < N")
    return k, n


def _generate_one(args):
    """Rows (atoms, keys) of pristine structure ``sid`` and its defective variants."""
    from .defects import variants_of
    from .structures import pristine_of

    preset, plan, sid = args
    atoms, record = pristine_of(preset, sid)
    keys = {"sid": sid, "defect": "pristine", "level": 0.0, **record}
    rows = [(atoms, keys)]
    for kind, level, defective in variants_of(preset, plan, sid, atoms):
        rows.append((defective, {**keys, "defect": kind, "level": level}))
    return rows


def cmd_structures(args) -> int:
    """Generate the pristine structures of a shard and their defective variants into an ASE db."""
    import multiprocessing as mp

    from tqdm import tqdm

    from . import config
    from .defects import variant_plan
    from .io import write_structures
    from .paths import child

    preset = config.load(args.config)
    k, n = args.shard
    out = (Path(args.out) if args.out
           else child("results", preset.name, what="preset name", source=args.config) / "structures.db")
    plan = variant_plan(preset)
    sids = list(range(k, preset.n_pristine, n))
    start = time.perf_counter()
    jobs = [(preset, plan, sid) for sid in sids]

    def rows():
        with mp.get_context("fork").Pool(args.processes) if args.processes > 1 else _Serial() as pool:
            results = pool.imap(_generate_one, jobs, chunksize=8)
            for batch in tqdm(results, total=len(jobs), desc=f"structures {k}/{n}", unit="pristine",
                              mininterval=2 if sys.stderr.isatty() else 30):
                yield from batch

    written = write_structures(out, rows(), {"dataset_digest": preset.dataset_digest(), "preset": preset.name})
    elapsed = time.perf_counter() - start
    print(f"{out}: {len(sids)} pristine + {written - len(sids)} defective structures "
          f"in {elapsed:.1f} s ({written / max(elapsed, 1e-9):.0f} structures/s, {args.processes} process(es))")
    return 0


def cmd_augment(args) -> int:
    """Displaced training copies of every pristine structure of a database (a new ASE db)."""
    from tqdm import tqdm

    from . import config
    from .defects import augmented_copies
    from .io import open_database, read_structures, write_structures

    preset = config.load(args.config)
    seed = preset.seed if args.seed is None else args.seed
    start = time.perf_counter()
    counts = {"pristine": 0}
    total = open_database(args.db).count(defect="pristine")

    def rows():
        for _, atoms, keys in tqdm(read_structures(args.db, defect="pristine"), total=total, desc="augment",
                                   unit="pristine", mininterval=_mininterval()):
            counts["pristine"] += 1
            for level, copy in augmented_copies(atoms, int(keys["sid"]), seed, args.copies, args.max_displacement,
                                                preset.preprocessing):
                yield copy, {**keys, "defect": "displacements", "level": level}

    written = write_structures(args.out, rows())
    if counts["pristine"] == 0:
        Path(args.out).unlink(missing_ok=True)
        raise ValueError(f"{args.db}: no pristine structure to augment")
    print(f"{args.out}: {written} displaced copies (0-{args.max_displacement:g} %) of {counts['pristine']} "
          f"pristine structures in {time.perf_counter() - start:.1f} s")
    return 0


class _Serial:
    """A stand-in for a process pool that runs in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap(func, items, chunksize=1):
        return map(func, items)


def cmd_merge_structures(args) -> int:
    from .io import merge_structures

    n = merge_structures(args.out, args.shards)
    print(f"{args.out}: {n} structures from {len(args.shards)} shard(s)")
    return 0


def _row_block(db_path, shard):
    """Row-id range [first, stop) of shard K/N of a database (contiguous blocks of rows)."""
    from .io import row_id_range

    k, n = shard
    first, last = row_id_range(db_path)
    if first is None:
        return 1, 1
    size = last - first + 1
    return first + size * k // n, first + size * (k + 1) // n


def fingerprint_options(args, rows=()) -> dict:
    """The fingerprint keywords given on the command line (defaults: the seed's). The
    pre-processing and its cluster size, when not given, are those the database rows record (the
    ``structures`` stage writes them for a preset that is not ``paper2018``)."""
    options = {"mask_inner_px": args.mask_inner_px, "mask_outer_px": args.mask_outer_px,
               "z_shift": args.z_shift, "angle_deg": args.angle_deg}
    recorded = {(keys.get("preprocessing", "paper2018"), keys.get("target_atoms")) for _, _, keys in rows}
    if len(recorded) > 1:
        raise ValueError(f"{args.db}: its rows were made with different pre-processing: {sorted(map(str, recorded))}")
    method, target = recorded.pop() if recorded else ("paper2018", None)
    import numbers

    from .preprocessing import METHODS

    if method not in METHODS:
        raise ValueError(f"{args.db}: its rows record preprocessing {method!r}, which is none of {', '.join(METHODS)}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, numbers.Integral)
                               or not 2 <= target <= 20000):
        raise ValueError(f"{args.db}: its rows record target_atoms {target!r}; it must be a count from 2 to 20000")
    method = args.preprocessing or method
    if method != "paper2018":    # files of the paper's runs keep their parameters
        options.update(preprocessing=method, target_atoms=args.target_atoms or target or 250)
    return options


def cmd_fingerprints(args) -> int:
    """Fingerprints of a shard of a structure database, written to HDF5."""
    import numpy as np

    from . import __version__
    from .diffraction import fingerprints
    from .io import database_metadata, read_structures, write_fingerprints

    dataset_digest = database_metadata(args.db).get("dataset_digest")   # checks the file first
    first, stop = _row_block(args.db, args.shard)
    rows = list(read_structures(args.db, f"id>={first},id<{stop}") if stop > first else [])
    options = fingerprint_options(args, rows)
    start = time.perf_counter()
    names = [f"{args.db} row {row_id}" for row_id, _, _ in rows]
    # database rows are finite clusters already (pbc False): the paper's pre-processing takes them
    # as given; crystal_frame finds each one's frame and cuts its sphere of target_atoms
    kwargs = {"target_atoms": None, **options}
    result = fingerprints([atoms for _, atoms, _ in rows], processes=args.processes, names=names,
                          progress=True, backend=args.backend, **kwargs)
    kept = [rows[i] for i in result.ok]
    meta = {"row_id": [r[0] for r in kept],
            "sid": [r[2].get("sid", -1) for r in kept],
            "label": [r[2].get("label", "") for r in kept],
            "defect": [r[2].get("defect", "") for r in kept],
            "level": np.array([r[2].get("level", 0.0) for r in kept], dtype=float)}
    failed = [(rows[i][0], message) for i, message in result.failed]
    attrs = {"fingerprint": options, "source": str(args.db), "shard": f"{args.shard[0]}/{args.shard[1]}",
             "paper_lib_version": __version__}
    if dataset_digest:      # which pristine structures the rows' sids are (see Preset.dataset_digest)
        attrs["dataset_digest"] = str(dataset_digest)
    write_fingerprints(args.out, result.fingerprints, meta, failed, attrs)
    elapsed = time.perf_counter() - start
    print(f"{args.out}: {len(kept)} fingerprints, {len(failed)} failed, {elapsed:.1f} s "
          f"({len(kept) / max(elapsed, 1e-9):.1f} fingerprints/s on {args.processes} process(es))")
    for row_id, message in failed[:10]:
        print(f"  failed: {message}", file=sys.stderr)
    return 0


def cmd_merge_fingerprints(args) -> int:
    from .io import merge_fingerprints

    n = merge_fingerprints(args.out, args.shards)
    print(f"{args.out}: {n} fingerprints from {len(args.shards)} shard(s)")
    return 0


def cmd_render(args) -> int:
    """PNG images of fingerprints from an HDF5 file: the first ``--per-class`` of each class."""
    from .io import read_fingerprints
    from .paths import child, safe_name, slug
    from .plotting import save_fingerprint_png

    data = read_fingerprints(args.h5)
    safe_name(args.defect, "defect name", "--defect")
    labels = sorted(set(data["label"]))
    for label in labels:          # every name checked before anything is written
        safe_name(slug(label), "class label", f"{args.h5}: dataset 'label'")
    written = 0
    for label in labels:
        chosen = [i for i, (lab, defect) in enumerate(zip(data["label"], data["defect"]))
                  if lab == label and defect == args.defect][: args.per_class]
        for i in chosen:
            name = f"{slug(label)}_{args.defect}_row{int(data['row_id'][i])}.png"
            save_fingerprint_png(data["fingerprints"][i], child(args.out, name, what="file name", source=str(args.h5)),
                                 gamma=args.gamma)
            written += 1
    print(f"{args.out}: {written} PNG file(s)")
    return 0


def cmd_train(args) -> int:
    """Train the network on the pristine fingerprints of a preset; write the model and history."""
    import csv

    from . import config
    from .evaluation import sid_runs
    from .io import atomic_path, load_fingerprint_set
    from .model import DEFAULT_FINGERPRINT, history_path, metadata_path, save_model, train

    preset = config.load(args.config)
    model_json = metadata_path(args.out)
    history = Path(args.history) if args.history else history_path(args.out)
    existing = [p for p in (Path(args.out), model_json, history) if p.exists()]
    if existing and not args.force:
        raise ValueError(f"{existing[0]}: already exists; train writes {args.out}, {model_json.name} and "
                         f"{history.name}: pass --force to replace them, or choose another --out")
    data = load_fingerprint_set(args.fingerprints, defect="pristine")
    if len(data["label"]) == 0:
        raise ValueError("the fingerprint files hold no pristine structure to train on")
    params = {**DEFAULT_FINGERPRINT, "target_atoms": preset.target_atoms, **data["fingerprint_params"]}
    if params["preprocessing"] != preset.preprocessing:
        raise ValueError(f"{', '.join(args.fingerprints)}: made with the {params['preprocessing']} pre-processing, "
                         f"but {args.config} asks for {preset.preprocessing}")
    augment = None
    if args.augment:
        extra = load_fingerprint_set(args.augment)
        if extra["fingerprint_params"] != data["fingerprint_params"]:
            raise ValueError(f"{', '.join(args.augment)}: made with fingerprint parameters "
                             f"{extra['fingerprint_params']}, the pristine set with {data['fingerprint_params']}")
        augment = {"fingerprints": extra["fingerprints"], "labels": extra["label"], "sids": extra["sid"],
                   "source": extra["source"]}
    start = time.perf_counter()
    result = train(data["fingerprints"], data["label"], preset.classes, seed=args.seed if args.seed is not None
                   else preset.seed, fingerprint_params=params, epochs=args.epochs, source=data["source"],
                   sids=data["sid"], augment=augment, split_seed=args.split_seed,
                   verbose=1 if sys.stdout.isatty() else 2)      # Keras's bar on a terminal, a line per epoch in logs
    elapsed = time.perf_counter() - start
    validation_sids = sorted(int(s) for s in data["sid"][_validation_index(data["label"], result)])
    result.metadata["training_data"]["validation_sids"] = validation_sids
    # the identity of the structures trained on: (dataset digest, sid), see evaluation.trained_on
    result.metadata["training_data"]["dataset_digest"] = data["dataset_digest"]
    result.metadata["training_data"]["pristine_sids"] = sid_runs(data["sid"])
    result.metadata["training_data"]["preset"] = preset.name
    result.metadata["training_data"]["preset_digest"] = preset.digest()
    result.metadata["training"]["seconds"] = round(elapsed, 1)
    save_model(result, args.out)
    with atomic_path(history) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        keys = list(result.history)
        writer.writerow(["epoch", *keys])
        for epoch in range(len(result.history[keys[0]])):
            writer.writerow([epoch + 1, *(f"{result.history[k][epoch]:.6f}" for k in keys)])
    last = {k: v[-1] for k, v in result.history.items()}
    print(f"{args.out}: trained on {result.metadata['training_data']['n_train']} fingerprints "
          f"in {elapsed:.0f} s; last epoch " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    return 0


def _validation_index(labels, result):
    from .model import stratified_split

    meta = result.metadata
    return stratified_split(labels, meta["training"]["validation_fraction"], meta.get("split_seed", meta["seed"]))[1]


def _write_summary(summary, out, confusion: bool, recall_name: str) -> None:
    """accuracy table at ``out``, per-class recall and (optionally) confusion matrices beside it.
    Every file name is built (and checked) before anything is written."""
    from .io import atomic_path
    from .paths import child, safe_name

    out_dir = Path(out).parent
    tables = []
    if confusion:
        for (method, defect, level), table in summary.confusion.items():
            name = f"{safe_name(method, 'method name')}_{safe_name(defect, 'defect name')}_{level:g}.csv"
            tables.append((child(out_dir / "confusion", name, what="file name"), table))
    with atomic_path(out) as tmp:
        summary.accuracy.to_csv(tmp, index=False)
    with atomic_path(child(out_dir, recall_name, what="file name")) as tmp:
        summary.recall.to_csv(tmp, index=False)
    for path, table in tables:
        with atomic_path(path) as tmp:
            table.to_csv(tmp)


def _check_names(values, what: str, source) -> None:
    """Every distinct name of ``values`` (that becomes part of a file name) checked, naming ``source``."""
    from .paths import safe_name

    for value in sorted(set(map(str, values))):
        safe_name(value, what, str(source))


def cmd_evaluate(args) -> int:
    """Accuracy per defect kind and level (CSV), per-class recall, confusion matrices and
    (optionally) the per-structure predictions. Reads one fingerprint file at a time."""
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from .evaluation import PREDICTION_COLUMNS, summarise, trained_on
    from .io import atomic_path, load_fingerprint_set, read_fingerprints
    from .model import check_fingerprint_params, load_model, predict

    loaded = load_model(args.model)
    model_params = {k: v for k, v in loaded.fingerprint.items() if k != "target_atoms"}
    _check_names([args.method], "method name", "--method")
    total = 0
    for path in args.fingerprints:     # every file and every name checked before any work
        meta = read_fingerprints(path, with_fingerprints=False)
        _check_names(meta["defect"], "defect name", f"{path}: dataset 'defect'")
        total += len(meta["row_id"])
    training = loaded.metadata.get("training_data", {})
    parts = []
    bar = tqdm(total=total, desc="evaluate", unit="fp", mininterval=_mininterval())
    for path in args.fingerprints:
        data = load_fingerprint_set([path])
        check_fingerprint_params(model_params, data["fingerprint_params"], args.model)
        foreign = sorted(set(data["label"]) - set(loaded.classes))
        if foreign:
            raise ValueError(f"{path}: the data hold classes the model does not know ({', '.join(foreign)}); "
                             f"the model's classes: {', '.join(loaded.classes)}")
        # pristine accuracy only on structures the network did not train on (by their identity)
        trained, known = trained_on(data["defect"], data["sid"], data["dataset_digest"], training)
        if not known:
            tqdm.write(f"warning: {path}: cannot tell which of its structures {args.model} trained on (the model or "
                       "the file records no dataset digest): every pristine structure is scored", file=sys.stderr)
        keep = ~trained
        bar.update(int(trained.sum()))          # pristine structures it trained on: not scored
        chosen = data["fingerprints"][keep]
        probabilities = np.zeros((0, len(loaded.classes)), np.float32)
        for first in range(0, len(chosen), EVALUATE_CHUNK):
            part = predict(loaded, chosen[first:first + EVALUATE_CHUNK])
            probabilities = np.concatenate([probabilities, part])
            bar.update(len(part))
        predicted = np.array(loaded.classes)[np.argmax(probabilities, axis=1)] if keep.any() else []
        parts.append(pd.DataFrame({"method": args.method, "row_id": data["row_id"][keep],
                                   "sid": data["sid"][keep], "label": data["label"][keep],
                                   "defect": data["defect"][keep], "level": data["level"][keep],
                                   "predicted": predicted,
                                   "detail": probabilities.max(axis=1) if keep.any() else []}))
    bar.close()
    predictions = pd.concat(parts, ignore_index=True)[PREDICTION_COLUMNS]
    summary = summarise(predictions, loaded.classes)
    _write_summary(summary, args.out, args.confusion, f"recall_{args.method}.csv")
    if args.predictions:
        with atomic_path(args.predictions) as tmp:
            predictions.to_csv(tmp, index=False)
    print(summary.accuracy.to_string(index=False))
    return 0


#: fingerprints per call of ``predict`` in ``evaluate`` (its progress steps): 32 of predict's batches of 256
EVALUATE_CHUNK = 8192


def _mininterval() -> float:
    """Seconds between progress-bar updates: 2 on a terminal, 30 in a log file."""
    return 2 if sys.stderr.isatty() else 30


def _baseline_rows(job):
    from .baselines import predict_all

    row_id, atoms, keys, classes, methods = job
    found = predict_all(atoms, classes, keys.get("nn_distance"), methods)
    return [{"method": m, "row_id": row_id, "sid": keys["sid"], "label": keys["label"],
             "defect": keys["defect"], "level": keys["level"], "predicted": p, "detail": d}
            for m, p, d in found]


def cmd_baselines(args) -> int:
    """spglib and PTM predictions for the structures of a database (per structure and method, CSV)."""
    import multiprocessing as mp

    import pandas as pd
    from tqdm import tqdm

    from . import config
    from .baselines import METHODS, sample_sids
    from .evaluation import PREDICTION_COLUMNS
    from .io import atomic_path, read_structures

    preset = config.load(args.config)
    if preset.preprocessing != "paper2018":
        raise ValueError(f"{args.config}: the baselines read the paper's periodic supercells; the "
                         f"{preset.preprocessing} pre-processing stores spherical clusters")
    methods = tuple(args.methods or METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown baseline method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if "ptm" in methods:
        try:
            import ovito  # noqa: F401
        except ImportError:
            raise ValueError("the ptm baseline needs OVITO's Python module: pip install 'paper_lib[baselines]'") from None
    chosen = set(sample_sids(preset).tolist())
    jobs = [(row_id, atoms, keys, preset.classes, methods)
            for row_id, atoms, keys in read_structures(args.db) if keys["sid"] in chosen]
    start = time.perf_counter()
    rows = []
    with mp.get_context("fork").Pool(args.processes) if args.processes > 1 else _Serial() as pool:
        for found in tqdm(pool.imap(_baseline_rows, jobs, chunksize=4), total=len(jobs), desc="baselines",
                          unit="structure", mininterval=2 if sys.stderr.isatty() else 30):
            rows.extend(found)
    table = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    elapsed = time.perf_counter() - start
    print(f"{args.out}: {len(jobs)} structures x {len(methods)} methods in {elapsed:.1f} s "
          f"({len(jobs) / max(elapsed, 1e-9):.1f} structures/s, {args.processes} process(es))")
    return 0


def cmd_score(args) -> int:
    """Accuracy table (all methods), per-class recall and confusion matrices from prediction tables."""
    import pandas as pd

    from . import config
    from .evaluation import summarise

    preset = config.load(args.config)
    tables = []
    for path in args.predictions:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such prediction table")
        try:
            table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable prediction table ({str(exc).strip()})") from None
        for column, what in (("method", "method name"), ("defect", "defect name")):
            if column in table:
                _check_names(table[column], what, f"{path}: column '{column}'")
        tables.append(table)
    summary = summarise(pd.concat(tables, ignore_index=True), preset.classes)
    _write_summary(summary, args.out, args.confusion, "recall.csv")
    if args.plot:
        _plot_curves(summary.accuracy, Path(args.out).parent)
    print(summary.accuracy.pivot_table(index=["defect", "level"], columns="method", values="accuracy")
          .to_string(float_format=lambda x: f"{x:.1f}"))
    return 0


def _plot_curves(accuracy, out_dir: Path) -> None:
    """accuracy_vs_vacancies and accuracy_vs_displacements (PNG and PDF) in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import accuracy_curves, save_figure

    for defect, xlabel in (("vacancies", "vacancies η (%)"), ("displacements", "displacements δ (%)")):
        fig = accuracy_curves(accuracy, defect, xlabel)
        save_figure(fig, out_dir, f"accuracy_vs_{defect}")
        plt.close(fig)


def cmd_classify(args) -> int:
    """Classify every frame of every file as it is read: a table or JSON lines on stdout (and
    optionally a CSV file), one row per structure as soon as its chunk is done; bad files and
    frames reported on stderr; exit 1 if any failed."""
    import contextlib
    import json

    from tqdm import tqdm

    from .io import csv_rows, iter_structure_file
    from .model import Classification, classify_iter, limit_tensorflow_threads, load_model

    if args.jobs > 1:     # the fingerprint workers take the cores; the network one thread beside them
        limit_tensorflow_threads(1)
    try:
        loaded = load_model(args.model)
    except ValueError as exc:      # stdout holds results only
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def frames():
        for path in args.paths:
            for index, atoms in iter_structure_file(path, args.format):
                yield str(path), index, atoms

    width = max([len(str(p)) + 5 for p in args.paths] + [9])    # "path#index" up to 4 digits
    n, failed = 0, 0
    with contextlib.ExitStack() as stack:
        write_csv = (stack.enter_context(csv_rows(args.csv, Classification.csv_header(loaded.classes)))
                     if args.csv else None)
        if not args.json:
            _print_now(f"{'structure':{width}s}  {'class':8s} {'prob.':>6s} {'unc.':>6s}  second choice, or why unknown")
        for result in classify_iter(frames(), loaded, processes=args.jobs,
                                    progress=True if args.progress else None):
            n += 1
            _print_now(json.dumps(result.as_dict()) if args.json else _table_row(result, width))
            if write_csv:
                write_csv(result.as_row(loaded.classes))
            if result.error is not None:
                failed += 1
                tqdm.write(f"error: {result.error}", file=sys.stderr)
    if args.csv:
        print(f"{args.csv}: {n} row(s)", file=sys.stderr)
    if failed:
        print(f"{failed} of {n} item(s) failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_classify_local(args) -> int:
    """Per-atom classes of one frame of a large sample (:func:`paper_lib.local.local_labels`), written
    as extended XYZ with the arrays label, probability and uncertainty; the share of atoms per
    class on stdout (a table, or one JSON object)."""
    import json

    from .io import iter_structure_file
    from .local import LocalError, local_labels, write_local
    from .model import limit_tensorflow_threads, load_model

    out = Path(args.out)
    frame = None
    for index, atoms in iter_structure_file(args.path, args.format):
        if isinstance(atoms, Exception):
            print(f"error: {atoms}", file=sys.stderr)
            return 1
        if index == args.frame:
            frame = atoms
            break
    if frame is None:
        print(f"error: {args.path}: has no frame {args.frame}", file=sys.stderr)
        return 1
    name = f"{args.path} frame {args.frame}"
    if args.jobs > 1:
        limit_tensorflow_threads(1)
    try:
        loaded = load_model(args.model)
        result = local_labels(frame, args.window, args.stride, loaded, refine=args.refine, processes=args.jobs,
                              progress=True if args.progress else None,
                              checkpoint=out.with_name(out.name + ".partial.npz"), name=name)
    except (LocalError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_local(frame, result, out)
    fractions = result.fractions()
    if args.json:
        print(json.dumps({"source": str(args.path), "frame": args.frame, "atoms": len(frame),
                          "windows": len(result.centres), "window": round(result.window, 4),
                          "stride": round(result.stride, 4), "fractions": {k: round(v, 6) for k, v in fractions.items()},
                          "out": str(out)}))
    else:
        print(f"{name}: {len(frame)} atoms, {len(result.centres)} windows of radius {result.window:.2f} A "
              f"every {result.stride:.2f} A -> {out}")
        for label, share in fractions.items():
            print(f"  {label:8s} {100 * share:6.2f} %")
    return 0


def cmd_local_maps(args) -> int:
    """One level of the local-map comparison on a synthetic polycrystal: the CNN's map, PTM and
    adaptive CNA per atom, written as extended XYZ."""
    from ase.io import write

    from .evaluation import local_map_comparison
    from .io import atomic_path

    sample = local_map_comparison(args.atoms, args.seed, args.level, args.model, processes=args.processes)
    with atomic_path(args.out) as tmp:
        write(tmp, sample, format="extxyz")
    info = sample.info
    print(f"{args.out}: {len(sample)} atoms, {info['windows']} windows; CNN {info['cnn_s']:.1f} s, PTM "
          f"{info['ptm_s']:.1f} s, a-CNA {info['acna_s']:.1f} s", file=sys.stderr)
    return 0


def _print_now(line: str) -> None:
    """A line on stdout, flushed, without breaking a progress bar on the terminal."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def _table_row(result, width: int) -> str:
    where = f"{result.source}#{result.index}"
    if result.error is not None:
        return f"{where:{width}s}  error: {result.error}"
    if not result.probabilities:      # unknown: no lattice
        return f"{where:{width}s}  {result.label:8s} {'-':>6s} {'-':>6s}  {result.reason}"
    ranked = sorted(result.probabilities.items(), key=lambda kv: -kv[1])
    note = (f"{ranked[1][0]} ({ranked[1][1]:.3f})" if result.reason is None
            else f"best {result.best}; {result.reason}")
    spread = "-" if result.uncertainty is None else f"{result.uncertainty:.3f}"
    return f"{where:{width}s}  {result.label:8s} {ranked[0][1]:6.3f} {spread:>6s}  {note}"


def cmd_real_crystals(args) -> int:
    """The model on ASE's dcdft elemental crystals with the preset's defect levels (predictions CSV)."""
    from . import config
    from .evaluation import real_crystal_predictions, summarise
    from .io import atomic_path
    from .model import load_model

    preset = config.load(args.config)
    loaded = load_model(args.model)
    start = time.perf_counter()
    table = real_crystal_predictions(loaded, preset.displacements, preset.vacancies, copies=args.copies,
                                     seed=preset.seed, processes=args.processes)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    summary = summarise(table, loaded.classes).accuracy
    fair = summarise(table[table["fair"]], loaded.classes).accuracy
    summary["accuracy_trained_types"] = fair["accuracy"].values
    print(summary.to_string(index=False))
    print(f"{args.out}: {table['structure'].nunique()} crystals, {len(table)} structures in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


def cmd_provenance(args) -> int:
    """Commit, preset digest, package versions and time per stage of a run (JSON)."""
    import json

    from . import config
    from .io import atomic_path
    from .provenance import collect

    record = collect(config.load(args.config), args.benchmarks, cores=args.cores)
    with atomic_path(args.out) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1) + "\n")
    for stage in record["stages"]:
        print(f"{stage['stage']:18s} {stage['jobs']:4d} job(s) {stage['wall_s']:9.1f} s")
    return 0


def _add_fingerprint_options(p) -> None:
    from .diffraction import ANGLE_DEG, MASK_INNER_PX, Z_SHIFT

    none_or_float = lambda t: None if t.lower() == "none" else float(t)  # noqa: E731
    p.add_argument("--mask-inner-px", type=none_or_float, default=MASK_INNER_PX,
                   help=f"radius (px) of the central disc zeroed (default {MASK_INNER_PX}; 'none')")
    p.add_argument("--mask-outer-px", type=none_or_float, default=None,
                   help="zero pixels at or beyond this radius (px) (default none; reference code: 30)")
    p.add_argument("--z-shift", type=int, default=Z_SHIFT, help=f"raise Z by this (default {Z_SHIFT})")
    p.add_argument("--angle-deg", type=float, default=ANGLE_DEG,
                   help=f"rotation about x, y, z per channel (default {ANGLE_DEG:g} deg)")
    from .preprocessing import METHODS

    p.add_argument("--preprocessing", choices=METHODS,
                   help="paper2018 (the paper's; database rows taken as given) or crystal_frame "
                        "(each row's own crystal frame and length scale, a sphere of --target-atoms); "
                        "default: what the database rows record, else paper2018")
    p.add_argument("--target-atoms", type=_at_least_two,
                   help="atoms of the average crystal in the cluster (crystal_frame only; default: "
                        "what the rows record, else 250)")


def build_parser() -> argparse.ArgumentParser:
    from .defects import AUGMENTATION
    from .model import TRAINING   # numbers only: TensorFlow is imported when a model is used

    parser = argparse.ArgumentParser(prog=_prog(),
                                     description="Crystal-structure classification from diffraction "
                                                 "fingerprints (Ziletti et al. 2018).")
    parser.add_argument("--version", action="version", version=f"paper-lib {version()}")
    verbose_help = "show TensorFlow's C++ and absl log lines and Keras's warnings (default: kept out)"
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    common = argparse.ArgumentParser(add_help=False)     # --verbose after the command works too
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    subparsers = parser.add_subparsers(dest="command", required=True)

    class _Sub:
        @staticmethod
        def add_parser(name, **kwargs):
            return subparsers.add_parser(name, parents=[common], **kwargs)

    sub = _Sub()

    p = sub.add_parser("structures", help="generate pristine and defective structures (ASE db)")
    p.add_argument("--config", required=True, help="preset file, e.g. config/quick.yaml")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                   help="generate shard K of N (structure index mod N == K); default all")
    p.add_argument("--out", help="database to write (default results/<preset>/structures.db)")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_structures)

    p = sub.add_parser("merge-structures", help="concatenate shard databases into one")
    p.add_argument("shards", nargs="+", help="shard databases, in order")
    p.add_argument("--out", required=True, help="database to write")
    p.set_defaults(func=cmd_merge_structures)

    p = sub.add_parser("fingerprints", help="diffraction fingerprints of a structure database (HDF5)")
    p.add_argument("--db", required=True, help="structure database (ASE db)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                   help="fingerprint block K of N of the database's rows; default all")
    p.add_argument("--out", required=True, help="HDF5 file to write")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--backend", choices=("numba", "tensorflow", "auto"), default="numba",
                   help="numba CPU kernel (default), tensorflow (GPU if present), or auto "
                        "(tensorflow when a GPU is present)")
    _add_fingerprint_options(p)
    p.set_defaults(func=cmd_fingerprints)

    p = sub.add_parser("merge-fingerprints", help="concatenate fingerprint shards into one file")
    p.add_argument("shards", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_merge_fingerprints)

    p = sub.add_parser("render", help="fingerprints as PNG images")
    p.add_argument("h5", help="fingerprint file (HDF5)")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.add_argument("--per-class", type=int, default=1, help="images per class (default 1)")
    p.add_argument("--defect", default="pristine", help="which structures (default pristine)")
    p.add_argument("--gamma", type=float, default=0.5, help="display gamma (default 0.5)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("train", help="train the network on pristine fingerprints")
    p.add_argument("--config", required=True, help="preset (classes, seed)")
    p.add_argument("--fingerprints", nargs="+", required=True, help="fingerprint files (HDF5)")
    p.add_argument("--out", required=True, help="model file to write (.keras; .json beside it)")
    p.add_argument("--history", help="per-epoch history CSV (default: NAME.history.csv beside NAME.keras)")
    p.add_argument("--force", action="store_true",
                   help="replace a model, its .json and its history that already exist (default: refuse)")
    p.add_argument("--seed", type=int, help="training seed (default: the preset's)")
    p.add_argument("--split-seed", type=int,
                   help="seed of the validation split alone (default: the training seed); networks trained with "
                        "several seeds and one split seed share their held-out structures")
    p.add_argument("--epochs", type=int, default=TRAINING["epochs"],
                   help=f"epochs (default {TRAINING['epochs']}, the paper's)")
    p.add_argument("--augment", nargs="+", metavar="FILE.h5",
                   help="fingerprints of displaced training copies (from `augment`) added to the training "
                        "set; copies of validation structures are left out")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("augment", help="displaced training copies of the pristine structures (ASE db)")
    p.add_argument("--config", required=True, help="preset (its seed)")
    p.add_argument("--db", required=True, help="structure database holding the pristine structures")
    p.add_argument("--out", required=True, help="database to write")
    p.add_argument("--copies", type=int, default=AUGMENTATION["copies"],
                   help=f"copies per pristine structure (default {AUGMENTATION['copies']})")
    p.add_argument("--max-displacement", type=float, default=AUGMENTATION["max_displacement"],
                   help="largest displacement level in %% of the nearest-neighbour distance, drawn "
                        f"uniformly from 0 (default {AUGMENTATION['max_displacement']:g})")
    p.add_argument("--seed", type=int, help="seed (default: the preset's)")
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("evaluate", help="accuracy per defect level of a model on fingerprint files")
    p.add_argument("--model", required=True, help="model file (.keras)")
    p.add_argument("--fingerprints", nargs="+", required=True, help="fingerprint files (HDF5)")
    p.add_argument("--out", required=True, help="accuracy CSV to write (method, defect, level, n, accuracy)")
    p.add_argument("--method", default="cnn", help="method name in the table (default cnn)")
    p.add_argument("--confusion", action="store_true", help="also write confusion matrices (CSV)")
    p.add_argument("--predictions", help="also write the per-structure predictions (CSV)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("baselines", help="spglib and PTM predictions for a structure database")
    p.add_argument("--config", required=True, help="preset (classes, baseline sample)")
    p.add_argument("--db", required=True, help="structure database (ASE db)")
    p.add_argument("--out", required=True, help="per-structure prediction CSV to write")
    p.add_argument("--methods", nargs="+", help="subset of the methods (default all: spglib_1e-1 .. "
                                                  "spglib_1e-4, ptm)")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("score", help="accuracy table of every method from per-structure predictions")
    p.add_argument("predictions", nargs="+", help="prediction CSVs (evaluate --predictions, baselines)")
    p.add_argument("--config", required=True, help="preset (classes)")
    p.add_argument("--out", required=True, help="accuracy CSV to write (method, defect, level, n, accuracy)")
    p.add_argument("--confusion", action="store_true", help="also write confusion matrices (CSV)")
    p.add_argument("--plot", action="store_true",
                   help="also draw accuracy against vacancies and displacements (PNG, PDF) beside --out")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("real-crystals", help="the model on ASE's dcdft crystals with the preset's defects")
    p.add_argument("--config", required=True, help="preset (defect levels, seed)")
    p.add_argument("--model", help="model file (.keras), or a shipped model by name: robust (the default) or paper2018")
    p.add_argument("--copies", type=int, default=5, help="random realisations per defect level (default 5)")
    p.add_argument("--out", required=True, help="per-structure prediction CSV to write")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_real_crystals)

    p = sub.add_parser("provenance", help="record commit, versions and per-stage times of a run (JSON)")
    p.add_argument("--config", required=True, help="the preset of the run")
    p.add_argument("--benchmarks", required=True, help="folder of Snakemake benchmark TSVs")
    p.add_argument("--cores", type=int, help="cores the run was given")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser("classify", help="classify structures in files (any format ASE reads, or pymatgen's)")
    p.add_argument("paths", nargs="+", help="structure files; every frame is classified")
    p.add_argument("--model", help="model file (.keras), or a shipped model by name: robust (the default) or paper2018")
    p.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    p.add_argument("--csv", metavar="FILE", help="also write a CSV file (source, index, label, probability, "
                                                 "one probability per class, error); it appears when complete")
    p.add_argument("--format", type=_structure_format,
                   help="ASE format name, when the file name does not tell (e.g. extxyz, cif, vasp), or "
                        "pymatgen to read with pymatgen (its JSON files are recognised without it)")
    p.add_argument("--jobs", "-j", "--processes", dest="jobs", type=int, default=1,
                   help="worker processes for the fingerprints (default 1; --processes is the same)")
    p.add_argument("--progress", action="store_true",
                   help="progress bar on stderr even when it is not a terminal (default: only on a terminal)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("classify-local", help="per-atom classes of a large sample, from windows (extended XYZ out)")
    p.add_argument("path", help="the sample: any file ASE reads (LAMMPS dumps with --format lammps-dump-text)")
    p.add_argument("--window", type=float, help="window radius in Angstrom (default: 3.6 nearest-neighbour distances)")
    p.add_argument("--stride", type=float, help="spacing of the window centres in Angstrom (default: 4 "
                                                "nearest-neighbour distances)")
    p.add_argument("--out", required=True, help="extended XYZ file to write, with per-atom label, probability and "
                                                "uncertainty; it appears when complete")
    p.add_argument("--format", type=_structure_format, help="ASE format name, when the file name does not tell")
    p.add_argument("--frame", type=int, default=0, help="which frame of a trajectory (default 0, the first)")
    p.add_argument("--refine", action="store_true", help="look again at half the stride where neighbouring windows "
                                                         "disagree (sharper boundaries, several times the windows)")
    p.add_argument("--model", help="model file (.keras), or a shipped model by name (default: robust)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes for the fingerprints (default 1)")
    p.add_argument("--json", action="store_true", help="the share of atoms per class as one JSON object")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr even when it is not a terminal")
    p.set_defaults(func=cmd_classify_local)

    p = sub.add_parser("local-maps", help="local maps of a synthetic polycrystal at one defect level (CNN, PTM, a-CNA)")
    p.add_argument("--atoms", type=int, required=True, help="atoms in the polycrystal (a preset's local_maps.atoms)")
    p.add_argument("--seed", type=int, default=0, help="its random seed (local_maps.seed)")
    p.add_argument("--level", required=True, help="pristine, displacements_3, vacancies_20 or "
                                                  "vacancies_20_displacements_3")
    p.add_argument("--model", help="model file or shipped name (default: robust)")
    p.add_argument("--processes", type=int, default=1, help="fingerprint workers")
    p.add_argument("--out", required=True, help="extended XYZ file with the per-atom labels of every method")
    p.set_defaults(func=cmd_local_maps)
    return parser


def version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("paper_lib")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def _prog() -> str:
    return "paper-lib" if Path(sys.argv[0]).name == "paper-lib" else "python -m paper_lib"


#: sub-commands that run TensorFlow (``fingerprints`` too with ``--backend tensorflow`` or ``auto``)
TENSORFLOW_COMMANDS = {"train", "evaluate", "classify", "real-crystals"}


def main(argv=None) -> int:
    from .config import ConfigError
    from .quiet import import_tensorflow

    args = build_parser().parse_args(argv)
    if args.command in TENSORFLOW_COMMANDS or getattr(args, "backend", "numba") != "numba":
        # now, before any command imports it: without --verbose its start-up log lines are kept out
        import_tensorflow(verbose=args.verbose)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
