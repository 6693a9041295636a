"""Attentive response maps: the projection is the one described, and the trained network's maps
sit on the diffraction peaks more than an untrained network's and random maps."""
import numpy as np
import pytest
from ase.build import bulk

from paper_lib import interpret
from paper_lib.diffraction import fingerprint
from paper_lib.model import load_model

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def shipped():
    """The paper preset's network, whose response maps are the paper's figures."""
    return load_model("paper2018")


@pytest.fixture(scope="module")
def fingerprints():
    """Fingerprints of fcc Cu, bcc W and diamond Si (periodic input: the paper's pre-processing)."""
    return {"fcc": fingerprint(bulk("Cu", "fcc", a=3.61), preprocessing="paper2018"),
            "bcc": fingerprint(bulk("W", "bcc", a=3.16), preprocessing="paper2018"),
            "diam": fingerprint(bulk("Si", "diamond", a=5.43), preprocessing="paper2018")}


def test_maps_have_the_promised_shape(shipped, fingerprints):
    fp = fingerprints["fcc"]
    maps = interpret.response_maps(shipped, fp, "conv3", top_k=5)
    assert maps.maps.shape == (5, 64, 64, 3) and maps.layer == "conv3"
    assert (maps.maps >= 0).all() and np.allclose(maps.total, maps.maps.sum(axis=0))
    assert np.all(np.diff(maps.strength) <= 0)                  # ranked by summed activation
    assert [m.layer for m in interpret.all_layers(shipped, fp, top_k=2)] == [f"conv{i}" for i in range(1, 7)]


def test_first_layer_projection_is_the_flipped_kernel(shipped, fingerprints):
    """One activation a of conv1 filter f at (y, x) projects back to a * W[3-dy, 3-dx, :, f] around
    (y, x): the transposed convolution of a single spike."""
    fp = fingerprints["bcc"]
    maps = interpret.response_maps(shipped, fp, "conv1", top_k=1)
    layer = shipped.model.get_layer("conv1")
    activation = np.asarray(layer(fp[None]))[0]
    f = int(maps.filters[0])
    y, x = np.unravel_index(np.argmax(activation[..., f]), (64, 64))
    kernel = np.asarray(layer.kernel)[..., f]                     # (7, 7, 3)
    expected = np.zeros((64, 64, 3), np.float32)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            if 0 <= y + dy < 64 and 0 <= x + dx < 64:
                expected[y + dy, x + dx] = activation[y, x, f] * kernel[dy + 3, dx + 3]
    assert np.allclose(maps.maps[0], np.maximum(expected, 0), atol=1e-5 * expected.max())


def test_bad_requests_are_named(shipped, fingerprints):
    with pytest.raises(ValueError, match="'dense' is not a convolutional layer"):
        interpret.response_maps(shipped, fingerprints["fcc"], "dense")
    with pytest.raises(ValueError, match="shape"):
        interpret.response_maps(shipped, np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="class indices"):
        interpret.class_response_maps(shipped, fingerprints["fcc"], [7])


def test_class_maps_and_dominant_class(shipped, fingerprints):
    maps = interpret.class_response_maps(shipped, fingerprints["diam"])
    assert maps.shape == (7, 64, 64, 3) and (maps >= 0).all()
    assert not np.allclose(maps[0], maps[4])                    # classes differ
    dominant = interpret.dominant_class(maps)
    assert dominant.shape == (64, 64) and dominant.min() >= -1 and dominant.max() < 7


def test_peak_mask_and_concentration():
    fp = np.zeros((64, 64, 3), np.float32)
    fp[20, 20, 0] = 1.0
    fp[40, 44, 0] = 0.5
    fp[10, 10, 0] = 0.01                                          # below 10 % of the maximum: not a peak
    mask = interpret.peak_mask(fp, radius_px=2)
    assert mask[..., 0].sum() == 2 * 13 and not mask[..., 1:].any()
    assert mask[20, 22, 0] and not mask[10, 10, 0]
    assert interpret.peak_concentration(fp, fp) == pytest.approx((1 + 0.5) / 1.51)
    flat = np.ones_like(fp)
    assert interpret.peak_concentration(flat, fp) == pytest.approx(mask.mean())
    assert np.isnan(interpret.peak_concentration(np.zeros_like(fp), fp))


