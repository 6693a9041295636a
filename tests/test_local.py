"""Local structure maps (``paper_lib.local``, ``classify-local``): per-atom labels of samples with
several grains, periodic or not; bad samples and parameters refused by name; interrupted runs resume."""
import json

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write
from conftest import run_cli

from paper_lib import local
from paper_lib.local import LocalError, local_labels
from paper_lib.model import load_model
from paper_lib.synthetic import apt_cluster, bicrystal as make_bicrystal, boundary_distance


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def bicrystal():
    """Two periodic slab grains 40 A thick, fcc Cu and bcc Fe, in random orientations (about 6,800
    atoms; boundaries at x = 0 and x = 40 A)."""
    return make_bicrystal(("fcc", "bcc"), thickness=40.0, width=32.0, seed=3)


def interior_accuracy(atoms, result, truth, depth=6.0):
    inside = (atoms.arrays["truth"] == truth) & (atoms.arrays["boundary_distance"] >= depth)
    assert inside.sum() > 500
    return float(np.mean(result.label[inside] == truth))


def test_a_bicrystal_gives_both_labels(bicrystal, model):
    # grains of 40 x 32 x 32 A between boundaries and seams are few windows wide: refined
    result = local_labels(bicrystal, model=model, processes=2, refine=True)
    assert result.label.shape == result.probability.shape == result.uncertainty.shape == (len(bicrystal),)
    assert result.probabilities.shape == (len(bicrystal), len(model.classes))
    assert interior_accuracy(bicrystal, result, "fcc") >= 0.9
    assert interior_accuracy(bicrystal, result, "bcc") >= 0.9
    fractions = result.fractions()
    assert fractions["fcc"] > 0.2 and fractions["bcc"] > 0.2       # the rest: unknown near the boundaries
    unknown = result.label == "unknown"
    assert np.median(bicrystal.arrays["boundary_distance"][unknown]) < result.window
    assert abs(sum(fractions.values()) - 1) < 1e-9
    inside = bicrystal.arrays["boundary_distance"] >= 6
    right = result.label[inside] == bicrystal.arrays["truth"][inside]
    assert np.median(result.probability[inside][right]) > 0.9
    assert np.all((result.uncertainty >= 0) & (result.uncertainty <= 1))


def test_a_non_periodic_sample_and_an_amorphous_region(model):
    rng = np.random.default_rng(0)
    crystal = apt_cluster("bcc", n_atoms=5000, missing=0.0, noise=0.0, seed=4)          # a finite bcc sphere
    radius = np.linalg.norm(crystal.positions - crystal.positions.mean(axis=0), axis=1).max()
    liquid = apt_cluster("amorphous", n_atoms=5000, missing=0.0, seed=5)                 # a melted fcc sphere
    liquid.positions += [2.6 * radius, 0, 0]
    sample = crystal + liquid
    result = local_labels(sample, model=model, processes=2)
    n = len(crystal)
    core = np.linalg.norm(crystal.positions - crystal.positions.mean(axis=0), axis=1) < radius - 8
    assert np.mean(result.label[:n][core] == "bcc") >= 0.9
    liquid_core = np.linalg.norm(liquid.positions - liquid.positions.mean(axis=0), axis=1) < radius - 8
    assert np.mean(result.label[n:][liquid_core] == "unknown") >= 0.9
    del rng


def test_apt_like_cluster_whole(model):
    from paper_lib.model import classify

    clusters = [apt_cluster(kind, n_atoms=1600, missing=0.5, noise=0.05, seed=s)
                for kind in ("fcc", "bcc", "hcp", "diam") for s in range(2)]
    labels = [r.label for r in classify(clusters, model)]
    truth = [c.info["truth"] for c in clusters]
    right = sum(a == b for a, b in zip(labels, truth))
    assert right >= 7, list(zip(truth, labels))
    assert all(a == b or a == "unknown" for a, b in zip(labels, truth)), list(zip(truth, labels))   # never wrong


def test_a_window_with_too_few_atoms_is_unknown_not_a_crash(model):
    dense = apt_cluster("fcc", n_atoms=3000, missing=0.0, noise=0.0, seed=1)
    stray = Atoms("Cu4", positions=[[60, 0, 0], [60, 2.6, 0], [62, 0, 0], [80, 0, 0]])
    result = local_labels(dense + stray, model=model)
    assert list(result.label[-4:]) == ["unknown"] * 4
    assert (result.window_atoms < local.MIN_WINDOW_ATOMS).any()


@pytest.mark.parametrize("window, stride, message", [
    (0.0, 5.0, "window radius must be a positive length"),
    (-3.0, 5.0, "window radius must be a positive length"),
    (float("nan"), 5.0, "window radius must be a positive length"),
    (9.0, 0.0, "stride must be a positive length"),
    (9.0, float("inf"), "stride must be a positive length"),
])
def test_bad_window_or_stride_is_refused_by_name(bicrystal, model, window, stride, message):
    with pytest.raises(LocalError, match=f"grains.xyz: the {message}"):
        local_labels(bicrystal, window, stride, model, name="grains.xyz")


def test_a_sample_smaller_than_one_window_is_refused(model):
    from ase.build import bulk

    small = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3)              # 10.8 A thick
    with pytest.raises(LocalError, match="Cu.cif: the sample is smaller than one window"):
        local_labels(small, 9.0, 5.0, model, name="Cu.cif")
    small.pbc = False
    with pytest.raises(LocalError, match="smaller than one window"):
        local_labels(small, 9.0, 5.0, model)


