"""The invariance benchmark's cases (benchmarks/invariance.py) are the same crystal in every form, and
the shipped CNN names a fast subset of them right."""
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase.neighborlist import neighbor_list
from scipy.spatial.distance import pdist

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from invariance import (CLUSTER_ATOMS, CLUSTER_FORMS, ETAS, FORMS, PERIODIC_ATOMS, PERIODIC_FORMS,  # noqa: E402
                        SIGMAS, cases, ptm_gradeable, ptm_input, ptm_reference)
from paper_lib.structures import CLASSES_7, SPACEGROUPS, spacegroup_number, standard_conventional_cell  # noqa: E402


@pytest.fixture(scope="module")
def everything():
    """The benchmark's default case set (336 cases), by (class, prototype, form, sigma, eta)."""
    return {(r["label"], r["prototype"], r["form"], r["sigma"], r["eta"]): r for r in cases()}


@pytest.fixture(scope="module")
def clean():
    """The noise-free, vacancy-free case of every crystal of the default set (the rhombohedral
    hex/rh crystal has none there: the checkerboard gives sigma = eta = 0 to the hcp one), by
    (class, prototype, form)."""
    records = [*cases(sigmas=[0], etas=[0]), *cases(classes=["hex/rh"], sigmas=[0], etas=[0], hex_rh="rh")]
    return {(r["label"], r["prototype"], r["form"]): r for r in records}


def pristine(clean, form):
    """The noise-free, vacancy-free case of every crystal in ``form``."""
    return [r for (_, _, f), r in clean.items() if f == form]


def partner(clean, record, form):
    return clean[(record["label"], record["prototype"], form)]


def test_the_default_set_covers_the_grid(everything):
    records = list(everything.values())
    assert len(records) == len(CLASSES_7) * len(FORMS) * len(SIGMAS) * len(ETAS) == 336
    assert Counter(r["label"] for r in records) == {c: 48 for c in CLASSES_7}
    hex_rh = [r for r in records if r["label"] == "hex/rh"]
    for form in FORMS:      # the merged class holds an hcp and a rhombohedral crystal in every form
        assert Counter(r["label8"] for r in hex_rh if r["form"] == form) == {"hex": 4, "rh": 4}
    for r in records:
        assert r["spacegroup"] in SPACEGROUPS[r["label"]]


def test_the_clean_cases_are_the_crystals_of_the_default_set(everything, clean):
    """Same element, prototype, d_nn and (without vacancies) atom count as the default set's cases."""
    assert len(clean) == len(FORMS) * (len(CLASSES_7) + 1)
    for r in everything.values():
        c = clean[(r["label"], r["prototype"], r["form"])]
        assert (c["element"], c["d_nn"], c["label8"]) == (r["element"], r["d_nn"], r["label8"]), r["case"]
        if r["eta"] == 0:
            assert c["n_atoms"] == r["n_atoms"], r["case"]


def n_before_vacancies(everything, record) -> int:
    """Atoms of the same crystal in the same form without vacancies (noise does not change the count)."""
    return next(len(r["atoms"]) for (label, proto, form, _, eta), r in everything.items()
                if (label, proto, form) == (record["label"], record["prototype"], record["form"]) and eta == 0)


def test_atom_counts_pbc_and_vacancies(everything):
    for r in everything.values():
        atoms = r["atoms"]
        if r["form"] in PERIODIC_FORMS:
            assert atoms.pbc.all() and atoms.cell.rank == 3, r["case"]
            low, high = PERIODIC_ATOMS
        else:
            assert not atoms.pbc.any() and atoms.cell.rank == 0, r["case"]
            low, high = CLUSTER_ATOMS
        n_before = n_before_vacancies(everything, r)
        assert low <= n_before <= high, (r["case"], n_before)
        assert r["n_atoms"] == len(atoms) == n_before - int(round(r["eta"] / 100 * n_before)), r["case"]


