"""Attentive response maps: which fingerprint pixels the network responds to, and whether they matter.

Maps projected back to the (64, 64, 3) input through the network's own weights:

<<<<<<< HEAD
- :func:`response_maps` -- the reference method (the paper's attentive response maps; Zeiler & Fergus'
  deconvolution as in the paper's code). For one convolutional layer, the feature maps are ranked by
  their summed activation and the ``top_k`` strongest are kept; in each, only the single strongest
  activation is kept, and it is projected back to the input: through every convolution by its
  transposed (flipped) kernels, through every ReLU by the forward pass's switches (signal passes
  only where the forward activation was positive), and through every max-pool by 2 x 2 upsampling.
  The positive part is shown, per filter and summed over the layer.
=======
- :func:`response_maps` -- the reference method (Zeiler & Fergus' deconvolution as in the paper's
  code). For one convolutional layer, the feature maps are ranked by their summed activation and
  the ``top_k`` strongest are kept; in each, only the single strongest activation is kept, and it
  is projected back to the input: through every convolution by its transposed (flipped) kernels,
  through every ReLU by the forward pass's switches (signal passes only where the forward
  activation was positive), and through every max-pool by 2 x 2 upsampling. The positive part is
  shown, per filter and summed over the layer.
>>>>>>> response-maps
- :func:`class_response_maps` -- a class-conditioned variant in the spirit of CLEAR (Kumar et al.
  2017): the same projection started from the score (pre-softmax) of a chosen class instead of a
  feature map, through the dense head (transposed weights, the batch normalisation's inference-time
  scale, the ReLU switches) and then the convolutional part as above, with the projected signal
  also rectified at every ReLU (Zeiler & Fergus' deconvnet rule). Its positive part is the
  evidence *for* that class; the class with the largest response at each pixel gives CLEAR's
  dominant-class map (:func:`dominant_class`).
- :func:`saliency_maps` -- class-specific maps from the exact gradient of a class score with
  respect to the input (:func:`input_gradients`): its magnitude, or the gradient times the input,
  whose positive part is, to first order, what the class's score loses when the pixel is set to 0.

Do the maps mean anything?

- :func:`peak_concentration` asks whether the maps look where a crystallographer looks: the share
  of the positive response lying within a few pixels of the fingerprint's diffraction peaks.
- :func:`deletion_curve` asks whether they point at what the network uses: delete the pixels a map
  ranks highest and measure how much the true class's probability and the accuracy fall, to be
  compared with random pixels, the brightest pixels and the same method on an untrained network
  (:func:`untrained_like`).
- :func:`filter_usage` and :func:`map_similarity_table` ask what the per-layer maps owe to the
  fingerprint: which filters carry a layer's activation, and how alike the maps of different
  classes, and the map of an empty fingerprint, are.

The projection is written for the layer types of the paper's network (Conv2D with ReLU, MaxPooling2D,
Dropout, Flatten, Dense, BatchNormalization) and refuses others.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: defaults of the reference code: the top-k feature maps of a layer
TOP_K = 4

#: peaks: local maxima (3 x 3) of a channel at or above this fraction of the channel's maximum
PEAK_THRESHOLD = 0.1

#: radius (px) around each peak counted as "on the peak"
PEAK_RADIUS_PX = 2.0


@dataclass(frozen=True)
class ResponseMaps:
    """Maps of one fingerprint for one layer: ``maps`` (top_k, 64, 64, 3) float32, the positive
    part of each projected feature map; ``filters`` their indices in the layer and ``strength``
    their summed activation; ``total`` (64, 64, 3) the sum of the maps."""

    layer: str
    filters: np.ndarray
    strength: np.ndarray
    maps: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.maps.sum(axis=0)


def _keras_model(model):
    """The network the maps are drawn for: a LoadedModel's or a bare Keras model; of an ensemble
    (several seeds' networks in one model), its first member."""
    from .uncertainty import is_ensemble

    keras_model = getattr(model, "model", model)
    return keras_model.get_layer("member_0") if is_ensemble(keras_model) else keras_model


def untrained_like(model, seed: int = 0):
    """The same architecture with fresh random weights (Keras' default initialisers, each given its
    own seed drawn from ``seed``: the global random generators are neither read nor reseeded): the
    reference that shows what a map owes to the input and the architecture rather than to training."""
    import keras

    layers = iter(range(1 << 30))

    def seeded(layer):
        """A new layer like ``layer`` whose random initialisers (and dropout) have integer seeds."""
        config, k = layer.get_config(), next(layers)
        seeds = (int(s) for s in np.random.SeedSequence([seed, k]).generate_state(len(config)))
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                config[key] = {**value, "config": {**value["config"], "seed": next(seeds)}}
        if "seed" in config:                 # Dropout
            config["seed"] = next(seeds)
        return layer.__class__.from_config(config)

    return keras.models.clone_model(_keras_model(model), clone_function=seeded)


def conv_layers(model) -> list[str]:
    """Names of the convolutional layers, input to output."""
    return [layer.name for layer in _keras_model(model).layers if type(layer).__name__ == "Conv2D"]


def _check_supported(keras_model):
    known = {"InputLayer", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "BatchNormalization"}
    for layer in keras_model.layers:
        kind = type(layer).__name__
        if kind not in known:
            raise ValueError(f"response maps: layer {layer.name} ({kind}) is not supported; "
                             f"supported: {', '.join(sorted(known))}")
        if kind in ("Conv2D", "Dense") and layer.activation.__name__ not in ("relu", "softmax", "linear"):
            raise ValueError(f"response maps: layer {layer.name} has activation {layer.activation.__name__}; "
                             f"only relu is supported in the hidden layers")


def _forward(keras_model, fingerprint: np.ndarray) -> dict:
    """Every layer's output for one fingerprint (inference mode), by layer name."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(fingerprint, np.float32)[None])
    out = {}
    for layer in keras_model.layers:
        if type(layer).__name__ == "InputLayer":
            out[layer.name] = x                                                # the fingerprint itself
            continue
        x = layer(x, training=False)
        out[layer.name] = x
    return out


def _project(keras_model, signal, start: str, outputs: dict, rectify: bool = False,
             pool_switches: bool = False):
    """Project ``signal`` (batch, shape of layer ``start``'s output) back to the input.

    ``signal`` lives at the output of ``start`` *after* its activation; the ReLU switches are the
    forward outputs' positive entries. A max-pool is undone by 2 x 2 upsampling, or with
    ``pool_switches`` by sending the signal only to the input(s) that were the window's maximum.
    """
    import tensorflow as tf

    inputs = [layer.name for layer in keras_model.layers if type(layer).__name__ == "InputLayer"]
    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    index = [layer.name for layer in layers].index(start)
    for position in range(index, -1, -1):
        layer = layers[position]
        kind = type(layer).__name__
        below = outputs[layers[position - 1].name] if position > 0 else outputs.get(inputs[0] if inputs else None)
        if kind in ("Conv2D", "Dense") and layer.activation.__name__ == "relu":
            signal = signal * tf.cast(outputs[layer.name] > 0, signal.dtype)   # ReLU switch
            if rectify:                                                        # deconvnet's own ReLU
                signal = tf.nn.relu(signal)
        if kind == "Conv2D":
            kernel = layer.kernel                                              # (kh, kw, in, out)
            shape = tf.concat([tf.shape(signal)[:3], [kernel.shape[2]]], axis=0)
            signal = tf.nn.conv2d_transpose(signal, kernel, output_shape=shape, strides=1, padding="SAME")
        elif kind == "MaxPooling2D":
            signal = tf.repeat(tf.repeat(signal, layer.pool_size[0], axis=1), layer.pool_size[1], axis=2)
            if pool_switches:
                pooled = outputs[layer.name]
                up = tf.repeat(tf.repeat(pooled, layer.pool_size[0], axis=1), layer.pool_size[1], axis=2)
                signal = signal * tf.cast(tf.equal(below[:, :up.shape[1], :up.shape[2]], up), signal.dtype)
        elif kind == "Dense":
            signal = tf.matmul(signal, layer.kernel, transpose_b=True)
        elif kind == "BatchNormalization":
            scale = layer.gamma / tf.sqrt(layer.moving_variance + layer.epsilon)
            signal = signal * scale
        elif kind == "Flatten":
            signal = tf.reshape(signal, (-1, *below.shape[1:]))
        # Dropout: the identity at inference
    return signal.numpy()


def response_maps(model, fingerprint: np.ndarray, layer: str | None = None, top_k: int = TOP_K,
                  rectify: bool = False, pool_switches: bool = False) -> ResponseMaps:
    """The deconvolution maps of ``fingerprint`` (64, 64, 3) for conv ``layer`` (default: the
    last), one per each of the ``top_k`` most active feature maps (see the module docstring).

    ``model`` is a LoadedModel (``paper_lib.model.load_model``) or a Keras model. ``rectify`` also
    passes the projected signal through a ReLU at every layer (Zeiler & Fergus' own rule; with the
    switches this is guided backpropagation); the reference code uses the switches alone.
    ``pool_switches`` undoes each max-pool by sending the signal only to the window's maximum
    (Zeiler & Fergus' pooling switches) instead of 2 x 2 upsampling.
    """
    keras_model = _keras_model(model)
    _check_supported(keras_model)
    names = conv_layers(keras_model)
    layer = names[-1] if layer is None else layer
    if layer not in names:
        raise ValueError(f"response maps: {layer!r} is not a convolutional layer; choose from {', '.join(names)}")
    fingerprint = np.asarray(fingerprint, np.float32)
    if fingerprint.shape != tuple(keras_model.input_shape[1:]):
        raise ValueError(f"response maps: a fingerprint of shape {tuple(keras_model.input_shape[1:])} is needed, "
                         f"got {fingerprint.shape}")
    outputs = _forward(keras_model, fingerprint)
    activation = outputs[layer].numpy()[0]                                     # (h, w, filters)
    strength = activation.sum(axis=(0, 1))
    top_k = int(min(max(top_k, 1), activation.shape[-1]))
    filters = np.argsort(-strength, kind="stable")[:top_k]
    signal = np.zeros((top_k, *activation.shape), np.float32)
    for i, f in enumerate(filters):
        y, x = np.unravel_index(np.argmax(activation[..., f]), activation.shape[:2])
        signal[i, y, x, f] = activation[y, x, f]                               # its strongest activation
    projected = _project(keras_model, signal, layer, outputs, rectify=rectify, pool_switches=pool_switches)
    return ResponseMaps(layer=layer, filters=filters, strength=strength[filters],
                        maps=np.maximum(projected, 0).astype(np.float32))


def all_layers(model, fingerprint: np.ndarray, top_k: int = TOP_K, rectify: bool = False) -> list[ResponseMaps]:
    """:func:`response_maps` of every convolutional layer, input to output."""
    return [response_maps(model, fingerprint, name, top_k, rectify) for name in conv_layers(model)]


def class_response_maps(model, fingerprint: np.ndarray, classes=None, rectify: bool = True) -> np.ndarray:
    """Class-conditioned maps (n_classes, 64, 64, 3): the positive part of each class score's
    projection back to the input (see the module docstring). ``classes``: indices (default all).

    ``rectify`` (default True) applies Zeiler & Fergus' ReLU to the projected signal at every layer
    besides the forward switches (guided backpropagation): without it the projection of a class score
    is the plain gradient, dominated by sign-alternating noise. Such maps are known to reflect the
    input as well as the network (Adebayo et al. 2018): compare with an untrained network's
    (:func:`peak_concentration_table` does).
    """
    keras_model = _keras_model(model)
    _check_supported(keras_model)
    fingerprint = np.asarray(fingerprint, np.float32)
    outputs = _forward(keras_model, fingerprint)
    last = keras_model.layers[-1]
    if type(last).__name__ != "Dense":
        raise ValueError(f"class maps: the network must end in a Dense layer, not {type(last).__name__}")
    n_classes = last.units
    chosen = np.arange(n_classes) if classes is None else np.atleast_1d(classes)
    if chosen.min() < 0 or chosen.max() >= n_classes:
        raise ValueError(f"class maps: class indices must be in 0..{n_classes - 1}")
    signal = np.eye(n_classes, dtype=np.float32)[chosen]        # a unit score of each class
    # the score is before the softmax: step past the last layer's activation, through its weights
    import tensorflow as tf
    below = keras_model.layers[-2].name
    signal = tf.matmul(signal, last.kernel, transpose_b=True)
    projected = _project(keras_model, signal, below, outputs, rectify=rectify)
    return np.maximum(projected, 0).astype(np.float32)


def dominant_class(class_maps: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """CLEAR's dominant-class map (64, 64): per pixel (summed over channels), the index of the class
    with the largest response, -1 where every class's response is below ``floor`` of the maximum."""
    per_pixel = class_maps.sum(axis=-1)                              # (classes, 64, 64)
    best = np.argmax(per_pixel, axis=0)
    strongest = per_pixel.max(axis=0)
    best[strongest < floor * max(float(strongest.max()), 1e-30)] = -1
    return best


# --------------------------------------------------------------------------------------------
# Do the maps sit on the diffraction peaks?
# --------------------------------------------------------------------------------------------

def peak_mask(fingerprint: np.ndarray, threshold: float = PEAK_THRESHOLD,
              radius_px: float = PEAK_RADIUS_PX) -> np.ndarray:
    """(64, 64, 3) bool: pixels within ``radius_px`` of a diffraction peak of their channel. A peak
    is a local maximum (3 x 3 neighbourhood) at or above ``threshold`` times the channel maximum."""
    from scipy.ndimage import binary_dilation, maximum_filter

    fingerprint = np.asarray(fingerprint, np.float32)
    out = np.zeros(fingerprint.shape, bool)
    r = int(np.ceil(radius_px))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = yy ** 2 + xx ** 2 <= radius_px ** 2
    for c in range(fingerprint.shape[-1]):
        channel = fingerprint[..., c]
        top = float(channel.max())
        if top <= 0:
            continue
        peaks = (channel == maximum_filter(channel, size=3)) & (channel >= threshold * top)
        out[..., c] = binary_dilation(peaks, structure=disc)
    return out


def peak_concentration(response: np.ndarray, fingerprint: np.ndarray, **mask_options) -> float:
    """Share (0..1) of the positive ``response`` (64, 64, 3) on the fingerprint's peaks
    (:func:`peak_mask`); NaN for a map with no positive response."""
    positive = np.maximum(np.asarray(response, np.float64), 0)
    total = positive.sum()
    if total <= 0:
        return float("nan")
    return float(positive[peak_mask(fingerprint, **mask_options)].sum() / total)


def peak_concentration_table(model, untrained, fingerprints, labels, top_k: int = TOP_K, seed: int = 0,
                             **mask_options):
    """How much more the trained network's maps sit on the diffraction peaks than an untrained
    network's (same architecture, random weights) and than random maps (uniform noise).

    For every fingerprint and map kind (each conv layer's summed map, and the class map of the true
    class), the share of positive response on the peaks (:func:`peak_concentration`). Returns a
    DataFrame with one row per (class, map): ``n``, mean ``trained``, ``untrained`` and ``random``
    shares, and the ratios ``vs_untrained`` and ``vs_random`` of the means.
    """
    import pandas as pd

    classes = list(getattr(model, "classes", []))
    rng = np.random.default_rng(seed)
    rows = []
    for fingerprint, label in zip(fingerprints, labels):
        mask = peak_mask(fingerprint, **mask_options)
        share = lambda m: peak_concentration(m, fingerprint, **mask_options)  # noqa: E731
        noise = share(rng.random(np.shape(fingerprint)))
        for trained, blank in zip(all_layers(model, fingerprint, top_k), all_layers(untrained, fingerprint, top_k)):
            rows.append({"class": label, "map": trained.layer, "trained": share(trained.total),
                         "untrained": share(blank.total), "random": noise, "peak_area": mask.mean()})
        if label in classes:
            c = classes.index(label)
            rows.append({"class": label, "map": "class", "random": noise, "peak_area": mask.mean(),
                         "trained": share(class_response_maps(model, fingerprint, [c])[0]),
                         "untrained": share(class_response_maps(untrained, fingerprint, [c])[0])})
    table = pd.DataFrame(rows).groupby(["class", "map"], sort=False)
    out = table[["trained", "untrained", "random", "peak_area"]].mean()
    out.insert(0, "n", table.size())
    out["vs_untrained"] = out["trained"] / out["untrained"]
    out["vs_random"] = out["trained"] / out["random"]
    return out.reset_index()


# --------------------------------------------------------------------------------------------
# Class-specific maps from the input gradient, and a faithfulness (deletion) test
# --------------------------------------------------------------------------------------------

#: batch size of the gradient and deletion passes (fingerprints per batch)
BATCH_SIZE = 128


def _scores(keras_model, x, score: str):
    """Class scores (batch, n_classes) of a batch ``x``: ``logit`` (before the softmax) or
    ``log_probability`` (the log of the softmax: the class against all the others)."""
    import tensorflow as tf

    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    last = layers[-1]
    if type(last).__name__ != "Dense":
        raise ValueError(f"class maps: the network must end in a Dense layer, not {type(last).__name__}")
    for layer in layers[:-1]:
        x = layer(x, training=False)
    logits = tf.matmul(x, last.kernel) + (last.bias if last.use_bias else 0.0)
    if score == "logit":
        return logits
    if score == "log_probability":
        return tf.nn.log_softmax(logits, axis=-1)
    raise ValueError(f"class maps: score must be 'logit' or 'log_probability', not {score!r}")


def input_gradients(model, fingerprints: np.ndarray, classes, score: str = "logit",
                    batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The gradient of one class score with respect to each input pixel, (n, 64, 64, 3) float32.

    ``fingerprints`` (n, 64, 64, 3) or one (64, 64, 3); ``classes`` a class index per fingerprint
    (or one for all). ``score``: ``logit`` (the class's score before the softmax, which is what the
    dense head adds up) or ``log_probability`` (the log of its softmax probability, i.e. the score
    minus the log-sum-exp of all scores: how the class gains on the others). Units: score per unit
    of fingerprint intensity (the fingerprint is dimensionless, in [0, 1]). Inference mode: dropout
    off, the batch normalisation's moving statistics.
    """
    import tensorflow as tf

    keras_model = _keras_model(model)
    fingerprints = np.asarray(fingerprints, np.float32)
    single = fingerprints.ndim == 3
    fingerprints = fingerprints[None] if single else fingerprints
    n_classes = keras_model.output_shape[-1]
    classes = np.broadcast_to(np.asarray(classes, int), (len(fingerprints),))
    if len(classes) and (classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(f"class maps: class indices must be in 0..{n_classes - 1}")
    out = np.zeros_like(fingerprints)
    for start in range(0, len(fingerprints), batch_size):
        x = tf.convert_to_tensor(fingerprints[start:start + batch_size])
        pick = tf.one_hot(classes[start:start + batch_size], n_classes)
        with tf.GradientTape() as tape:
            tape.watch(x)
            chosen = tf.reduce_sum(_scores(keras_model, x, score) * pick, axis=-1)
        out[start:start + batch_size] = tape.gradient(chosen, x).numpy()
    return out[0] if single else out


def saliency_maps(model, fingerprints: np.ndarray, classes, kind: str = "gradient_x_input",
                  score: str = "logit", batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Class-specific maps (n, 64, 64, 3) float32 from :func:`input_gradients`:

    - ``gradient``: the magnitude of the gradient (Simonyan et al. 2014's saliency): how much the
      class score would move per unit change of the pixel, whichever way.
    - ``gradient_x_input``: the gradient times the pixel's intensity, signed. Setting a pixel to 0
      changes the score by about minus this (first order), so its positive part is the evidence the
      pixel gives *for* the class and its negative part the evidence against; the same units as the
      score.
    """
    gradient = input_gradients(model, fingerprints, classes, score, batch_size)
    if kind == "gradient":
        return np.abs(gradient)
    if kind == "gradient_x_input":
        return gradient * np.asarray(fingerprints, np.float32)
    raise ValueError(f"class maps: kind must be 'gradient' or 'gradient_x_input', not {kind!r}")


def deletion_order(maps: np.ndarray) -> np.ndarray:
    """(n, 12288) int: each map's pixels from the highest value to the lowest. A pixel is one
    channel's pixel (a fingerprint has 64 x 64 x 3 = 12,288). Ties (equal map values) are broken by
    position (row-major, the channel fastest), the same way for every map."""
    maps = np.asarray(maps)
    return np.argsort(-maps.reshape(len(maps), -1), axis=1, kind="stable")


def delete_top(fingerprints: np.ndarray, maps: np.ndarray, k: int, background: float = 0.0,
               order: np.ndarray | None = None) -> np.ndarray:
    """Copies of ``fingerprints`` (n, 64, 64, 3) with the ``k`` pixels their ``maps`` (same shape)
    rank highest set to ``background`` (intensity, dimensionless; 0 is the fingerprint's dark
    detector). ``order``: :func:`deletion_order` of ``maps``, if already computed."""
    fingerprints = np.asarray(fingerprints, np.float32)
    if np.shape(maps) != fingerprints.shape:
        raise ValueError(f"deletion: maps of shape {np.shape(maps)} for fingerprints of shape {fingerprints.shape}")
    n = len(fingerprints)
    flat = fingerprints.reshape(n, -1).copy()
    k = int(min(max(k, 0), flat.shape[1]))
    if k:
        order = deletion_order(maps) if order is None else order
        np.put_along_axis(flat, order[:, :k], np.float32(background), axis=1)
    return flat.reshape(fingerprints.shape)


def _probabilities(keras_model, fingerprints: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The network's class probabilities (n, n_classes) in inference mode (dropout off), through the
    compiled pass :func:`paper_lib.uncertainty.sample_probabilities` keeps for each network; the
    mean over an ensemble's members."""
    from .uncertainty import sample_probabilities

    return sample_probabilities(keras_model, fingerprints, "ensemble", batch_size=batch_size).mean(axis=1)


def deletion_curve(model, fingerprints: np.ndarray, labels, maps: np.ndarray, ks,
                   background: float = 0.0, batch_size: int = BATCH_SIZE) -> dict:
    """Faithfulness of ``maps`` (n, 64, 64, 3): delete each fingerprint's ``k`` highest-ranked
    pixels (:func:`delete_top`) for every ``k`` in ``ks`` and ask the network again.

    ``labels``: the true class index of each fingerprint. The network is ``model``'s (an ensemble's
    first member, as for the maps). Returns ``probability`` and ``correct``, each (n, len(ks)): the
    true class's probability (0..1) and whether it is still the network's best class. A map that
    points at what the network uses makes both fall faster with ``k`` than a random map does; the
    controls that matter are a map that needs no network (the fingerprint's own intensity: delete
    the brightest pixels) and the same method on an untrained network (:func:`untrained_like`).
    """
    keras_model = _keras_model(model)
    fingerprints = np.asarray(fingerprints, np.float32)
    labels = np.asarray(labels, int)
    n = len(labels)
    order = deletion_order(maps) if len(ks) else None
    probability = np.zeros((n, len(ks)), np.float32)
    correct = np.zeros((n, len(ks)), bool)
    for j, k in enumerate(ks):
        p = _probabilities(keras_model, delete_top(fingerprints, maps, k, background, order), batch_size)
        probability[:, j] = p[np.arange(n), labels]
        correct[:, j] = p.argmax(axis=1) == labels
    return {"probability": probability, "correct": correct}


#: numbers of deleted pixels of :func:`deletion_test` (of 12,288 per fingerprint)
DELETION_KS = (0, 1, 2, 3, 5, 10, 20, 30, 50, 100, 300)

#: the maps :func:`deletion_test` ranks pixels by, drawn for the true class where they have one
DELETION_MAPS = ("gradient x input", "gradient", "guided class map", "conv1 deconvolution", "conv6 deconvolution")


def _maps_of(network, fingerprints, labels, kind: str, top_k: int = TOP_K) -> np.ndarray:
    """(n, 64, 64, 3) maps of one kind of :data:`DELETION_MAPS` (``labels``: class indices)."""
    if kind == "gradient x input":
        return saliency_maps(network, fingerprints, labels, "gradient_x_input")
    if kind == "gradient":
        return saliency_maps(network, fingerprints, labels, "gradient")
    if kind == "guided class map":
        return np.stack([class_response_maps(network, fp, [c])[0] for fp, c in zip(fingerprints, labels)])
    if kind.endswith(" deconvolution"):
        layer = kind.split()[0]
        return np.stack([response_maps(network, fp, layer, top_k).total for fp in fingerprints])
    raise ValueError(f"deletion: unknown map {kind!r}; choose from {', '.join(DELETION_MAPS)}")


def held_out_fingerprints(paths, model, per_class: int, seed: int = 0) -> dict:
    """Fingerprints of the structures ``model`` held out for validation (``validation_sids`` of its
    metadata) from the fingerprint files ``paths`` (a preset's ``fingerprints/shard-*.h5``): up to
    ``per_class`` per class, drawn at random (``seed``) among their pristine and defective rows.
    Reads only the rows chosen. Returns ``fingerprints`` (n, 64, 64, 3) float32, ``label``,
    ``defect``, ``level`` (%) and ``sid``, in file order."""
    import h5py
    import pandas as pd

    from .io import read_fingerprints

    validation = np.asarray(getattr(model, "metadata", {}).get("training_data", {}).get("validation_sids", []))
    if not len(validation):
        raise ValueError(f"{getattr(model, 'path', 'the model')}: its metadata lists no validation structures")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("held-out fingerprints: no fingerprint files given")
    meta = []
    for number, path in enumerate(paths):
        m = read_fingerprints(path, with_fingerprints=False)
        rows = np.flatnonzero(np.isin(m["sid"], validation))
        meta.append(pd.DataFrame({"file": number, "row": rows, "sid": m["sid"][rows], "label": m["label"][rows],
                                  "defect": m["defect"][rows], "level": m["level"][rows]}))
    meta = pd.concat(meta, ignore_index=True)
    rng = np.random.default_rng(seed)
    classes = list(getattr(model, "classes", None) or dict.fromkeys(meta["label"]))
    chosen = np.concatenate([rng.permutation(meta.index[meta["label"] == c].to_numpy())[:per_class]
                             for c in classes] or [np.zeros(0, int)])
    meta = meta.loc[np.sort(chosen)].sort_values(["file", "row"])
    fingerprints = [np.zeros((0, 64, 64, 3), np.float32)]
    for number, group in meta.groupby("file", sort=True):
        with h5py.File(paths[number], "r") as h5:
            fingerprints.append(h5["fingerprints"][group["row"].to_numpy()].astype(np.float32))
    return {"fingerprints": np.concatenate(fingerprints), "label": meta["label"].to_numpy(str),
            "defect": meta["defect"].to_numpy(str), "level": meta["level"].to_numpy(float),
            "sid": meta["sid"].to_numpy()}


def deletion_test(model, untrained, fingerprints: np.ndarray, labels, ks=DELETION_KS, maps=DELETION_MAPS,
                  draws: int = 5, seed: int = 0, background: float = 0.0, top_k: int = TOP_K, progress=None):
    """The deletion test of every map in ``maps`` (:data:`DELETION_MAPS`) against its controls.

    ``fingerprints`` (n, 64, 64, 3) with their true ``labels`` (class names of ``model.classes``, or
    indices). Each map is drawn by the trained network ``model`` and by ``untrained`` (the same
    architecture with random weights, :func:`untrained_like`); besides them, three controls:
    ``brightest pixels`` (the fingerprint's own intensity as the map: no network at all),
    ``random`` (uniform noise, ``draws`` seeded draws) and ``gradient x input, runner-up class``
    (the trained network's map of the class it ranks second on the intact fingerprint: a map of the
    wrong class). Every map's top ``k`` pixels are set to ``background`` for each ``k`` in ``ks`` and
    the *trained* network asked again (:func:`deletion_curve`).

    Returns a long DataFrame: ``map``, ``network`` (trained, untrained or none), ``draw``, ``class``
    (each class, and ``all`` for every fingerprint pooled), ``k``, ``n``, ``accuracy`` (0..1) and
    ``probability`` (the mean probability of the true class, 0..1). ``progress``, if given, is
    called with each map's name when it is done.
    """
    import pandas as pd

    classes = list(getattr(model, "classes", []))
    labels = np.asarray(labels)
    index = labels.astype(int) if labels.dtype.kind in "iu" else np.array([classes.index(str(c)) for c in labels], int)
    names = np.array([classes[i] for i in index]) if classes else index.astype(str)
    fingerprints = np.asarray(fingerprints, np.float32)
    ks = [int(k) for k in ks]
    rows = []

    def record(name, network, draw, result):
        for group in ["all", *dict.fromkeys(names)]:
            chosen = np.ones(len(names), bool) if group == "all" else names == group
            for j, k in enumerate(ks):
                rows.append({"map": name, "network": network, "draw": draw, "class": group, "k": k,
                             "n": int(chosen.sum()), "accuracy": float(result["correct"][chosen, j].mean()),
                             "probability": float(result["probability"][chosen, j].mean())})
        if progress is not None:
            progress(name if network == "none" else f"{name} ({network})")

    def run(name, network, draw, ranking):
        record(name, network, draw, deletion_curve(model, fingerprints, index, ranking, ks, background))

    for kind in maps:
        for network, net in (("trained", model), ("untrained", untrained)):
            run(kind, network, 0, _maps_of(net, fingerprints, index, kind, top_k))
    intact = _probabilities(_keras_model(model), fingerprints)
    intact[np.arange(len(index)), index] = -np.inf
    run("gradient x input, runner-up class", "trained", 0,
        saliency_maps(model, fingerprints, intact.argmax(axis=1), "gradient_x_input"))
    run("brightest pixels", "none", 0, fingerprints)
    rng = np.random.default_rng(seed)
    for draw in range(draws):
        run("random", "none", draw, rng.random(fingerprints.shape, dtype=np.float32))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# What the per-layer maps owe to the fingerprint: filter usage and class independence
# --------------------------------------------------------------------------------------------

def filter_usage(model, fingerprints: np.ndarray, top_k: int = TOP_K, batch_size: int = BATCH_SIZE):
    """How each convolutional filter is used on ``fingerprints`` (n, 64, 64, 3): a DataFrame with one
    row per (layer, filter): ``fires`` (share 0..1 of the fingerprints' positions where its ReLU
    output is positive), ``activation_share`` (its share 0..1 of the layer's summed activation, over
    all fingerprints) and ``top_k_share`` (share 0..1 of the fingerprints on which it is among the
    layer's ``top_k`` strongest, the maps :func:`response_maps` draws). A filter that never fires
    is dead; a layer whose activation sits in ``top_k`` filters on every fingerprint draws the same
    filters whatever the class."""
    import pandas as pd
    import tensorflow as tf

    keras_model = _keras_model(model)
    names = conv_layers(keras_model)
    fires = {name: 0.0 for name in names}
    strength = {name: 0.0 for name in names}
    chosen = {name: 0.0 for name in names}
    positions = {}
    fingerprints = np.asarray(fingerprints, np.float32)
    for start in range(0, len(fingerprints), batch_size):
        x = tf.convert_to_tensor(fingerprints[start:start + batch_size])
        for layer in keras_model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            x = layer(x, training=False)
            if layer.name in fires:
                a = x.numpy()
                positions[layer.name] = a.shape[1] * a.shape[2]
                fires[layer.name] = fires[layer.name] + (a > 0).sum(axis=(0, 1, 2))
                summed = a.sum(axis=(1, 2))                                     # (batch, filters)
                strength[layer.name] = strength[layer.name] + summed.sum(axis=0)
                k = int(min(max(top_k, 1), a.shape[-1]))
                top = np.argsort(-summed, axis=1, kind="stable")[:, :k]
                chosen[layer.name] = chosen[layer.name] + np.bincount(top.ravel(), minlength=a.shape[-1])
    rows = []
    n = max(len(fingerprints), 1)
    for name in names:
        total = float(np.sum(strength[name])) or 1.0
        for f in range(len(np.atleast_1d(fires[name]))):
            rows.append({"layer": name, "filter": f, "fires": fires[name][f] / (n * positions[name]),
                         "activation_share": strength[name][f] / total, "top_k_share": chosen[name][f] / n})
    return pd.DataFrame(rows)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


def _extent(response: np.ndarray, floor: float = 0.01) -> float:
    """Share (0..1) of the detector's pixels where the positive ``response`` (64, 64, 3), summed over
    channels, is above ``floor`` times its maximum; 0 for an empty map."""
    total = np.maximum(np.asarray(response, np.float64), 0).sum(axis=-1)
    top = float(total.max())
    return float((total > floor * top).mean()) if top > 0 else 0.0


def map_similarity_table(model, fingerprints, labels, layers=None, top_k: int = TOP_K,
                         rectify=(False, True), pool_switches=(False,), **mask_options):
    """How much each layer's summed map (:func:`response_maps`) is the same whatever the fingerprint.

    One row per (layer, rectify, pool_switches) (the options of :func:`response_maps`), plus a row ``fingerprint`` for the fingerprints themselves:
    ``between_class`` and ``within_class``, the mean cosine similarity (0..1; the maps are
    non-negative) of the maps of two fingerprints of different classes and of the same class;
    ``blank``, the mean cosine similarity with the map of an all-zero fingerprint (a map drawn with
    no structure at all: what the weights and biases give alone; 0 where that map is empty); and
    ``peak_share``, the mean share of the map on the diffraction peaks (:func:`peak_concentration`);
    ``extent``, the mean share of the detector's pixels (channels summed) where the map is above
    1 % of its maximum. A map with ``between_class`` well above the fingerprints' own is
    class-independent.
    """
    import pandas as pd

    fingerprints = [np.asarray(fp, np.float32) for fp in fingerprints]
    labels = np.asarray(labels)
    names = conv_layers(model) if layers is None else list(layers)
    different = labels[:, None] != labels[None, :]
    upper = np.triu(np.ones(different.shape, bool), k=1)

    def summarise(maps, blank=None):
        cos = np.array([[_cosine(a, b) for b in maps] for a in maps])
        row = {"between_class": float(cos[upper & different].mean()) if (upper & different).any() else np.nan,
               "within_class": float(cos[upper & ~different].mean()) if (upper & ~different).any() else np.nan}
        row["blank"] = float(np.mean([_cosine(m, blank) for m in maps])) if blank is not None else np.nan
        row["peak_share"] = float(np.nanmean([peak_concentration(m, fp, **mask_options)
                                              for m, fp in zip(maps, fingerprints)]))
        row["extent"] = float(np.mean([_extent(m) for m in maps]))
        return row

    rows = [{"layer": "fingerprint", "rectify": False, "pool_switches": False, **summarise(fingerprints)}]
    empty = np.zeros_like(fingerprints[0])
    for name in names:
        for rect in np.atleast_1d(rectify):
            for pool in np.atleast_1d(pool_switches):
                options = {"rectify": bool(rect), "pool_switches": bool(pool)}
                maps = [response_maps(model, fp, name, top_k, **options).total for fp in fingerprints]
                blank = response_maps(model, empty, name, top_k, **options).total
                rows.append({"layer": name, **options, **summarise(maps, blank)})
    return pd.DataFrame(rows)