def test_trained_maps_sit_on_the_peaks(shipped, fingerprints):
    untrained = interpret.untrained_like(shipped, seed=0)
    labels = list(fingerprints)
    table = interpret.peak_concentration_table(shipped, untrained, list(fingerprints.values()), labels)
    class_rows = table[table["map"] == "class"].set_index("class")
    assert set(class_rows.index) == set(labels)
    assert (class_rows["vs_random"] >= 3).all(), class_rows
    assert (class_rows["vs_untrained"] > 1).all(), class_rows
    first = table[table["map"] == "conv1"]
    assert (first["vs_random"] >= 3).all(), first


# --------------------------------------------------------------------------------------------
# Class-specific (gradient) maps and the deletion test
# --------------------------------------------------------------------------------------------

def test_gradient_maps_depend_on_the_class(shipped, fingerprints):
    """On a bcc fingerprint the network tells bcc from fcc: the two classes' gradient x input maps
    differ, and deleting each map's top pixels lowers its own class's score more than the other
    map's top pixels do."""
    import tensorflow as tf

    fp = fingerprints["bcc"]
    bcc, fcc = shipped.classes.index("bcc"), shipped.classes.index("fcc")
    keras_model = interpret._keras_model(shipped)
    assert interpret._probabilities(keras_model, fp[None])[0, bcc] > 0.9
    maps = interpret.saliency_maps(shipped, np.stack([fp, fp]), [bcc, fcc], "gradient_x_input")
    assert interpret._cosine(maps[0], maps[1]) < 0.5

    def scores(x):
        return interpret._scores(keras_model, tf.convert_to_tensor(x), "logit").numpy()[0]

    intact = scores(fp[None])
    by_bcc = intact - scores(interpret.delete_top(fp[None], maps[:1], 5))
    by_fcc = intact - scores(interpret.delete_top(fp[None], maps[1:], 5))
    assert by_bcc[bcc] > by_fcc[bcc] and by_fcc[fcc] > by_bcc[fcc], (by_bcc, by_fcc)


def test_gradient_x_input_is_the_first_order_score_change(shipped, fingerprints):
    """Summed over pixels, gradient x input is the score's derivative along the fingerprint: what a
    small uniform dimming removes, per unit of dimming (a finite-difference check of the gradient)."""
    fp = fingerprints["fcc"]
    c = shipped.classes.index("fcc")
    gradient = interpret.input_gradients(shipped, fp, c)
    assert gradient.shape == fp.shape
    import tensorflow as tf

    keras_model = interpret._keras_model(shipped)
    eps = 1e-3
    score = lambda x: float(interpret._scores(keras_model, tf.convert_to_tensor(x[None]), "logit")[0, c])  # noqa: E731
    finite = (score(fp) - score(fp * (1 - eps))) / eps
    assert finite == pytest.approx(float((gradient * fp).sum()), rel=0.05, abs=0.05)


