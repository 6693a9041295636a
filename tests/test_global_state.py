"""Library calls leave the caller's global state as they found it, and caches belong to one model:
TensorFlow's op determinism after training, the global random generators after an untrained copy of
a network, the compiled forward passes of two networks."""
import gc
import weakref
import random

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from paper_lib.model import build_model, train  # noqa: E402


def test_training_switches_op_determinism_off_again():
    from tensorflow.python.framework import config as tf_config

    rng = np.random.default_rng(0)
    fingerprints = rng.random((12, 64, 64, 3)).astype(np.float32)
    labels = np.array(["bcc", "fcc", "sc"] * 4)
    tf_config.disable_op_determinism()
    train(fingerprints, labels, ["bcc", "fcc", "sc"], epochs=1, batch_size=4, verbose=0)
    assert not tf_config.is_op_determinism_enabled()
    tf_config.enable_op_determinism()                  # a caller that had it on keeps it on
    try:
        train(fingerprints, labels, ["bcc", "fcc", "sc"], epochs=1, batch_size=4, verbose=0)
        assert tf_config.is_op_determinism_enabled()
    finally:
        tf_config.disable_op_determinism()


def test_an_untrained_copy_is_seeded_without_touching_the_global_generators():
    from paper_lib.interpret import untrained_like

    network = build_model(3)
    random.seed(11)
    np.random.seed(11)
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()
    first = untrained_like(network, seed=0)
    assert random.getstate() == python_state and np.array_equal(np.random.get_state()[1], numpy_state)
    again, other = untrained_like(network, seed=0), untrained_like(network, seed=1)
    assert random.getstate() == python_state and np.array_equal(np.random.get_state()[1], numpy_state)
    kernels = [layer.get_weights()[0] for layer in first.layers if layer.name.startswith("conv")]
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), again.get_weights()))
    assert not np.array_equal(kernels[0], other.get_layer("conv1").get_weights()[0])
    assert not np.array_equal(kernels[0], network.get_layer("conv1").get_weights()[0])
    assert len({float(np.std(k)) for k in kernels}) == len(kernels)    # every layer its own draw


def test_each_network_has_its_own_compiled_pass_and_the_cache_lets_it_go():
    import keras

    from paper_lib.uncertainty import _FORWARD, sample_probabilities

    x = np.random.default_rng(1).random((3, 64, 64, 3)).astype(np.float32)
    keras.utils.set_random_seed(1)
    a = build_model(3)
    keras.utils.set_random_seed(2)
    b = build_model(3)
    pa, pb = sample_probabilities(a, x)[:, 0], sample_probabilities(b, x)[:, 0]
    np.testing.assert_allclose(pa, a(x, training=False).numpy(), atol=1e-5)
    np.testing.assert_allclose(pb, b(x, training=False).numpy(), atol=1e-5)
    assert not np.allclose(pa, pb)
    assert a in _FORWARD and b in _FORWARD
    before = len(_FORWARD)
    gone = weakref.ref(a)
    del a
    gc.collect()
    # other tests' networks in this worker may be collected too: the count falls by at least one
    assert gone() is None and b in _FORWARD and len(_FORWARD) <= before - 1
