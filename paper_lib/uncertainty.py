"""Uncertainty, and the decision to answer ``unknown`` instead of a class.

A prediction is the mean of S probability vectors, one per *sample*:

- ``ensemble``: the members of a deep ensemble, the same network trained with different seeds on the
  same data (one ``.keras`` file holds them all; its output is (n, S, classes));
- ``mc_dropout``: S passes of one network with its dropout layer left on (Monte Carlo dropout).
  The convolutional trunk runs once; only the dropout mask and the dense head are re-sampled. The
  S masks are fixed (a seeded draw), the same for every structure, so a structure gets the same
  answer in any batch and on any run.

From the samples (:func:`summarise`): the mean probabilities, the best class, and three measures of
uncertainty, each in [0, 1]: ``entropy`` (the entropy of the mean, divided by log(classes)),
``mutual_information`` (its part that comes from the samples disagreeing, same units) and
``margin`` (1 minus the best mean probability).

The decision (:func:`decide`, with a :class:`Decision` calibrated on held-out data and stored in the
model's JSON under ``"uncertainty"``) answers ``unknown`` when any of these holds, and says which:

1. the pre-processing found no crystal lattice (liquids, amorphous solids, heavily distorted
   structures);
2. the crystal found has a number of sites per primitive cell that no structure of the best class
   has (a 20-site crystal cannot be fcc);
3. the uncertainty exceeds the calibrated threshold.

A model without a calibrated decision (no threshold, no site counts) still reports its uncertainty and
answers its best class; only check 1 applies to it (with the ``crystal_frame`` pre-processing).
"""
from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass, field

import numpy as np

#: Samples of MC dropout (passes of the dense head per structure).
MC_SAMPLES = 30

#: Seed of the fixed MC-dropout masks.
MC_SEED = 2018

#: a batch of n fingerprints is padded to the next power of two up to this size, beyond it to the next
#: multiple of it: few compiled shapes (a stream of 64-structure chunks compiles at most eight), and
#: little padding (a chunk with 42 crystals runs 48 rows, not 64; the forward pass costs per row)
PAD_STEP = 16

#: Uncertainty measures :func:`summarise` computes; a :class:`Decision` thresholds one of them.
MEASURES = ("entropy", "mutual_information", "margin")

#: The label of a structure the model should not be trusted on.
UNKNOWN = "unknown"


# --------------------------------------------------------------------------------------------
# Samples: an ensemble's members or MC-dropout passes
# --------------------------------------------------------------------------------------------

def ensemble_network(members, classes):
    """One Keras model from several trained networks of the same classes: input (64, 64, 3),
    output (S, classes), the members' probabilities stacked in the order given."""
    from .model import _keras

    keras = _keras()
    inputs = keras.Input(shape=(64, 64, 3), name="fingerprint")
    outputs = []
    for k, member in enumerate(members):
        if member.output_shape[-1] != len(classes):
            raise ValueError(f"member {k} has {member.output_shape[-1]} outputs for {len(classes)} classes")
        member.name = f"member_{k}"
        outputs.append(keras.layers.Reshape((1, len(classes)), name=f"member_{k}_out")(member(inputs)))
    stacked = keras.layers.Concatenate(axis=1, name="probabilities")(outputs)
    return keras.Model(inputs, stacked, name="ensemble")


def is_ensemble(keras_model) -> bool:
    """True for a model whose output is (S, classes) per structure."""
    return len(keras_model.output_shape) == 3


def _mc_dropout_forward(keras_model, samples: int, seed: int):
    """(batch, 64, 64, 3) -> (batch, samples, classes) through the trunk once and the dropout and
    dense head ``samples`` times, with the same fixed masks for every structure."""
    import tensorflow as tf

    from .model import _keras

    keras = _keras()
    dropout = keras_model.get_layer("dropout")
    trunk = keras.Model(keras_model.inputs, dropout.input)
    head = [keras_model.get_layer(name) for name in ("flatten", "dense", "batchnorm", "probabilities")]
    rate = float(dropout.rate)
    shape = (samples, 1, *trunk.output_shape[1:])
    masks = tf.constant((np.random.default_rng(seed).random(shape) >= rate) / (1.0 - rate), tf.float32)

    def forward(batch):
        features = trunk(batch, training=False)                       # (B, 16, 16, 8)
        x = tf.reshape(masks * features[None], (-1, *features.shape[1:]))  # (S * B, ...)
        for layer in head:
            x = layer(x, training=False)
        return tf.transpose(tf.reshape(x, (samples, -1, x.shape[-1])), (1, 0, 2))

    return forward


#: the compiled forward passes of each Keras model (held weakly: an entry goes with its model),
#: by (method, samples)
_FORWARD = weakref.WeakKeyDictionary()