def test_periodic_forms_have_the_density_of_the_conventional_cell(everything, clean):
    """Atoms per volume (1/Angstrom^3) of every periodic case equals the conventional cell's times the
    share of atoms left by the vacancies (noise moves atoms but changes neither their number nor the cell)."""
    for r in everything.values():
        if r["form"] not in PERIODIC_FORMS:
            continue
        reference = next(c["atoms"] for c in pristine(clean, "conventional_supercell")
                         if c["prototype"] == r["prototype"] and c["label"] == r["label"])
        kept = len(r["atoms"]) / n_before_vacancies(everything, r)
        assert len(r["atoms"]) / r["atoms"].get_volume() == pytest.approx(
            kept * len(reference) / reference.get_volume(), rel=1e-9), r["case"]


def test_periodic_forms_are_the_same_crystal(clean):
    """Noise-free periodic forms show the prototype's space group at 1e-5 Angstrom and reduce to the
    same standard conventional cell (lengths in Angstrom, angles in degrees)."""
    for form in PERIODIC_FORMS:
        for r in pristine(clean, form):
            assert spacegroup_number(r["atoms"], symprec=1e-5) == r["spacegroup"], r["case"]
            conventional = partner(clean, r, "conventional_supercell")["atoms"]
            a = standard_conventional_cell(r["atoms"])
            b = standard_conventional_cell(conventional)
            assert len(a) == len(b), r["case"]
            assert a.cell.cellpar() == pytest.approx(b.cell.cellpar(), abs=1e-6), r["case"]


def test_sheared_cells_are_not_reduced(clean):
    for r in pristine(clean, "sheared_cell"):
        shear = np.array(r["geometry"]["shear"])
        assert round(abs(np.linalg.det(shear))) == 1 and not np.array_equal(shear, np.eye(3, dtype=int))


def test_rotated_forms_keep_every_distance(clean):
    """A rotated form has the same sorted interatomic distances (Angstrom) as its unrotated partner,
    and it is really rotated."""
    for r in pristine(clean, "rotated_periodic"):
        original = partner(clean, r, "conventional_supercell")["atoms"]
        cutoff = 1.6 * r["d_nn"]
        assert np.allclose(np.sort(neighbor_list("d", r["atoms"], cutoff)),
                           np.sort(neighbor_list("d", original, cutoff)), atol=1e-8), r["case"]
        assert not np.allclose(r["atoms"].cell.array, original.cell.array), r["case"]
    for r in pristine(clean, "rotated_cluster"):
        original = partner(clean, r, "aligned_cluster")["atoms"]
        assert np.allclose(np.sort(pdist(r["atoms"].positions)), np.sort(pdist(original.positions)), atol=1e-8)
        assert not np.allclose(r["atoms"].positions, original.positions), r["case"]


def test_clusters_are_spheres_cut_in_the_conventional_orientation(clean):
    """Centred on an atom, radius (Angstrom) that of a sphere holding the atoms at the crystal's
    density, shortest distance the crystal's, and the conventional cell vectors (standard orientation)
    are translations of the cluster's inner part."""
    from scipy.spatial import cKDTree

    for r in pristine(clean, "aligned_cluster"):
        atoms = r["atoms"]
        reference = partner(clean, r, "conventional_supercell")["atoms"]
        volume_per_atom = reference.get_volume() / len(reference)
        radius = np.linalg.norm(atoms.positions, axis=1)
        assert radius.min() == 0, r["case"]
        assert radius.max() == pytest.approx((3 * len(atoms) * volume_per_atom / (4 * np.pi)) ** (1 / 3),
                                             rel=0.15), r["case"]
        assert pdist(atoms.positions).min() == pytest.approx(r["d_min"], rel=1e-9), r["case"]
        cell = reference.cell.array / np.array(partner(clean, r, "conventional_supercell")["geometry"]["repeats"])[:, None]
        assert np.allclose(cell[0, 1:], 0) and np.allclose(cell[2, :2], 0), r["case"]   # a along x, c along z
        tree = cKDTree(atoms.positions)
        short = [v for v in cell if np.linalg.norm(v) < 0.6 * radius.max()]       # hR3's c is too long
        assert len(short) >= 2, r["case"]
        for vector in short:
            inner = atoms.positions[radius < radius.max() - np.linalg.norm(vector) - 1e-6]
            distance, _ = tree.query(inner + vector)
            assert distance.max() < 1e-6, (r["case"], vector)


