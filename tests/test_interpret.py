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
