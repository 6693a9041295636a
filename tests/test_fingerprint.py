"""The (64, 64, 3) fingerprint: the paper's spots, masks, normalisation, size invariance, bad input."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from conftest import fcc_cluster

from paper_lib import fingerprint, fingerprints
from paper_lib.diffraction import MAX_ATOMS, pixel_mask
from paper_lib.structures import StructureError, mean_nn_distance


def _bright_spots(channel, fraction=0.9):
    ys, xs = np.nonzero(channel > fraction * channel.max())
    return set(zip((np.abs(xs - 31.5)).tolist(), (np.abs(ys - 31.5)).tolist()))


def test_fcc_fingerprint_spots_are_where_the_paper_has_them():
    fp = fingerprint(fcc_cluster(), mask_inner_px=10, mask_outer_px=30, target_atoms=None)
    assert fp.shape == (64, 64, 3) and fp.dtype == np.float32
    assert _bright_spots(fp[..., 0]) == {(8.5, 12.5)}      # red: {111} family
    assert _bright_spots(fp[..., 1]) == {(12.5, 8.5)}      # green: turned 90 deg
    assert _bright_spots(fp[..., 2]) == {(12.5, 12.5)}     # blue
    # weaker (200) in red at (+-17.5, 0)
    red = fp[..., 0]
    assert red[31, 49] > 0.1 and red[32, 49] > 0.1 and red[31, 14] > 0.1


def test_normalisation_and_masks():
    fp = fingerprint(fcc_cluster(), target_atoms=None)
    assert fp.min() == 0.0 and fp.max() == pytest.approx(1.0)
    inner = ~pixel_mask(5, None).reshape(64, 64)
    assert np.all(fp[inner] == 0)
    fp_ref = fingerprint(fcc_cluster(), mask_inner_px=10, mask_outer_px=30, target_atoms=None)
    outside = ~pixel_mask(10, 30).reshape(64, 64)
    assert np.all(fp_ref[outside] == 0) and fp_ref[~outside].max() == pytest.approx(1.0)
    unmasked = fingerprint(fcc_cluster(), mask_inner_px=None, target_atoms=None)
    assert unmasked[31, 31].max() == pytest.approx(1.0)      # the direct beam dominates


def test_fingerprint_is_scale_invariant_and_uses_z_shift():
    small = fcc_cluster()
    big = small.copy()
    big.positions *= 2.7
    assert np.allclose(fingerprint(small, target_atoms=None), fingerprint(big, target_atoms=None), atol=1e-5)
    helium = fcc_cluster(symbol="He")
    lithium = fcc_cluster(symbol="Li")
    assert not np.allclose(fingerprint(helium, target_atoms=None), fingerprint(lithium, target_atoms=None))
    assert np.allclose(fingerprint(helium, target_atoms=None, z_shift=1),
                       fingerprint(lithium, target_atoms=None, z_shift=0), atol=1e-6)


def test_size_invariance_128_vs_256_atoms():
    fp256 = fingerprint(fcc_cluster((4, 4, 4)), target_atoms=None, mask_inner_px=10, mask_outer_px=30)
    fp128 = fingerprint(fcc_cluster((4, 4, 2)), target_atoms=None, mask_inner_px=10, mask_outer_px=30)
    cosine = np.sum(fp256 * fp128) / np.linalg.norm(fp256) / np.linalg.norm(fp128)
    assert cosine > 0.9
    for c in range(3):
        assert np.unravel_index(fp128[..., c].argmax(), (64, 64)) in [
            tuple(p) for p in np.argwhere(fp256[..., c] > 0.9 * fp256[..., c].max())]


def test_periodic_input_goes_through_the_papers_preprocessing():
    """paper2018: a periodic primitive cell becomes the ~250-atom conventional supercell, in any
    orientation."""
    primitive = bulk("Cu", "fcc", a=3.6)
    rotated = primitive.copy()
    rotated.rotate(37, "x", rotate_cell=True)
    rotated.rotate(-71, "z", rotate_cell=True)
    a, b = fingerprint(primitive, preprocessing="paper2018"), fingerprint(rotated, preprocessing="paper2018")
    assert np.allclose(a, b, atol=1e-4)
    assert np.allclose(a, fingerprint(fcc_cluster(), target_atoms=None), atol=1e-4)


@pytest.mark.parametrize("atoms, message", [
    (Atoms(), "no atoms"),
    (Atoms("Cu", positions=[[0, 0, 0]]), "1 atom"),
    (Atoms("Cu2", positions=[[0, 0, 0], [np.nan, 0, 0]]), "NaN"),
    (Atoms("Cu2", positions=[[0, 0, 0], [np.inf, 0, 0]]), "infinite"),
    (Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 0]]), "coincide"),
    (Atoms(numbers=[97, 97], positions=[[0, 0, 0], [1, 0, 0]]), "z_shift"),
])
def test_bad_structures_get_clear_errors(atoms, message):
    with pytest.raises(StructureError, match=message) as info:
        fingerprint(atoms, name="sample.xyz")
    assert "sample.xyz" in str(info.value)


def test_absurdly_large_cluster_is_refused_before_any_work():
    huge = Atoms(numbers=np.full(MAX_ATOMS + 1, 6), positions=np.random.default_rng(0).normal(size=(MAX_ATOMS + 1, 3)) * 50)
    with pytest.raises(StructureError, match="more than"):
        fingerprint(huge, target_atoms=None)


def test_impossible_parameters():
    with pytest.raises(ValueError, match="mask_outer_px"):
        fingerprint(fcc_cluster(), mask_inner_px=20, mask_outer_px=10, target_atoms=None)
    with pytest.raises(ValueError, match="no pixel"):
        fingerprint(fcc_cluster(), mask_inner_px=60, target_atoms=None)


def test_batch_records_failures_and_goes_on():
    good = fcc_cluster()
    batch = [good, Atoms(), good, Atoms("Cu2", positions=[[0, 0, 0], [np.nan, 0, 0]])]
    for processes in (1, 2):
        result = fingerprints(batch, processes=processes, target_atoms=None, progress=False)
        assert list(result.ok) == [0, 2]
        assert [i for i, _ in result.failed] == [1, 3]
        assert "no atoms" in result.failed[0][1] and "NaN" in result.failed[1][1]
        assert np.allclose(result.fingerprints[0], fingerprint(good, target_atoms=None))


def test_mean_nn_of_fcc_cluster_fixture():
    assert mean_nn_distance(fcc_cluster()) == pytest.approx(1.0)


def test_tensorflow_path_matches_the_numba_kernel():
    """The TensorFlow (GPU) path on this machine's CPU: same fingerprints to float32 precision."""
    pytest.importorskip("tensorflow")
    rng = np.random.default_rng(4)
    mixed = Atoms(numbers=rng.choice([8, 13, 28], size=120), positions=rng.uniform(0, 5, (120, 3)))
    batch = [fcc_cluster(), Atoms(), mixed, fcc_cluster((3, 3, 2))]
    for options in ({}, {"mask_inner_px": 10, "mask_outer_px": 30}):
        ours = fingerprints(batch, backend="numba", target_atoms=None, progress=False, **options)
        theirs = fingerprints(batch, backend="tensorflow", batch_size=2, target_atoms=None, **options)
        assert list(theirs.ok) == list(ours.ok) == [0, 2, 3]
        assert theirs.failed == ours.failed
        assert np.abs(theirs.fingerprints - ours.fingerprints).max() < 2e-5
    with pytest.raises(ValueError, match="backend"):
        fingerprints(batch, backend="cuda")