def test_thermal_noise_has_the_requested_size(everything, clean):
    """Displacements from the noise-free case, in units of d_nn, pooled over all classes and forms:
    mean 0, standard deviation sigma/100 per Cartesian component."""
    for sigma in SIGMAS[1:]:
        scaled = np.concatenate([((r["atoms"].positions - partner(clean, r, r["form"])["atoms"].positions)
                                  / r["d_nn"]).ravel()
                                 for (_, _, _, s, eta), r in everything.items() if s == sigma and eta == 0])
        assert len(scaled) > 10_000
        assert abs(scaled.mean()) < 5 * sigma / 100 / np.sqrt(len(scaled)), sigma
        assert scaled.std() == pytest.approx(sigma / 100, rel=0.03), sigma


def test_a_subset_gives_the_same_structures(everything):
    """A subset of the grid holds the very structures of the full set; another seed other ones."""
    (r,) = cases(classes=["fcc"], forms=["rotated_cluster"], sigmas=[5], etas=[10])
    full = everything[("fcc", r["prototype"], "rotated_cluster", 5.0, 10.0)]
    assert np.array_equal(r["atoms"].positions, full["atoms"].positions)
    for r in cases(classes=["bct_141"], forms=["sheared_cell"], sigmas=[8], etas=[0, 10]):
        assert np.array_equal(r["atoms"].positions,
                              everything[("bct_141", r["prototype"], "sheared_cell", 8.0, r["eta"])]["atoms"].positions)
    (other,) = cases(seed=1, classes=["fcc"], forms=["rotated_cluster"], sigmas=[5], etas=[10])
    assert other["atoms"].positions.shape != full["atoms"].positions.shape or \
        not np.allclose(other["atoms"].positions, full["atoms"].positions)


def test_ptm_reference_on_periodic_crystals_and_clusters(everything):
    pytest.importorskip("ovito")
    for form in ("conventional_supercell", "sheared_cell", "aligned_cluster", "rotated_cluster"):
        r = everything[("fcc", "A1_Cu", form, 0.0, 0.0)]
        box = ptm_input(r["atoms"])
        if form in CLUSTER_FORMS:
            assert not box.pbc.any() and box.cell.rank == 3
            assert (box.get_scaled_positions(wrap=False) > 0).all() and (box.get_scaled_positions(wrap=False) < 1).all()
        label, share, error = ptm_reference(r["atoms"])
        assert error is None and label == "fcc" and share > 0.3, (form, label, share)
    assert ptm_gradeable("hex") and not any(map(ptm_gradeable, ("bct_139", "bct_141", "rh")))


def test_the_cnn_names_the_fast_subset():
    """fcc, bcc, diam as primitive and conventional supercells and rotated clusters, sigma 0 and 5 %,
    no vacancies: 18 structures, all must be right."""
    pytest.importorskip("tensorflow")
    from paper_lib.model import classify, load_model

    records = list(cases(classes=["fcc", "bcc", "diam"],
                         forms=["primitive_supercell", "conventional_supercell", "rotated_cluster"],
                         sigmas=[0, 5], etas=[0]))
    assert len(records) == 18
    results = classify([r["atoms"] for r in records], load_model(), processes=2)
    wrong = {r["case"]: (res.label or f"error: {res.error}", round(res.confidence, 3))
             for r, res in zip(records, results) if res.label != r["label"]}
    assert not wrong, (f"the CNN is not invariant to how the crystal is written down: {len(wrong)}/18 "
                       f"wrong (case: predicted, probability): {wrong}")