def test_refinement_looks_again_exactly_where_neighbours_disagree(bicrystal, model):
    result = local_labels(bicrystal, model=model, processes=2, refine=True)
    grid = local.window_grid(bicrystal, result.stride)
    coarse = np.prod(grid.shape)
    _, codes = np.unique(result.window_label[:coarse], return_inverse=True)
    cells = local.disputed(codes.reshape(grid.shape), periodic=True)
    assert 0 < cells.sum() < coarse
    assert len(result.centres) == coarse + 8 * cells.sum()
    fine = result.centres[coarse:].reshape(-1, 8, 3).mean(axis=1)          # each octet around its cell
    np.testing.assert_allclose(fine, grid.centres()[cells.ravel()], atol=1e-9)


def test_disputed_cells_on_a_small_grid():
    codes = np.zeros((4, 1, 1), dtype=int)
    codes[2] = 1
    assert local.disputed(codes, periodic=False).ravel().tolist() == [False, True, True, True]
    codes = np.zeros((4, 1, 1), dtype=int)
    codes[0] = 1
    assert local.disputed(codes, periodic=True).ravel().tolist() == [True, True, False, True]
    assert local.disputed(codes, periodic=False).ravel().tolist() == [True, True, False, False]


def test_boundary_distance_of_two_grains_is_the_bisector_distance():
    seeds = np.array([[2.0, 5.0, 5.0], [8.0, 5.0, 5.0]])
    points = np.array([[3.0, 5.0, 5.0], [5.0, 1.0, 1.0], [9.5, 5.0, 5.0]])
    distance = boundary_distance(points, np.array([0, 0, 1]), seeds, box=10.0)
    # planes at x = 5 and (periodic images of seed 0 at x = 12) x = 10; own images 10 A away in y, z
    np.testing.assert_allclose(distance, [2.0, 0.0, 0.5])


def test_resume_after_an_interruption_gives_the_same_answer(bicrystal, model, tmp_path, monkeypatch):
    checkpoint = tmp_path / "grains.extxyz.partial.npz"
    whole = local_labels(bicrystal, 9.0, 9.0, model)
    monkeypatch.setattr(local, "CHECKPOINT_EVERY", 8)
    from paper_lib import model as model_module

    original = model_module.classify_iter

    def interrupted(items, *args, **kwargs):
        for n, result in enumerate(original(items, *args, **kwargs)):
            if n == 20:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(model_module, "classify_iter", interrupted)
    with pytest.raises(KeyboardInterrupt):
        local_labels(bicrystal, 9.0, 9.0, model, checkpoint=checkpoint)
    assert checkpoint.exists()
    seen = []

    def counting(items, *args, **kwargs):
        for result in original(items, *args, **kwargs):
            seen.append(result.index)
            yield result

    monkeypatch.setattr(model_module, "classify_iter", counting)
    resumed = local_labels(bicrystal, 9.0, 9.0, model, checkpoint=checkpoint)
    assert seen and min(seen) == 16                              # two checkpoints of 8 were kept
    assert not checkpoint.exists()
    np.testing.assert_array_equal(resumed.label, whole.label)
    np.testing.assert_allclose(resumed.uncertainty, whole.uncertainty, atol=1e-6)


def _lammps_dump(atoms, path):
    """A LAMMPS text dump of an orthogonal periodic box (type 1 for every atom)."""
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(len(atoms)), "ITEM: BOX BOUNDS pp pp pp"]
    lines += [f"0 {atoms.cell[i, i]:.6f}" for i in range(3)]
    lines.append("ITEM: ATOMS id type x y z")
    lines += [f"{i + 1} 1 {x:.6f} {y:.6f} {z:.6f}" for i, (x, y, z) in enumerate(atoms.positions)]
    path.write_text("\n".join(lines) + "\n")


def test_cli_writes_extended_xyz_with_per_atom_labels(bicrystal, tmp_path):
    sample = tmp_path / "grains.dump"
    _lammps_dump(bicrystal, sample)
    out = tmp_path / "labelled.extxyz"
    result = run_cli("classify-local", sample, "--format", "lammps-dump-text", "--out", out, "--json", "--jobs", "2",
                  "--refine")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["atoms"] == len(bicrystal) and summary["windows"] > 0
    labelled = read(out)
    assert len(labelled) == len(bicrystal)
    assert {"label", "probability", "uncertainty"} <= set(labelled.arrays)
    # the dump's atoms are type 1 (H): the labels come from the geometry alone
    shares = {k for k, v in summary["fractions"].items() if v > 0.05}
    assert shares <= {"fcc", "bcc", "unknown"}, summary["fractions"]
    assert summary["fractions"]["fcc"] > 0.2 and summary["fractions"]["bcc"] > 0.2, summary["fractions"]
    assert not list(tmp_path.glob("*.partial.npz")) and not list(tmp_path.glob(".*.part"))


def test_cli_bad_sample_names_the_file_and_writes_nothing(tmp_path):
    from ase.build import bulk

    small = tmp_path / "tiny.extxyz"
    write(small, bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2))
    out = tmp_path / "out.extxyz"
    result = run_cli("classify-local", small, "--out", out)
    assert result.returncode == 1
    assert f"{small} frame 0: the sample is smaller than one window" in result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part*"))
    result = run_cli("classify-local", small, "--out", out, "--window", "-1", "--stride", "3")
    assert result.returncode == 1 and "window radius must be a positive length" in result.stderr
    assert not out.exists()