def test_the_log_intensity_scale_shows_the_superstructure_reflections_of_an_ordered_binary():
    from ase.spacegroup import crystal

    from paper_lib.diffraction import LOG_FLOOR, database_options

    # CsCl-type NaCl-pair (contrast 6/32): the (100) reflections are (f_A - f_B)^2 / (f_A + f_B)^2,
    # about 3.5 %, as bright as the (110); bcc Na has none
    def b2(symbols):
        return crystal(symbols, [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=221, cellpar=[3, 3, 3, 90, 90, 90])

    kw = dict(preprocessing="crystal_frame", target_atoms=250)
    ordered = b2(["Na", "Cl"])
    element = b2(["Na", "Na"])
    linear = fingerprint(ordered, **kw) - fingerprint(element, **kw)
    log = fingerprint(ordered, intensity="log", **kw) - fingerprint(element, intensity="log", **kw)
    assert np.abs(log).max() > 3 * np.abs(linear).max()
    assert np.abs(log).max() > 0.2
    fp = fingerprint(ordered, intensity="log", **kw)
    assert fp.min() == 0.0 and fp.max() == pytest.approx(1.0)
    # the masked centre is the floor: log(LOG_FLOOR max I), the darkest pixel of the pattern
    assert np.all(fp[~pixel_mask(5, None).reshape(64, 64)] == 0)
    # the same numbers as the transform of the linear channels
    from paper_lib.diffraction import _fingerprint_inputs, _pattern, _rotations

    positions, numbers, keep, _ = _fingerprint_inputs(ordered, 5, None, 2, 45.0, 250, "x", "crystal_frame")
    channels = np.zeros((3, 64 * 64))
    for i, r in enumerate(_rotations(45.0)):
        channels[i // 2] += _pattern(positions @ r.T, numbers, keep, np.float32)
    by_hand = np.log(channels + LOG_FLOOR * channels.max())
    by_hand = ((by_hand - by_hand.min()) / (by_hand.max() - by_hand.min())).reshape(3, 64, 64).transpose(1, 2, 0)
    assert np.allclose(fp, by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="intensity must be one of linear, log"):
        fingerprint(ordered, intensity="sqrt", **kw)
    with pytest.raises(ValueError, match="intensity must be one of"):
        fingerprints([ordered], intensity="sqrt")
    # database rows say which scale: log becomes a keyword, linear adds none (older files unchanged)
    rows = [(1, ordered, {"preprocessing": "crystal_frame", "target_atoms": 250, "intensity": "log"})]
    assert database_options(rows)["intensity"] == "log"
    assert "intensity" not in database_options([(1, ordered, {"preprocessing": "crystal_frame", "target_atoms": 250})])
    assert database_options(rows, intensity="linear").get("intensity") == "linear"
    with pytest.raises(ValueError, match="different pre-processing"):
        database_options(rows + [(2, ordered, {"preprocessing": "crystal_frame", "target_atoms": 250})])