def _toy_model():
    """A network whose answer is known: 8 x 8 x 1 images, class 0's score is the sum of the four
    pixels of set A minus that of set B, class 1's the opposite. Eight brighter distractor pixels
    carry no weight."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="probabilities")(flat)
    model = keras.Model(inputs, outputs)
    weights = np.zeros((64, 2), np.float32)
    weights[TOY_A, 0], weights[TOY_B, 0] = 1.0, -1.0
    weights[TOY_A, 1], weights[TOY_B, 1] = -1.0, 1.0
    model.get_layer("probabilities").set_weights([weights, np.zeros(2, np.float32)])
    return model


TOY_A, TOY_B, TOY_DISTRACTORS = [9, 18, 27, 36], [14, 21, 42, 49], [0, 7, 56, 63, 3, 24, 39, 60]


def _toy_data(n: int = 40, seed: int = 0):
    """Images of both classes: the class's own set at 0.5, the other's at 0.1, distractors at 1.0,
    the rest weak noise (0..0.05)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.uniform(0, 0.05, (n, 64)).astype(np.float32)
    for i, label in enumerate(labels):
        own, other = (TOY_A, TOY_B) if label == 0 else (TOY_B, TOY_A)
        images[i, own], images[i, other], images[i, TOY_DISTRACTORS] = 0.5, 0.1, 1.0
    return images.reshape(n, 8, 8, 1), labels


def test_deletion_finds_the_pixels_a_known_network_uses():
    """Deleting the four pixels gradient x input ranks highest flips every answer of the toy network;
    deleting the four brightest pixels, four random ones or the top four of an untrained network's
    map does not. Ranking the wrong way round, deleting the wrong pixels or taking the other class's
    gradient would fail it."""
    model = _toy_model()
    images, labels = _toy_data()
    before = interpret.deletion_curve(model, images, labels, images, [0])
    assert before["correct"].all()
    rng = np.random.default_rng(1)
    k = [4]
    maps = {"gradient x input": interpret.saliency_maps(model, images, labels, "gradient_x_input"),
            "brightest": images,
            "untrained": interpret.saliency_maps(interpret.untrained_like(model, seed=3), images, labels),
            "random": rng.random(images.shape)}
    accuracy = {name: interpret.deletion_curve(model, images, labels, m, k)["correct"].mean() for name, m in maps.items()}
    assert accuracy["gradient x input"] == 0.0, accuracy
    assert accuracy["brightest"] == 1.0, accuracy
    assert accuracy["random"] >= 0.8 and accuracy["untrained"] >= 0.5, accuracy
    top = interpret.deletion_order(maps["gradient x input"][:1])[0, :4]
    assert sorted(top) == TOY_A                                    # the first image is class 0


def test_delete_top_sets_exactly_k_pixels():
    rng = np.random.default_rng(0)
    fps = rng.uniform(0.5, 1, (3, 64, 64, 3)).astype(np.float32)
    maps = rng.random(fps.shape)
    out = interpret.delete_top(fps, maps, 25, background=0.0)
    assert ((out == 0).reshape(3, -1).sum(axis=1) == 25).all()
    assert np.array_equal(out[out != 0], fps[out != 0])
    flat_map = maps.reshape(3, -1)
    for i in range(3):
        deleted = flat_map[i][(out[i] == 0).ravel()]
        kept = flat_map[i][(out[i] != 0).ravel()]
        assert deleted.min() > kept.max()
    with pytest.raises(ValueError, match="shape"):
        interpret.delete_top(fps, maps[:, :32], 5)


def test_filter_usage_and_map_similarity(shipped, fingerprints):
    fps = list(fingerprints.values())
    usage = interpret.filter_usage(shipped, np.stack(fps))
    assert set(usage["layer"]) == {f"conv{i}" for i in range(1, 7)}
    for _, layer in usage.groupby("layer"):
        assert layer["activation_share"].sum() == pytest.approx(1.0)
        assert layer["top_k_share"].sum() == pytest.approx(interpret.TOP_K)
        assert ((layer["fires"] >= 0) & (layer["fires"] <= 1)).all()
    table = interpret.map_similarity_table(shipped, fps, list(fingerprints), layers=["conv6"], rectify=(False,))
    assert list(table["layer"]) == ["fingerprint", "conv6"]
    row = table.set_index("layer").loc["conv6"]
    assert 0 <= row["between_class"] <= 1 and 0 <= row["blank"] <= 1 and np.isnan(row["within_class"])
    assert 0 < row["extent"] <= 1 and table.set_index("layer").loc["fingerprint", "extent"] < row["extent"]


