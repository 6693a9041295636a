"""Attentive response maps: which fingerprint pixels the network responds to.

Two maps, both projected back to the (64, 64, 3) input through the network's own weights:

- :func:`response_maps` -- the reference method (the paper's attentive response maps; Zeiler & Fergus'
  deconvolution as in the paper's code). For one convolutional layer, the feature maps are ranked by
  their summed activation and the ``top_k`` strongest are kept; in each, only the single strongest
  activation is kept, and it is projected back to the input: through every convolution by its
  transposed (flipped) kernels, through every ReLU by the forward pass's switches (signal passes
  only where the forward activation was positive), and through every max-pool by 2 x 2 upsampling.
  The positive part is shown, per filter and summed over the layer.
- :func:`class_response_maps` -- a class-conditioned variant in the spirit of CLEAR (Kumar et al.
  2017): the same projection started from the score (pre-softmax) of a chosen class instead of a
  feature map, through the dense head (transposed weights, the batch normalisation's inference-time
  scale, the ReLU switches) and then the convolutional part as above, with the projected signal
  also rectified at every ReLU (Zeiler & Fergus' deconvnet rule). Its positive part is the
  evidence *for* that class; the class with the largest response at each pixel gives CLEAR's
  dominant-class map (:func:`dominant_class`).

:func:`peak_concentration` asks whether the maps look where a crystallographer looks: the share of
the positive response lying within a few pixels of the fingerprint's diffraction peaks.

The projection is written for the layer types of the paper's network (Conv2D with ReLU, MaxPooling2D,
Dropout, Flatten, Dense, BatchNormalization) and refuses others.
"""
from __future__ import annotations

from dataclasses import dataclass

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
            continue
        x = layer(x, training=False)
        out[layer.name] = x
    return out


def _project(keras_model, signal, start: str, outputs: dict, rectify: bool = False):
    """Project ``signal`` (batch, shape of layer ``start``'s output) back to the input.

    ``signal`` lives at the output of ``start`` *after* its activation; the ReLU switches are the
    forward outputs' positive entries.
    """
    import tensorflow as tf

    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    index = [layer.name for layer in layers].index(start)
    for position in range(index, -1, -1):
        layer = layers[position]
        kind = type(layer).__name__
        below = outputs[layers[position - 1].name] if position > 0 else None
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
                  rectify: bool = False) -> ResponseMaps:
    """The deconvolution maps of ``fingerprint`` (64, 64, 3) for conv ``layer`` (default: the
    last), one per each of the ``top_k`` most active feature maps (see the module docstring).

    ``model`` is a LoadedModel (``paper_lib.model.load_model``) or a Keras model. ``rectify`` also
    passes the projected signal through a ReLU at every layer (Zeiler & Fergus' own rule; with the
    switches this is guided backpropagation); the reference code uses the switches alone.
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
    projected = _project(keras_model, signal, layer, outputs, rectify=rectify)
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
