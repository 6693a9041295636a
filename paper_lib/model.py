"""The classifier: the paper's convolutional network, its training, saved models and ``classify``.

The paper's network (six 7 x 7 convolutions, two max-pools, a dense head) on one screen in
:func:`build_model`; training settings in :data:`TRAINING`. A saved model is two files side by
side: ``NAME.keras`` (Keras 3 format, no optimizer state) and ``NAME.json`` (class names in output
order, the fingerprint parameters the model was trained with, a digest of the training data and
which structures it held out, package versions, the seed).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .diffraction import ANGLE_DEG, INTENSITY_SCALES, MASK_INNER_PX, TARGET_ATOMS, Z_SHIFT
from .preprocessing import METHODS

#: Training settings of the paper (Adam, cross-entropy).
TRAINING = {"learning_rate": 1e-3, "batch_size": 32, "epochs": 5, "validation_fraction": 0.1}

#: Fingerprint parameters of the paper (the seed's defaults); a model records the ones it used.
DEFAULT_FINGERPRINT = {"mask_inner_px": MASK_INNER_PX, "mask_outer_px": None, "z_shift": Z_SHIFT,
                       "angle_deg": ANGLE_DEG, "target_atoms": TARGET_ATOMS, "preprocessing": "paper2018"}

#: Version of the model.json layout this code reads and writes.
MODEL_FORMAT = 1

#: The model shipped with the package: the robust preset (``config/robust.yaml``), trained on the
#: crystal_frame pre-processing (``scripts/train_shipped_model.sh``).
SHIPPED_MODEL = Path(__file__).with_name("data") / "model.keras"

#: Models shipped with the package, by the name ``load_model`` and ``classify --model`` accept:
#: ``robust`` (the default; the paper's seven classes), ``paper2018`` (the paper preset's network
#: and pre-processing, kept to compare with) and ``extended`` (30 prototype classes, elements and
#: binaries: ``config/extended.yaml``, ``scripts/train_extended_model.sh``).
SHIPPED_MODELS = {"robust": SHIPPED_MODEL, "paper2018": SHIPPED_MODEL.with_name("paper2018.keras"),
                  "extended": SHIPPED_MODEL.with_name("extended.keras")}


class ModelError(ValueError):
    """A model file that cannot be used, with the file and the reason in the message."""


def _keras():
    """Keras (and TensorFlow), imported without TensorFlow's start-up log lines unless the user set
    ``TF_CPP_MIN_LOG_LEVEL`` (see :mod:`paper_lib.quiet`)."""
    from .quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def limit_tensorflow_threads(threads: int) -> bool:
    """Let each TensorFlow operation use at most ``threads`` threads (its default is every core).
    ``classify`` with fingerprint workers needs this: the workers and the network then share the
    cores instead of fighting over them. Only possible before TensorFlow first runs; returns
    whether it took effect."""
    _keras()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
    except RuntimeError:            # TensorFlow is already running: its pools are fixed
        return False
    return True


def build_model(n_classes: int):
    """The paper's network: input 64 x 64 x 3, six 7 x 7 convolutions, two max-pools, dense head."""
    keras = _keras()
    from keras import layers

    inputs = keras.Input(shape=(64, 64, 3), name="fingerprint")
    x = layers.Conv2D(32, 7, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(32, 7, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 7, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(16, 7, padding="same", activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(8, 7, padding="same", activation="relu", name="conv5")(x)
    x = layers.Conv2D(8, 7, padding="same", activation="relu", name="conv6")(x)
    x = layers.Dropout(0.25, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.BatchNormalization(name="batchnorm")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="ziletti2018")


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): ``fraction`` of each class (rounded, at least one if the class
    has two or more members) goes to validation, chosen by a seeded permutation."""
    rng = np.random.default_rng([seed, 1])
    train, validation = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        k = int(round(fraction * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        else:
            k = 0
        validation.extend(members[:k])
        train.extend(members[k:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(validation, dtype=int))


def data_digest(fingerprints: np.ndarray, labels) -> str:
    """SHA-256 (first 16 hex digits) of training fingerprints and labels."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(fingerprints, dtype=np.float32).tobytes())
    h.update("\n".join(map(str, labels)).encode())
    return h.hexdigest()[:16]


@dataclass
class TrainingResult:
    """A trained model with its metadata (what model.json holds) and the per-epoch history."""

    model: object
    metadata: dict
    history: dict = field(default_factory=dict)


@contextlib.contextmanager
def deterministic_ops():
    """TensorFlow's op determinism switched on for the ``with`` block and back to what it was after
    (TensorFlow exports the switch on, ``tf.config.experimental.enable_op_determinism``; the query
    and the switch off live in its ``tensorflow.python.framework.config``)."""
    _keras()
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()


def train(fingerprints: np.ndarray, labels, classes, *, seed: int = 0, fingerprint_params=None,
          epochs: int = TRAINING["epochs"], batch_size: int = TRAINING["batch_size"],
          learning_rate: float = TRAINING["learning_rate"],
          validation_fraction: float = TRAINING["validation_fraction"], verbose: int = 2,
          source: str = "", sids=None, dataset_digest: str | None = None, augment: dict | None = None,
          split_seed: int | None = None, history_csv: str | Path | None = None) -> TrainingResult:
    """Train the network on (n, 64, 64, 3) fingerprints with string ``labels`` from ``classes``.

    Deterministic for a seed on a given machine: Keras' seeds (set globally, as
    ``keras.utils.set_random_seed`` does), TensorFlow's op determinism (on while training only, see
    :func:`deterministic_ops`) and a seeded stratified split. Returns the model, its metadata and
    the history (loss, accuracy, val_loss, val_accuracy per epoch). ``split_seed`` (default:
    ``seed``) seeds the validation split alone, so that networks trained with several seeds can
    share one held-out set.

    The metadata record which structures the network trained on: given ``sids`` (the pristine
    structure index of each fingerprint), ``training_data.pristine_sids`` (all of them, as runs),
    ``validation_sids`` (those held out) and ``dataset_digest`` (``Preset.dataset_digest`` of their
    dataset, None when unknown): the pairs (digest, sid) that :func:`paper_lib.evaluation.trained_on`
    reads to keep training structures out of every score. ``training.seconds``: the wall time of
    this call.

    ``augment`` (optional): extra training data, a dict with ``fingerprints``, ``labels`` and
    ``sids`` (the pristine structure each is a copy of; ``sids`` gives those of ``fingerprints``)
    and optionally ``source`` and ``fingerprint_params``, which must agree with ``fingerprint_params``
    (:func:`check_fingerprint_params`; :class:`ModelError` otherwise).
    Copies of validation structures are dropped, so validation stays pristine and unseen.

    ``history_csv`` (optional): a CSV file the history is written to as training goes (Keras's
    ``CSVLogger``: columns ``epoch`` from 1, then the metrics in alphabetical order).
    """
    import time

    start = time.perf_counter()
    keras = _keras()

    labels = np.asarray(labels)
    classes = list(classes)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {classes}")
    if len(labels) != len(fingerprints) or len(labels) == 0:
        raise ValueError(f"{len(fingerprints)} fingerprints for {len(labels)} labels")
    keras.utils.set_random_seed(seed)
    y = keras.utils.to_categorical([classes.index(label) for label in labels], len(classes))
    split_seed = seed if split_seed is None else split_seed
    train_idx, val_idx = stratified_split(labels, validation_fraction, split_seed)
    x_train, y_train = fingerprints[train_idx], y[train_idx]
    augmented = None
    if augment is not None:
        if sids is None:
            raise ValueError("augmentation needs the pristine structures' sids to keep validation unseen")
        if augment.get("fingerprint_params") is not None:
            check_fingerprint_params(fingerprint_params or DEFAULT_FINGERPRINT, augment["fingerprint_params"],
                                     f"augmentation ({augment.get('source', '')})")
        extra_labels = np.asarray(augment["labels"])
        unknown = sorted(set(extra_labels) - set(classes))
        if unknown:
            raise ValueError(f"augmentation labels {unknown} are not among the classes {classes}")
        keep = ~np.isin(np.asarray(augment["sids"]), np.asarray(sids)[val_idx])
        x_train = np.concatenate([x_train, np.asarray(augment["fingerprints"])[keep]])
        y_train = np.concatenate([y_train, keras.utils.to_categorical(
            [classes.index(label) for label in extra_labels[keep]], len(classes))])
        augmented = {"n": int(keep.sum()), "n_dropped_validation_copies": int((~keep).sum()),
                     "digest": data_digest(np.asarray(augment["fingerprints"]), extra_labels),
                     "source": augment.get("source", "")}
    model = build_model(len(classes))
    # no XLA: Keras turns it off under op determinism anyway, and XLA-compiled training measured
    # slower on CPU (benchmarks/bench_training.py: 149 against 271 samples/s on 2 cores)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    validation = (fingerprints[val_idx], y[val_idx]) if len(val_idx) else None
    callbacks = [] if history_csv is None else [_history_logger(keras, history_csv)]
    with deterministic_ops():
        fit = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                        validation_data=validation, shuffle=True, verbose=verbose, callbacks=callbacks)
    metadata = {
        "format": MODEL_FORMAT,
        "classes": classes,
        "fingerprint": dict(fingerprint_params or DEFAULT_FINGERPRINT),
        "training_data": {"digest": data_digest(fingerprints, labels), "n_train": int(len(x_train)),
                          "augmented": augmented,
                          "n_validation": int(len(val_idx)), "source": source,
                          "counts": {c: int(np.sum(labels == c)) for c in classes}},
        "training": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "validation_fraction": validation_fraction, "optimizer": "adam",
                     "loss": "categorical_crossentropy", "xla": False},
        "seed": seed,
        "split_seed": split_seed,
        "versions": package_versions(),
    }
    if sids is not None:
        from .evaluation import sid_runs

        sids = np.asarray(sids)
        metadata["training_data"]["validation_sids"] = sorted(int(s) for s in sids[val_idx])
        metadata["training_data"]["dataset_digest"] = dataset_digest
        metadata["training_data"]["pristine_sids"] = sid_runs(sids)
    metadata["training"]["seconds"] = round(time.perf_counter() - start, 1)
    return TrainingResult(model=model, metadata=metadata, history={k: list(map(float, v))
                                                                   for k, v in fit.history.items()})


