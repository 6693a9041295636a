"""The dataset: labels, cluster sizes, scaling, defects, reproducibility (issue: foundation)."""
import numpy as np
import pytest
from ase.build import bulk

from paper_lib import config
from paper_lib.defects import augmented_copies, displacements, variant_plan, vacancies
from paper_lib.structures import (CLASS_PROTOTYPES, CLASSES_8, PROTOTYPES, SPACEGROUPS,
                                  finite_cluster, mean_nn_distance, pristine_shard, pristine_structure,
                                  replication_for, spacegroup_number, standard_conventional_cell)

ELEMENTS = tuple(range(1, 95))


def as_crystal(cluster):
    crystal = cluster.copy()
    crystal.pbc = True
    return crystal


@pytest.mark.parametrize("name", sorted(PROTOTYPES))
def test_every_prototype_has_its_space_group_after_preprocessing(name):
    proto = PROTOTYPES[name]
    rng = np.random.default_rng(1)
    for _ in range(4):
        cell, params = proto.build("Cu", 2.5, rng)
        assert spacegroup_number(cell, 1e-5) == proto.spacegroup
        cluster = finite_cluster(cell, 250, rng)
        # the supercell, read as a crystal, keeps the space group at a tight tolerance
        assert spacegroup_number(as_crystal(cluster), 1e-4) == proto.spacegroup


@pytest.mark.parametrize("label", CLASSES_8 + ("hex/rh",))
def test_pristine_structures_of_every_class(label):
    rng = np.random.default_rng(5)
    for _ in range(3):
        atoms, record = pristine_structure(label, ELEMENTS, 250, rng)
        assert record["spacegroup"] in SPACEGROUPS[label]
        assert spacegroup_number(as_crystal(atoms), 1e-3) == record["spacegroup"]
        assert 200 <= len(atoms) <= 300                       # near 250
        assert mean_nn_distance(as_crystal(atoms)) == pytest.approx(1.0, abs=1e-9)
        assert not atoms.pbc.any()                            # a finite cluster
        assert record["label"] == ("hex/rh" if label in ("hex", "rh") else label)
        assert record["prototype"] in CLASS_PROTOTYPES[record["label8"]]


def test_free_parameters_stay_in_their_ranges():
    rng = np.random.default_rng(9)
    seen = {}
    for label in ("bct_139", "bct_141", "hex", "rh"):
        for _ in range(30):
            _, record = pristine_structure(label, ELEMENTS, 64, rng)
            seen.setdefault(record["prototype"], []).append(record)
    c139 = np.array([r["c_over_a"] for r in seen["A6_bct"]])
    assert np.all((c139 >= 0.8) & (c139 <= 1.7))
    assert np.all(np.abs(c139 - 1) > 0.05) and np.all(np.abs(c139 - np.sqrt(2)) > 0.05)
    assert all(0.5 <= r["c_over_a"] <= 0.6 for r in seen["A5_beta-Sn"])
    assert all(1.55 <= r["c_over_a"] <= 1.9 for r in seen["A3_Mg"])
    assert {"hR1_alpha-Hg", "A7_alpha-As", "hR3_alpha-Sm"} <= set(seen)
    assert all(0.22 <= r["z"] <= 0.24 for r in seen["A7_alpha-As"])


def test_standard_cell_is_triclinic_convention_and_orientation_free(rng):
    hcp = bulk("Mg", "hcp", a=3.2, c=5.2)
    a = standard_conventional_cell(hcp)
    from paper_lib.structures import random_rotation
    b = standard_conventional_cell(random_rotation(hcp, rng))
    assert np.allclose(a.cell.array, b.cell.array, atol=1e-8)
    assert abs(a.cell[0, 1]) < 1e-12 and abs(a.cell[0, 2]) < 1e-12 and abs(a.cell[1, 2]) < 1e-12