def test_pool_switches_send_the_signal_to_each_window_maximum():
    import keras

    inputs = keras.Input((4, 4, 1))
    pooled = keras.layers.MaxPooling2D(2, name="pool")(inputs)
    model = keras.Model(inputs, pooled)
    image = np.arange(16, dtype=np.float32)[::-1].reshape(4, 4, 1)          # maxima at each window's top left
    outputs = interpret._forward(model, image)
    signal = np.ones((1, 2, 2, 1), np.float32)
    up = interpret._project(model, signal, "pool", outputs)[0, ..., 0]
    switched = interpret._project(model, signal, "pool", outputs, pool_switches=True)[0, ..., 0]
    assert (up == 1).all()
    assert np.array_equal(switched, np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]))


def test_deletion_test_table_has_every_map_and_control(tmp_path):
    """The whole deletion test on the toy network: every map from both networks, the three controls,
    pooled and per class; gradient x input of the true class beats every control at k = 4, and the
    figure is drawn."""
    from paper_lib import plotting

    model = _toy_model()
    images, labels = _toy_data()
    table = interpret.deletion_test(model, interpret.untrained_like(model, seed=3), images, labels, ks=(0, 4),
                                    maps=("gradient x input",), draws=2)
    pooled = table[table["class"] == "all"].set_index(["map", "network", "draw", "k"])["accuracy"]
    assert set(pooled.index.get_level_values("map")) == {"gradient x input", "gradient x input, runner-up class",
                                                         "brightest pixels", "random"}
    assert (pooled.xs(0, level="k") == 1).all()
    at4 = pooled.xs(4, level="k")
    assert at4["gradient x input", "trained", 0] == 0
    assert at4.drop(("gradient x input", "trained", 0)).min() >= 0.5, at4
    assert set(table["class"]) == {"all", "0", "1"} and (table.loc[table["class"] == "0", "n"] == 20).all()
    paths = plotting.save_figure(plotting.deletion_figure(table), tmp_path, "deletion")
    assert all(p.stat().st_size > 0 for p in paths)


def test_held_out_fingerprints_reads_only_validation_structures(tmp_path):
    """Two files, structures 0..9 of two classes with a pristine and a defective row each; the model
    held out structures 2, 3 and 7: only their rows come back, at most ``per_class`` per class, each
    fingerprint with its own row's keys."""
    from types import SimpleNamespace

    from paper_lib.io import write_fingerprints

    paths = []
    for number in range(2):
        sids = np.repeat(np.arange(5) + 5 * number, 2)
        labels = np.where(sids % 2, "fcc", "bcc")
        fps = np.zeros((10, 64, 64, 3), np.float32)
        fps[:, 0, 0, 0] = sids / 10                                    # each row marked by its structure
        path = tmp_path / f"shard-{number:03d}.h5"
        write_fingerprints(path, fps, {"row_id": np.arange(10), "sid": sids, "label": labels,
                                       "defect": np.tile(["pristine", "vacancies"], 5), "level": np.tile([0.0, 10.0], 5)},
                           [], {"fingerprint": "{}"})
        paths.append(path)
    model = SimpleNamespace(classes=("bcc", "fcc"), path="toy", metadata={"training_data": {"validation_sids": [2, 3, 7]}})
    everything = interpret.held_out_fingerprints(paths, model, per_class=10)
    assert sorted(everything["sid"]) == [2, 2, 3, 3, 7, 7]
    assert np.allclose(everything["fingerprints"][:, 0, 0, 0], everything["sid"] / 10)
    assert list(everything["label"]) == ["bcc" if s % 2 == 0 else "fcc" for s in everything["sid"]]
    few = interpret.held_out_fingerprints(paths, model, per_class=1, seed=4)
    assert sorted(few["label"]) == ["bcc", "fcc"]
    with pytest.raises(ValueError, match="no validation structures"):
        interpret.held_out_fingerprints(paths, SimpleNamespace(metadata={}, path="toy"), per_class=1)