def _history_logger(keras, path):
    """Keras's CSVLogger writing to ``path``, with epochs counted from 1 (as Keras prints them)."""

    class HistoryLogger(keras.callbacks.CSVLogger):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch + 1, logs)

    return HistoryLogger(str(path))


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("paper_lib", "tensorflow", "tensorflow-cpu", "keras", "numpy", "scipy", "numba", "ase", "spglib",
                 "pymatgen", "h5py", "pandas", "ovito", "snakemake", "papermill"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def metadata_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def history_path(model_path: str | Path) -> Path:
    """The per-epoch history of ``NAME.keras``: ``NAME.history.csv`` beside it."""
    return Path(model_path).with_suffix(".history.csv")


def save_model(result: TrainingResult, path: str | Path) -> Path:
    """Write ``NAME.keras`` (no optimizer state) and ``NAME.json`` atomically; returns the path."""
    # a fresh copy of the network with the trained weights (BatchNorm statistics included):
    # the file then holds no optimizer state (a third of the size)
    bare = build_model(result.model.output_shape[-1])
    bare.set_weights(result.model.get_weights())
    return write_model(bare, result.metadata, path)


def write_model(keras_model, metadata: dict, path: str | Path) -> Path:
    """Write ``NAME.keras`` and ``NAME.json`` atomically (each appears whole or not at all)."""
    from .io import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras")
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")     # Keras insists on the suffix
        try:
            keras_model.save(keras_tmp)
            os.replace(keras_tmp, tmp)
        finally:
            keras_tmp.unlink(missing_ok=True)
    with atomic_path(metadata_path(path)) as tmp:
        tmp.write_text(json.dumps(metadata, indent=2) + "\n")
    return path


def ensemble(members: list[LoadedModel]) -> tuple[object, dict]:
    """One model from networks trained with different seeds on the same data: the Keras ensemble
    (:func:`paper_lib.uncertainty.ensemble_network`) and its metadata, the first member's with
    ``"ensemble"`` (each member's seed, training seconds and data digest). Raises
    :class:`ModelError` when the members differ in classes, fingerprint parameters or data."""
    from .uncertainty import ensemble_network

    if not members:
        raise ModelError("an ensemble needs at least one member")
    first = members[0]
    for m in members[1:]:
        if m.classes != first.classes or m.fingerprint != first.fingerprint:
            raise ModelError(f"{m.path}: its classes or fingerprint parameters differ from {first.path}'s")
        if m.metadata["training_data"]["digest"] != first.metadata["training_data"]["digest"]:
            raise ModelError(f"{m.path}: trained on other data than {first.path}")
    metadata = json.loads(json.dumps(first.metadata))
    metadata.pop("uncertainty", None)
    metadata["ensemble"] = [{"seed": m.metadata.get("seed"), "split_seed": m.metadata.get("split_seed"),
                             "seconds": m.metadata.get("training", {}).get("seconds"), "file": m.path.name}
                            for m in members]
    return ensemble_network([m.model for m in members], first.classes), metadata


#: a class name: names joined by '/' (``hex/rh``), each a safe file name (see paper_lib.paths)
_CLASS_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"

#: JSON Schema of model.json. Keys this version reads are checked for type and range; the
#: fingerprint parameters go to the fingerprint as keywords, so no other key is allowed there;
#: other top-level keys are reported (a warning) and ignored.
MODEL_SCHEMA = {
    "type": "object",
    "required": ["format", "classes", "fingerprint"],
    "properties": {
        "format": {"const": MODEL_FORMAT},
        "classes": {"type": "array", "minItems": 2, "maxItems": 64, "uniqueItems": True,
                    "items": {"type": "string", "maxLength": 100, "pattern": _CLASS_NAME,
                              "not": {"pattern": r"\.\."}}},
        "fingerprint": {
            "type": "object", "additionalProperties": False,
            "required": ["mask_inner_px", "mask_outer_px", "z_shift", "angle_deg"],
            "properties": {
                "mask_inner_px": {"type": ["number", "null"], "minimum": 0},
                "mask_outer_px": {"type": ["number", "null"], "minimum": 0},
                "z_shift": {"type": "integer", "minimum": 0, "maximum": 96},
                "angle_deg": {"type": "number", "minimum": -360, "maximum": 360},
                "target_atoms": {"type": ["integer", "null"], "minimum": 2, "maximum": 20000},
                "preprocessing": {"enum": list(METHODS)},
                "intensity": {"enum": list(INTENSITY_SCALES)},
            },
        },
        "training_data": {
            "type": "object",
            "properties": {
                "validation_sids": {"type": "array", "items": {"type": "integer"}},
                "pristine_sids": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                            "items": {"type": "integer"}}},
                "dataset_digest": {"type": ["string", "null"]},
                "source": {"type": "string"},
            },
        },
        "training": {"type": "object"},
        "seed": {"type": "integer"},
        "split_seed": {"type": "integer"},
        "versions": {"type": "object"},
        "uncertainty": {"type": "object"},
        "ensemble": {},
    },
}


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def validate_metadata(metadata, where) -> None:
    """Check model.json's content against :data:`MODEL_SCHEMA`; raise :class:`ModelError` naming
    ``where`` (the file) and the key. Unknown top-level keys give a warning (stderr) and are ignored."""
    import warnings

    import jsonschema

    validator = jsonschema.Draft202012Validator(MODEL_SCHEMA)
    errors = sorted(validator.iter_errors(metadata), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        error = errors[0]
        key = ".".join(str(k) for k in error.absolute_path)
        if error.validator == "required":
            missing = next(k for k in error.validator_value if k not in error.instance)
            key = f"{key}.{missing}" if key else missing
            text = "is missing"
        elif error.validator == "additionalProperties":
            text = f"has a key this version does not know ({error.message})"
        elif error.validator == "const":
            text = (f"is {error.instance!r}: written by another version of paper_lib (this one reads format "
                    f"{MODEL_FORMAT})")
        else:
            text = error.message
        more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ModelError(f"{where}: key '{key or 'top level'}' {text}{more}; this file is not a model.json "
                         "of paper_lib: train the model again, or fix the file")
    unknown = sorted(set(metadata) - set(MODEL_SCHEMA["properties"]))
    if unknown:
        warnings.warn(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} ignored", UserWarning, stacklevel=3)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict: the Keras model (one network, or an ensemble whose output is
    (members, classes)), its class names, its fingerprint parameters and its
    :class:`~paper_lib.uncertainty.Decision` (how it samples its uncertainty and when it says
    ``unknown``; the JSON's ``"uncertainty"``)."""

    model: object
    classes: tuple[str, ...]
    fingerprint: dict
    metadata: dict
    path: Path
    decision: object = None


def load_model(path: str | Path | None = None, fingerprint_params: dict | None = None) -> LoadedModel:
    """Load ``NAME.keras`` with its ``NAME.json`` (default: the shipped model; ``path`` may also be a
    name of :data:`SHIPPED_MODELS`).

    Raises :class:`ModelError` naming the file when either is missing or unreadable, when the
    JSON does not follow :data:`MODEL_SCHEMA` (the message names the key; e.g. another format
    version), when its class list does not fit the network's output, or when
    ``fingerprint_params`` are given and differ from the model's.
    """
    path = SHIPPED_MODELS.get(str(path), Path(path)) if path is not None else SHIPPED_MODEL
    meta_path = metadata_path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if not meta_path.exists():
        raise ModelError(f"{path}: its metadata file {meta_path.name} is missing (class names and "
                         "fingerprint parameters live there)")
    try:
        metadata = json.loads(meta_path.read_text(), parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
    validate_metadata(metadata, meta_path)
    keras = _keras()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for a corrupt or foreign file
        raise ModelError(f"{path}: not a readable Keras model ({type(exc).__name__}: {exc})") from None
    n_out = model.output_shape[-1]
    if n_out != len(metadata["classes"]):
        raise ModelError(f"{path}: the network has {n_out} outputs but {meta_path.name} names "
                         f"{len(metadata['classes'])} classes")
    # models written before pre-processing had a name were trained on the paper's
    metadata["fingerprint"].setdefault("preprocessing", "paper2018")
    if fingerprint_params is not None:
        check_fingerprint_params(metadata["fingerprint"], fingerprint_params, path)
    from .uncertainty import Decision, is_ensemble

    stored = metadata.get("uncertainty")
    if stored is None:      # not calibrated: uncertainty reported, never `unknown` by it
        stored = {"method": "ensemble" if is_ensemble(model) else "mc_dropout"}
    try:
        decision = Decision.from_dict(stored, meta_path)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    except TypeError as exc:            # a key the dataclass does not take, or a wrong kind of value
        raise ModelError(f"{meta_path}: 'uncertainty': {exc}") from None
    if decision.method == "mc_dropout" and is_ensemble(model):
        raise ModelError(f"{meta_path}: 'uncertainty' asks for MC dropout, but {path.name} is an ensemble")
    return LoadedModel(model=model, classes=tuple(metadata["classes"]),
                       fingerprint=dict(metadata["fingerprint"]), metadata=metadata, path=path,
                       decision=decision)


def check_fingerprint_params(model_params: dict, data_params: dict, where) -> None:
    """Raise :class:`ModelError` if fingerprints were made with other parameters than the model's."""
    # files and models from before pre-processing had a name used the paper's
    model_params = {"preprocessing": "paper2018", "intensity": "linear", **model_params}
    data_params = {"preprocessing": "paper2018", "intensity": "linear", **data_params}
    differ = {k: (model_params.get(k), data_params.get(k)) for k in set(model_params) | set(data_params)
              if k in data_params and k in model_params and model_params.get(k) != data_params.get(k)}
    if differ:
        text = ", ".join(f"{k}: model {m!r} vs data {d!r}" for k, (m, d) in sorted(differ.items()))
        raise ModelError(f"{where}: the fingerprint parameters differ from the model's ({text})")


def predict(loaded: LoadedModel, fingerprints: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (n, n_classes) for (n, 64, 64, 3) fingerprints, without uncertainty:
    one network's plain pass (dropout off), or an ensemble's mean over its members (both with the
    model's calibrated temperature, if it has one).

    Batches of ``batch_size`` through the XLA-compiled network; a short batch is padded to a power
    of two, so that few shapes are ever compiled. :func:`predict_with_uncertainty` samples.
    """
    from .uncertainty import sample_probabilities, summarise

    samples = sample_probabilities(loaded.model, fingerprints, "ensemble", batch_size=batch_size)
    temperature = loaded.decision.temperature if loaded.decision is not None else 1.0
    return summarise(samples, temperature)["probabilities"].astype(np.float32)


def predict_with_uncertainty(loaded: LoadedModel, fingerprints: np.ndarray, sites=None,
                             batch_size: int = 256) -> tuple[dict, list]:
    """The model's samples (ensemble members or MC-dropout passes, as its decision says) of
    (n, 64, 64, 3) fingerprints, summarised (:func:`paper_lib.uncertainty.summarise`: mean
    ``probabilities``, ``best``, the uncertainty measures), and (label, reason) per structure
    (:func:`paper_lib.uncertainty.decide`; ``sites``: sites per primitive cell of each crystal, 0
    where unknown)."""
    from .uncertainty import decide, sample_probabilities, summarise

    d = loaded.decision
    samples = sample_probabilities(loaded.model, fingerprints, d.method, d.samples, batch_size)
    summary = summarise(samples, d.temperature)
    return summary, decide(summary, loaded.classes, d, sites)


# --------------------------------------------------------------------------------------------
# classify: structures in, classes out
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Classification:
    """The class of one structure.

    ``label``: one of the model's classes, or ``"unknown"`` when the model should not be trusted
    (``reason`` says why: no crystal lattice found, a crystal with more sites than the class has,
    or an uncertainty above the calibrated threshold). ``best``: the most probable class, kept
    when the label is ``unknown`` (None when no lattice was found). ``probabilities``: class ->
    mean probability in [0, 1] over the model's samples. ``uncertainty``: in [0, 1], the measure
    the model's decision thresholds (by default the entropy of the mean probabilities over
    log(classes)); None when no lattice was found. ``source`` and ``index`` say where the
    structure came from; ``error`` is set (and ``label`` is None) when it could not be classified.
    """

    label: str | None
    probabilities: dict[str, float]
    source: str = ""
    index: int = 0
    error: str | None = None
    best: str | None = None
    uncertainty: float | None = None
    reason: str | None = None

    @property
    def confidence(self) -> float:
        """Probability of the best class (0 when it failed or no lattice was found)."""
        return max(self.probabilities.values()) if self.probabilities else 0.0

    def as_dict(self) -> dict:
        """The JSON object of ``classify --json``: source, index, label, best, probabilities,
        uncertainty and reason (null unless the label is unknown); or source, index, error."""
        if self.error is not None:
            return {"source": self.source, "index": self.index, "error": self.error}
        return {"source": self.source, "index": self.index, "label": self.label, "best": self.best,
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
                "uncertainty": None if self.uncertainty is None else round(self.uncertainty, 6),
                "reason": self.reason}

    @staticmethod
    def csv_header(classes) -> list[str]:
        """Columns of :meth:`as_row`: source, index, label, best, probability (of the best class),
        uncertainty, one probability per class, reason (why unknown), error."""
        return ["source", "index", "label", "best", "probability", "uncertainty", *classes, "reason", "error"]

    def as_row(self, classes) -> list:
        """One CSV row (see :meth:`csv_header`); numbers to 6 decimals, empty where there is none."""
        if self.error is not None:
            return [self.source, self.index, "", "", "", "", *("" for _ in classes), "", self.error]
        probabilities = [f"{self.probabilities[c]:.6f}" if self.probabilities else "" for c in classes]
        return [self.source, self.index, self.label, self.best or "",
                f"{self.confidence:.6f}" if self.probabilities else "",
                "" if self.uncertainty is None else f"{self.uncertainty:.6f}", *probabilities, self.reason or "", ""]


#: Structures fingerprinted and predicted together by :func:`classify_iter` (default).
CHUNK_SIZE = 64


def classify(structures, model: str | Path | LoadedModel | None = None, *, processes: int = 1,
             sources=None) -> list[Classification] | Classification:
    """Classify one structure or a list of them with a trained model (default: the shipped one).

    A structure is an ``ase.Atoms`` or a pymatgen ``Structure``/``IStructure`` (a crystal) or
    ``Molecule`` (a cluster), converted by :func:`paper_lib.structures.to_atoms`.

    Each structure goes through the pre-processing the model was trained on (the shipped model:
    ``crystal_frame``, its own crystal frame and length scale). Returns one
    :class:`Classification` for one Atoms, a list for a list; a structure that cannot be
    fingerprinted gets a Classification with ``error`` set and the others still run. ``sources``:
    one ``(source, index)`` per structure, for the results and the error messages. For long
    streams see :func:`classify_iter`, which this calls.
    """
    from .structures import is_structure

    single = is_structure(structures)
    items = [structures] if single else list(structures)
    sources = list(sources) if sources is not None else [("", i) for i in range(len(items))]
    triples = [(source, index, atoms) for (source, index), atoms in zip(sources, items)]
    out = list(classify_iter(triples, model, processes=processes))
    return out[0] if single else out


def classify_iter(structures, model: str | Path | LoadedModel | None = None, *, processes: int = 1,
                  chunk_size: int = CHUNK_SIZE, progress: bool | None = False):
    """Classify a stream of structures chunk by chunk; yields :class:`Classification` in input order.

    ``structures``: an iterable of Atoms (or pymatgen structures), or of ``(source, index, atoms_or_error)`` triples (as
    :func:`paper_lib.io.iter_structure_file` gives them, with the file name as source); an error
    (an exception or a message) in place of the Atoms gives a Classification with ``error`` set.
    Every ``chunk_size`` structures are fingerprinted (:func:`paper_lib.diffraction.fingerprints`
    with the model's fingerprint parameters, passed as they are; on ``processes`` worker processes,
    one fork pool for the whole stream), predicted and yielded. With workers, the next chunk is read
    and handed to them before this one is predicted, so they keep busy. At most three chunks are
    held (being read, fingerprinted, predicted): memory does not grow with the length of the
    stream. ``progress``: a bar on stderr (None: only when stderr is a terminal).
    """
    import collections
    import sys

    from tqdm import tqdm

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    with _Fingerprinter(processes, loaded.fingerprint) as fingerprinter, \
            tqdm(desc="classify", unit=" structures", disable=None if progress is None else not progress,
                 mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
        pending = collections.deque()    # (chunk, fingerprint job), oldest first
        for chunk in _chunks(_triples(structures), chunk_size):
            atoms = [item for _, _, item in chunk if _is_atoms(item)]
            names = [f"{s} #{i}" if s else f"structure {i}" for s, i, item in chunk if _is_atoms(item)]
            pending.append((chunk, fingerprinter.submit(atoms, names)))
            while pending and (len(pending) > fingerprinter.ahead or pending[0][1].ready()):
                results = _classified(loaded, *pending.popleft())
                bar.update(len(results))
                yield from results
        while pending:
            results = _classified(loaded, *pending.popleft())
            bar.update(len(results))
            yield from results


def _is_atoms(item) -> bool:
    """An ``ase.Atoms`` or a pymatgen structure (converted where it is fingerprinted)."""
    from .structures import is_structure

    return is_structure(item)


def _triples(structures):
    """``(source, index, atoms_or_error)`` for Atoms (source "", index = position) or triples."""
    for position, item in enumerate(structures):
        if _is_atoms(item):
            yield "", position, item
        else:
            source, index, atoms = item
            yield str(source), int(index), atoms


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _classified(loaded: LoadedModel, chunk, job) -> list[Classification]:
    """The Classifications of one chunk, once its fingerprints are done."""
    from .uncertainty import UNKNOWN

    batch = job.get()
    summary, decisions = predict_with_uncertainty(loaded, batch.fingerprints, batch.sites)
    measure = summary[loaded.decision.measure]
    no_lattice = set(batch.no_lattice)
    found = {}                             # position among the chunk's Atoms -> its Classification
    for position, message in batch.failed:
        found[position] = (Classification(label=UNKNOWN, probabilities={}, reason=f"no crystal lattice found: {message}")
                           if position in no_lattice else Classification(label=None, probabilities={}, error=message))
    for k, position in enumerate(batch.ok.tolist()):
        label, reason = decisions[k]
        found[position] = Classification(
            label=label, probabilities={c: float(v) for c, v in zip(loaded.classes, summary["probabilities"][k])},
            best=loaded.classes[int(summary["best"][k])], uncertainty=float(measure[k]), reason=reason)
    out, position = [], 0
    for source, index, item in chunk:
        if _is_atoms(item):
            result, position = found[position], position + 1
        else:
            result = Classification(label=None, probabilities={}, error=str(item))
        out.append(dataclasses.replace(result, source=source, index=index))
    return out


def _fingerprint_piece(job):
    """Fingerprints of a slice of a chunk (in a worker or here): a
    :class:`~paper_lib.diffraction.BatchResult` with positions counted from the chunk's start."""
    from .diffraction import BatchResult, fingerprints

    start, atoms, names, params = job
    batch = fingerprints(atoms, processes=1, names=names, progress=False, **params)
    return BatchResult(fingerprints=batch.fingerprints, ok=batch.ok + start,
                       failed=[(i + start, message) for i, message in batch.failed],
                       sites=batch.sites, no_lattice=tuple(i + start for i in batch.no_lattice))


class _Done:
    """A fingerprint job already finished (no workers)."""

    def __init__(self, result):
        self.result = result

    def ready(self) -> bool:
        return True

    def get(self):
        return self.result


class _Pieces:
    """A chunk's fingerprint job split over the worker pool; ``get`` joins the pieces in order."""

    def __init__(self, async_result):
        self.async_result = async_result

    def ready(self) -> bool:
        return self.async_result.ready()

    def get(self):
        from .diffraction import BatchResult

        pieces = self.async_result.get()
        return BatchResult(fingerprints=np.concatenate([p.fingerprints for p in pieces]),
                           ok=np.concatenate([p.ok for p in pieces]),
                           failed=[f for p in pieces for f in p.failed],
                           sites=np.concatenate([p.sites for p in pieces]),
                           no_lattice=tuple(i for p in pieces for i in p.no_lattice))


class _Fingerprinter:
    """Fingerprints chunks here (``processes`` 1) or on a fork pool of ``processes`` workers that
    lives as long as the ``with`` block (started on the first chunk of two or more structures).
    ``ahead``: chunks that may wait unfinished while the next ones are read (1 with workers)."""

    def __init__(self, processes: int, params: dict):
        self.processes, self.params, self.pool = max(1, int(processes)), params, None
        self.ahead = 1 if self.processes > 1 else 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        return False

    def submit(self, atoms: list, names: list):
        if self.processes == 1 or len(atoms) < 2:
            return _Done(_fingerprint_piece((0, atoms, names, self.params)))
        if self.pool is None:
            import multiprocessing as mp

            from .diffraction import _kernels
            from .parallel import limit_threads

            _kernels()  # compile (or load) the kernels once, before the workers fork
            self.pool = mp.get_context("fork").Pool(self.processes, initializer=limit_threads)
        size = -(-len(atoms) // (4 * self.processes))   # four pieces per worker: even loads
        pieces = [(start, atoms[start:start + size], names[start:start + size], self.params)
                  for start in range(0, len(atoms), size)]
        return _Pieces(self.pool.map_async(_fingerprint_piece, pieces, chunksize=1))