def _sampler(keras_model, method: str, samples: int):
    """The XLA-compiled forward pass (batch) -> (batch, S, classes), cached per model and method."""
    import tensorflow as tf

    # the number of samples shapes only MC dropout; an ensemble's pass is the same whatever it is
    key = (method, samples if method == "mc_dropout" else None)
    passes = _FORWARD.setdefault(keras_model, {})
    if key not in passes:
        model = weakref.ref(keras_model)      # the cache must not keep its own key alive
        if method == "ensemble":
            if not is_ensemble(keras_model):
                def plain(batch):
                    return model()(batch, training=False)[:, None, :]
                fn = plain
            else:
                def stacked(batch):
                    return model()(batch, training=False)
                fn = stacked
        elif method == "mc_dropout":
            if is_ensemble(keras_model):
                raise ValueError("MC dropout runs on one network, not on an ensemble")
            fn = _mc_dropout_forward(keras_model, samples, MC_SEED)
        else:
            raise ValueError(f"unknown uncertainty method {method!r}; choose ensemble or mc_dropout")
        passes[key] = tf.function(fn, jit_compile=True)
    return passes[key]


def sample_probabilities(keras_model, fingerprints: np.ndarray, method: str = "ensemble",
                         samples: int = MC_SAMPLES, batch_size: int = 256) -> np.ndarray:
    """Probabilities (n, S, classes) of (n, 64, 64, 3) fingerprints: one row per ensemble member
    (``ensemble``; a single network gives S = 1) or per MC-dropout pass (``mc_dropout``, S =
    ``samples``). A short batch is padded (see :data:`PAD_STEP`), so that few shapes are compiled."""
    fingerprints = np.asarray(fingerprints, np.float32)
    n = len(fingerprints)
    forward = _sampler(keras_model, method, samples)
    if n == 0:
        s = samples if method == "mc_dropout" else (keras_model.output_shape[1] if is_ensemble(keras_model) else 1)
        return np.zeros((0, s, keras_model.output_shape[-1]), np.float32)
    size = min(batch_size, 1 << (n - 1).bit_length() if n <= PAD_STEP else -(-n // PAD_STEP) * PAD_STEP)
    out = []
    for start in range(0, n, size):
        batch = fingerprints[start:start + size]
        if len(batch) < size:
            batch = np.concatenate([batch, np.zeros((size - len(batch), *batch.shape[1:]), np.float32)])
        out.append(np.asarray(forward(batch))[:min(size, n - start)])
    return np.concatenate(out)


# --------------------------------------------------------------------------------------------
# From samples to a prediction with uncertainty
# --------------------------------------------------------------------------------------------

def _entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-30, None)), 0.0), axis=-1)


def summarise(samples: np.ndarray, temperature: float = 1.0) -> dict:
    """Mean probabilities (n, classes) and the uncertainty measures (n,) of (n, S, classes) samples.

    ``temperature`` T rescales each sample's probabilities as p^(1/T), renormalised (temperature
    scaling of the logits; T > 1 softens). Returns ``probabilities``, ``best`` (index of the
    largest mean probability) and one array per name in :data:`MEASURES`, all in [0, 1].
    """
    samples = np.asarray(samples, np.float64)
    if temperature != 1.0:
        logp = np.log(np.clip(samples, 1e-30, None)) / temperature
        logp -= logp.max(axis=-1, keepdims=True)
        samples = np.exp(logp)
        samples /= samples.sum(axis=-1, keepdims=True)
    mean = samples.mean(axis=1)
    scale = math.log(samples.shape[-1])
    total = _entropy(mean) / scale
    expected = _entropy(samples).mean(axis=1) / scale
    return {"probabilities": mean, "best": mean.argmax(axis=1), "entropy": np.clip(total, 0, 1),
            "mutual_information": np.clip(total - expected, 0, 1), "margin": 1.0 - mean.max(axis=1)}