def test_replication_grows_the_shortest_extent_toward_the_target():
    fcc = standard_conventional_cell(bulk("Cu", "fcc", a=3.6))
    assert len(fcc) == 4
    assert replication_for(fcc, 250) == (4, 4, 4)          # 256 is closer to 250 than 192
    tall = standard_conventional_cell(bulk("Mg", "hcp", a=3.2, c=5.2))
    reps = replication_for(tall, 250)
    extents = np.array(reps) * tall.cell.lengths()
    assert extents.max() / extents.min() < 2.0


def test_vacancy_fraction_is_exact_and_without_replacement(rng):
    atoms, _ = pristine_structure("fcc", ELEMENTS, 250, rng)
    for eta in (1, 10, 25, 50, 70):
        defective = vacancies(atoms, eta, rng)
        assert len(atoms) - len(defective) == round(eta / 100 * len(atoms))
        kept = {tuple(p) for p in np.round(defective.positions, 9)}
        assert len(kept) == len(defective)                 # no atom twice
    with pytest.raises(ValueError):
        vacancies(atoms, 100, rng)


def test_displacement_sigma_is_delta_times_nn_distance(rng):
    atoms, _ = pristine_structure("bcc", ELEMENTS, 250, rng)
    moves = []
    for _ in range(40):
        moves.append(displacements(atoms, 4.0, rng, nn_distance=1.0).positions - atoms.positions)
    moves = np.concatenate(moves).ravel()
    # sigma = 0.04 Angstrom per component; 30,000 samples: standard error of the std ~ 0.4 %
    assert np.std(moves) == pytest.approx(0.04, rel=0.03)
    assert abs(np.mean(moves)) < 0.002
    with pytest.raises(ValueError):
        displacements(atoms, -1.0, rng)


def test_augmented_copies_are_seeded_bounded_and_their_own_stream(rng):
    atoms, _ = pristine_structure("fcc", ELEMENTS, 250, rng)
    copies = list(augmented_copies(atoms, sid=5, seed=1, copies=20, max_displacement=10.0))
    again = list(augmented_copies(atoms, sid=5, seed=1, copies=20, max_displacement=10.0))
    levels = [level for level, _ in copies]
    assert all(0 <= level <= 10 for level in levels) and np.std(levels) > 1.5      # spread over the range
    assert all(np.array_equal(a.positions, b.positions) for (_, a), (_, b) in zip(copies, again))
    other = list(augmented_copies(atoms, sid=6, seed=1, copies=1))[0][1]
    assert not np.array_equal(other.positions, copies[0][1].positions)
    assert len(copies[0][1]) == len(atoms)                                     # displacements only
    with pytest.raises(ValueError):
        list(augmented_copies(atoms, sid=5, seed=1, copies=0))
    # with vacancies too: the same displacements, then a share of atoms (0-25 %) removed
    holed = list(augmented_copies(atoms, sid=5, seed=1, copies=20, max_displacement=10.0, max_vacancies=25.0))
    etas = [copy.info["vacancy_level"] for _, copy in holed]
    assert [level for level, _ in holed] == levels and all(0 <= eta <= 25 for eta in etas) and np.std(etas) > 3
    for (_, moved), (_, copy), eta in zip(copies, holed, etas):
        assert len(copy) == len(atoms) - int(round(eta / 100 * len(atoms))) or abs(len(copy) - (1 - eta / 100) * len(atoms)) <= 1
        kept = {tuple(np.round(x, 9)) for x in moved.positions}
        assert all(tuple(np.round(x, 9)) in kept for x in copy.positions)       # a subset of the displaced copy
    with pytest.raises(ValueError, match="vacancy level"):
        list(augmented_copies(atoms, sid=5, seed=1, max_vacancies=100))


def test_generation_is_reproducible_and_independent_of_sharding(tiny_preset_dict):
    preset = config.validate(tiny_preset_dict)
    whole = {sid: atoms for sid, atoms, _ in pristine_shard(preset)}
    again = {sid: atoms for sid, atoms, _ in pristine_shard(preset)}
    sharded = {sid: atoms for k in range(3) for sid, atoms, _ in pristine_shard(preset, k, 3)}
    assert sorted(whole) == sorted(sharded) == list(range(preset.n_pristine))
    for sid in whole:
        assert np.array_equal(whole[sid].positions, again[sid].positions)
        assert np.array_equal(whole[sid].positions, sharded[sid].positions)
    other = config.validate({**tiny_preset_dict, "seed": 8})
    assert not np.array_equal(next(pristine_shard(other))[1].positions, whole[0].positions)


