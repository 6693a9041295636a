"""Training throughput of the paper's network on this machine, and the paper preset's projection.

    python benchmarks/bench_training.py [--samples 640]

Trains one epoch on random fingerprints (batch 32, Adam) after a warm-up epoch and reports samples
per second, with the same-run reference of inference (predict) throughput. The paper preset trains
on 90 % of 10,517 pristine fingerprints for 5 epochs: 47,325 samples. The real figure of a run is
in its model.json (training.seconds).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from paper_lib.model import TRAINING, build_model


def main() -> None:
    import keras

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=640)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 64, 64, 3), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 7, args.samples), 7)
    model = build_model(7)
    model.compile(optimizer=keras.optimizers.Adam(TRAINING["learning_rate"]), loss="categorical_crossentropy",
                  jit_compile=True)                     # as paper_lib.model.train does
    model.fit(x, y, batch_size=TRAINING["batch_size"], epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=TRAINING["batch_size"], epochs=1, verbose=0)
    train_rate = args.samples / (time.perf_counter() - start)
    start = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    predict_rate = args.samples / (time.perf_counter() - start)
    paper = int(0.9 * 10517) * TRAINING["epochs"]
    print(f"training : {train_rate:7.1f} samples/s  (predict: {predict_rate:.1f} samples/s, "
          f"training/predict = {train_rate / predict_rate:.2f})")
    print(f"paper preset training ({paper} samples): projected {paper / train_rate / 60:.1f} min")


if __name__ == "__main__":
    main()
