"""Training throughput of the paper's network on this machine, and the paper preset's projection.

    python benchmarks/bench_training.py [--samples 1280]

Trains one epoch on random fingerprints (batch 32, Adam) after a warm-up epoch, in two settings
timed in the same process, and reports samples per second:

1. XLA-compiled training without TensorFlow's op determinism;
2. as ``paper_lib.model.train`` trains: op determinism on (bit-identical weights for a seed).
   Keras then turns XLA off for training (it warns "Model doesn't support jit_compile=True"), so
   this is TensorFlow's own kernels.

Reference: inference (the XLA-compiled forward pass) in the same run. The paper preset trains on
90 % of 10,517 pristine fingerprints for 5 epochs: 47,325 samples per seed. The real figure of a
run is in its model.json (training.seconds).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from paper_lib.model import TRAINING, build_model


def rate(x, y, *, determinism: bool) -> tuple[float, bool]:
    """Samples/s of one epoch after a warm-up epoch, and whether Keras kept XLA on."""
    import keras
    import tensorflow as tf

    if determinism:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    model = build_model(y.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(TRAINING["learning_rate"]), loss="categorical_crossentropy",
                  jit_compile=True)
    model.fit(x, y, batch_size=TRAINING["batch_size"], epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=TRAINING["batch_size"], epochs=1, verbose=0)
    return len(x) / (time.perf_counter() - start), bool(model.jit_compile)


def main() -> None:
    import keras

    from paper_lib.uncertainty import sample_probabilities

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1280)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 64, 64, 3), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 7, args.samples), 7)
    xla, xla_on = rate(x, y, determinism=False)          # first: determinism cannot be switched off again
    deterministic, det_xla = rate(x, y, determinism=True)
    network = build_model(7)
    sample_probabilities(network, x[:256])
    start = time.perf_counter()
    sample_probabilities(network, x)
    predict_rate = args.samples / (time.perf_counter() - start)
    paper = int(0.9 * 10517) * TRAINING["epochs"]
    print(f"training, XLA {'on' if xla_on else 'off'}, no op determinism : {xla:7.1f} samples/s "
          f"(paper preset, {paper} samples: {paper / xla / 60:.1f} min per seed)")
    print(f"training as train() does (op determinism, XLA {'on' if det_xla else 'off'}): {deterministic:7.1f} "
          f"samples/s (paper preset: {paper / deterministic / 60:.1f} min per seed)")
    print(f"ratio XLA / deterministic: {xla / deterministic:.2f}; inference (XLA): {predict_rate:.1f} samples/s")


if __name__ == "__main__":
    main()