def test_class_counts_and_variant_plan(tiny_preset_dict):
    preset = config.validate(tiny_preset_dict)
    labels = [record["label"] for _, _, record in pristine_shard(preset)]
    assert {label: labels.count(label) for label in set(labels)} == preset.counts
    plan = variant_plan(preset)
    assert set(plan) == {("vacancies", 25.0), ("displacements", 4.0)}
    assert all(len(v) == round(0.5 * preset.n_pristine) for v in plan.values())


def test_eight_classes_keep_hex_and_rh_apart(tiny_preset_dict):
    counts = {"bcc": 0, "bct_139": 0, "bct_141": 0, "diam": 0, "fcc": 0, "hex": 2, "rh": 2, "sc": 0}
    preset = config.validate({**tiny_preset_dict, "split_hex_rh": True,
                              "pristine": {**tiny_preset_dict["pristine"], "counts": counts}})
    records = [record for _, _, record in pristine_shard(preset)]
    assert [r["label"] for r in records] == ["hex", "hex", "rh", "rh"]
    assert [r["spacegroup"] for r in records] == [194, 194, 166, 166]


def test_tiny_and_flat_periodic_cells_are_refused():
    """Found by the property test: a periodic cell with a 1e-281 A edge reached ASE's rank assertion
    inside the paper's pre-processing; a flat one must not reach spglib either."""
    import numpy as np
    import pytest
    from ase import Atoms

    from paper_lib.diffraction import fingerprint
    from paper_lib.structures import StructureError

    for cell, message in (([[0, 0, 1.0], [0, 7.58e-281, 0], [1.0, 0, 0]], "cell edge"),
                          ([[5.0, 0, 0], [0, 5.0, 0], [2.5, 2.5, 1e-9]], "nearly\\) flat")):
        atoms = Atoms("Fe8", positions=np.zeros((8, 3)), pbc=True)
        atoms.cell.array[:] = np.array(cell)
        for method in ("paper2018", "crystal_frame"):
            with pytest.raises(StructureError, match=message):
                fingerprint(atoms, preprocessing=method, target_atoms=2)


def test_the_extended_class_set_builds_each_prototype_as_its_own_class(tiny_preset_dict):
    """A tiny extended preset: every pristine structure is a unit-neighbour-distance cluster of its
    prototype, its record names the prototype, its space group and its elements (two distinct ones for
    a binary), and the same preset gives the same structures."""
    from paper_lib.prototypes import EXTENDED, EXTENDED_CLASSES
    from paper_lib.structures import nearest_neighbour_distances

    raw = {**tiny_preset_dict, "classes": "extended", "preprocessing": "crystal_frame_wide",
           "pristine": {**tiny_preset_dict["pristine"], "counts": {name: 1 for name in EXTENDED_CLASSES}}}
    preset = config.validate(raw)
    built = list(pristine_shard(preset))
    assert [record["label"] for _, _, record in built] == list(EXTENDED_CLASSES)
    for sid, atoms, record in built:
        proto = EXTENDED[record["prototype"]]
        assert record["spacegroup"] == proto.spacegroup and record["preprocessing"] == "crystal_frame_wide"
        species = record["element"].split("-")
        assert len(species) == proto.species and len(set(species)) == proto.species
        assert (record["z_b"] > 0) == (proto.species == 2) and record["z_a"] != record["z_b"]
        assert sorted(set(atoms.get_chemical_symbols())) == sorted(species)
        assert not atoms.pbc.any() and len(atoms) >= 250
        assert nearest_neighbour_distances(atoms).min() == pytest.approx(1.0, abs=1e-6)
    again = list(pristine_shard(preset, 1, 2))
    assert all(np.array_equal(atoms.positions, built[sid][1].positions) for sid, atoms, _ in again)