@dataclass(frozen=True)
class Decision:
    """When a prediction is ``unknown``: ``measure`` (one of :data:`MEASURES`) above ``threshold``,
    or a crystal whose sites per primitive cell are not among ``sites[best class]``.

    ``method`` and ``samples``: how the uncertainty is sampled (see :func:`sample_probabilities`);
    ``temperature``: see :func:`summarise`; ``threshold`` None: never ``unknown`` by uncertainty
    (an uncalibrated model); ``sites`` empty: no site check; ``calibration``: what the threshold
    was calibrated on (free-form, for the record).
    """

    method: str = "mc_dropout"
    samples: int = MC_SAMPLES
    measure: str = "entropy"
    threshold: float | None = None
    temperature: float = 1.0
    sites: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)

    def __post_init__(self):
        number = (int, float)
        if isinstance(self.samples, bool) or not isinstance(self.samples, int):
            raise ValueError(f"samples must be an integer, got {self.samples!r}")
        if self.threshold is not None and (isinstance(self.threshold, bool) or not isinstance(self.threshold, number)):
            raise ValueError(f"the threshold must be a number or null, got {self.threshold!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, number):
            raise ValueError(f"the temperature must be a number, got {self.temperature!r}")
        if self.method not in ("ensemble", "mc_dropout"):
            raise ValueError(f"unknown uncertainty method {self.method!r}; choose ensemble or mc_dropout")
        if self.measure not in MEASURES:
            raise ValueError(f"unknown uncertainty measure {self.measure!r}; choose one of {', '.join(MEASURES)}")
        if self.threshold is not None and not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"the uncertainty threshold must lie in [0, 1], got {self.threshold}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"the temperature must be a positive number, got {self.temperature}")
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None, where="model") -> "Decision":
        """The decision stored in a model's JSON (``None``: an uncalibrated MC-dropout default)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError(f"{where}: 'uncertainty' must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown} in 'uncertainty'")
        sites = data.get("sites", {})
        if not isinstance(sites, dict) or not all(
                isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
                for v in sites.values()):
            raise ValueError(f"{where}: 'uncertainty.sites' must map each class to a list of site counts")
        try:
            return cls(**data)
        except ValueError as exc:
            raise ValueError(f"{where}: 'uncertainty': {exc}") from None


def decide(summary: dict, classes, decision: Decision, sites=None) -> list[tuple[str, str | None]]:
    """(label, reason) for each prediction of :func:`summarise`: the best class and ``None``, or
    :data:`UNKNOWN` and why. ``sites`` (n,): sites per primitive cell of each structure's crystal
    (0: not known, no check)."""
    n = len(summary["best"])
    sites = np.zeros(n, int) if sites is None else np.asarray(sites, int)
    if len(sites) != n:
        raise ValueError(f"{len(sites)} site counts for {n} predictions")
    measure = summary[decision.measure]
    out = []
    for i in range(n):
        best = classes[int(summary["best"][i])]
        allowed = decision.sites.get(best)
        if sites[i] > 0 and allowed and int(sites[i]) not in allowed:
            counts = ", ".join(map(str, allowed[:-1])) + (" or " if len(allowed) > 1 else "") + str(allowed[-1])
            out.append((UNKNOWN, f"its crystal has {int(sites[i])} site{'s' if sites[i] != 1 else ''} per "
                                 f"primitive cell; {best} has {counts}"))
        elif decision.threshold is not None and measure[i] > decision.threshold:
            out.append((UNKNOWN, f"uncertainty {decision.measure} {measure[i]:.4f} is above the calibrated "
                                 f"{decision.threshold:.4f}"))
        else:
            out.append((best, None))
    return out


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------

def reliability(confidence, correct, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error and the reliability table of equal-width confidence bins.

    ``confidence`` (n,) in [0, 1], ``correct`` (n,) booleans. ECE = sum over bins of
    (share of predictions in the bin) * |accuracy - mean confidence|. Each table row: ``low``,
    ``high``, ``n``, ``confidence`` (mean), ``accuracy`` (NaN when the bin is empty).
    """
    confidence = np.asarray(confidence, float)
    correct = np.asarray(correct, bool)
    if len(confidence) == 0:
        raise ValueError("no predictions to calibrate on")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        members = index == b
        k = int(members.sum())
        conf = float(confidence[members].mean()) if k else float("nan")
        acc = float(correct[members].mean()) if k else float("nan")
        if k:
            ece += k / len(confidence) * abs(acc - conf)
        table.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": k, "confidence": conf,
                      "accuracy": acc})
    return float(ece), table


def fit_temperature(samples: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (see :func:`summarise`) that minimises the negative log-likelihood of the
    mean probabilities on held-out ``samples`` (n, S, classes) with true class indices ``labels``;
    a bounded 1-d search over T in [0.25, 10]."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, int)

    def nll(log_t):
        p = summarise(samples, math.exp(log_t))["probabilities"][np.arange(len(labels)), labels]
        return -np.mean(np.log(np.clip(p, 1e-12, None)))

    return float(math.exp(minimize_scalar(nll, bounds=(math.log(0.25), math.log(10.0)), method="bounded").x))


def threshold_for(in_class_uncertainty, flagged_share: float) -> float:
    """The smallest threshold that flags at most ``flagged_share`` of the in-class held-out
    structures (uncertainty strictly above it is flagged)."""
    values = np.sort(np.asarray(in_class_uncertainty, float))
    if not 0.0 <= flagged_share <= 1.0:
        raise ValueError(f"the share flagged must lie in [0, 1], got {flagged_share}")
    if len(values) == 0:
        raise ValueError("no in-class structures to calibrate the threshold on")
    allowed = int(math.floor(flagged_share * len(values)))
    return float(values[len(values) - 1 - allowed]) if allowed < len(values) else 0.0
