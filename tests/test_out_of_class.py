"""The held-out set of out-of-class structures: real prototypes, random crystals, amorphous boxes."""
import numpy as np
import pytest
import spglib

from paper_lib import out_of_class as ooc
from paper_lib.structures import _quiet_spglib, mean_nn_distance, nearest_neighbour_distances, spacegroup_number

CLASS_SGS = {221, 225, 229, 139, 141, 227, 194, 166}


def primitive_size(atoms, symprec=1e-3):
    with _quiet_spglib():
        dataset = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                              symprec=symprec)
    return len(set(np.asarray(dataset.mapping_to_primitive).tolist()))


def same_structures(a, b):
    return (len(a) == len(b) and all(
        len(x) == len(y) and np.array_equal(x.numbers, y.numbers) and np.allclose(x.positions, y.positions)
        and np.allclose(x.cell.array, y.cell.array) and ix == iy for (x, ix), (y, iy) in zip(a, b)))


def test_the_excluded_space_groups_are_the_seven_classes():
    assert ooc.CLASS_SPACEGROUPS == CLASS_SGS
    assert not {p.spacegroup for p in ooc.PROTOTYPES.values()} & CLASS_SGS


@pytest.mark.parametrize("name", sorted(ooc.PROTOTYPES))
def test_prototype_has_its_space_group_sites_and_a_sane_neighbour_distance(name):
    proto = ooc.PROTOTYPES[name]
    cell, _ = ooc.prototype_cell(name)                      # the published data
    assert spacegroup_number(cell, 1e-3) == proto.spacegroup
    assert primitive_size(cell) == proto.sites_per_primitive
    nn = nearest_neighbour_distances(cell)
    assert 2.0 <= nn.min() and nn.max() <= 3.6
    rng = np.random.default_rng(3)
    for _ in range(3):                                      # jittered, with every allowed element
        for symbol in proto.elements:
            cell, params = ooc.prototype_cell(name, symbol=symbol, rng=rng)
            assert spacegroup_number(cell, 1e-3) == proto.spacegroup
            assert params["element"] == symbol
            nn = nearest_neighbour_distances(cell)
            assert 2.0 <= nn.min() and nn.max() <= 3.6


def test_the_splits_share_no_prototype_and_no_structure_type():
    calibration, test = set(ooc.SPLITS["calibration"]), set(ooc.SPLITS["test"])
    assert not calibration & test
    assert calibration | test == set(ooc.PROTOTYPES)
    def structure_type(name):                  # Strukturbericht designation (A8 is Se and Te)
        return name.split("_")[0]
    assert not {structure_type(n) for n in calibration} & {structure_type(n) for n in test}
    for names in (calibration, test):          # few-site and many-site prototypes in each
        sizes = [ooc.PROTOTYPES[n].sites_per_primitive for n in names]
        assert min(sizes) == 1 and any(s == 2 for s in sizes) and max(sizes) >= 8
    assert set(ooc.AMORPHOUS_KINDS["calibration"]) != set(ooc.AMORPHOUS_KINDS["test"])


@pytest.mark.parametrize("split", sorted(ooc.SPLITS))
def test_pristine_structures_show_no_class_space_group(split):
    rng = np.random.default_rng(11)
    made = [ooc.prototype_structure(name, split, rng, noise=0.0, vacancy_fraction=0.0)
            for name in ooc.SPLITS[split]]
    made += [ooc.random_structure(split, rng, noise=0.0, vacancy_fraction=0.0) for _ in range(4)]
    made += [ooc.amorphous_structure(kind, split, rng, noise=0.0, vacancy_fraction=0.0)
             for kind in ooc.AMORPHOUS_KINDS[split]]
    for atoms, info in made:
        assert atoms.pbc.all() and 250 <= len(atoms) <= 700, info["name"]
        sg = spacegroup_number(atoms, 1e-3)
        assert sg not in CLASS_SGS, info["name"]
        if info["kind"] == "prototype":          # rotated supercells keep the prototype's group
            assert sg == info["spacegroup"]
        if info["kind"] == "amorphous":
            assert sg == 1


def test_held_out_set_is_deterministic_and_depends_on_the_seed():
    first = ooc.held_out_set("calibration", 2, 0)
    assert same_structures(first, ooc.held_out_set("calibration", 2, 0))
    other = ooc.held_out_set("calibration", 2, 1)
    assert len(other) == len(first)
    assert not any(len(x) == len(y) and np.allclose(x.positions, y.positions)
                   for (x, _), (y, _) in zip(first, other))


def test_held_out_set_records():
    for split in ooc.SPLITS:
        structures = ooc.held_out_set(split, 2, 5)
        assert len(structures) == 2 * (len(ooc.SPLITS[split]) + 2)
        kinds = [info["kind"] for _, info in structures]
        assert kinds.count("random") == 2 and kinds.count("amorphous") == 2
        for atoms, info in structures:
            assert set(info) >= {"name", "kind", "split", "spacegroup", "sites_per_primitive", "noise",
                                 "vacancies"}
            assert info["split"] == split and info["noise"] in ooc.NOISE_LEVELS
            assert info["vacancies"] in ooc.VACANCY_LEVELS
            assert 200 <= len(atoms) <= 700 and atoms.pbc.all()
            if info["kind"] == "prototype":
                assert info["name"] in ooc.SPLITS[split]
                assert info["spacegroup"] == ooc.PROTOTYPES[info["name"]].spacegroup
            elif info["kind"] == "random":
                assert info["spacegroup"] not in CLASS_SGS and 1 <= info["sites_per_primitive"] <= 4
            else:
                assert info["spacegroup"] is None and info["name"] in ooc.AMORPHOUS_KINDS[split]
    with pytest.raises(ValueError):
        ooc.held_out_set("train", 1, 0)


def test_the_splits_draw_different_random_crystals():
    cal = [a for a, info in ooc.held_out_set("calibration", 3, 0) if info["kind"] != "prototype"]
    test = [a for a, info in ooc.held_out_set("test", 3, 0) if info["kind"] != "prototype"]
    assert not any(len(x) == len(y) and np.allclose(x.positions, y.positions) for x in cal for y in test)


def test_random_crystals_respect_the_minimum_distance():
    rng = np.random.default_rng(21)
    for _ in range(25):
        cell, record = ooc.random_crystal(rng)
        d = nearest_neighbour_distances(cell)
        assert d.min() >= record["min_distance"] - 1e-9
        assert 1 <= len(cell) <= 4
        assert record["spacegroup"] not in CLASS_SGS and spacegroup_number(cell, 1e-3) not in CLASS_SGS
    atoms, info = ooc.random_structure("test", rng, noise=0.0, vacancy_fraction=0.1)
    assert nearest_neighbour_distances(atoms).min() >= info["min_distance"] - 1e-9


def test_amorphous_boxes_respect_the_hard_core():
    rng = np.random.default_rng(8)
    for n in (250, 700):
        box = ooc.liquid_box(rng, n, "Cu", 2.6)
        assert len(box) == n
        assert nearest_neighbour_distances(box).min() >= ooc.LIQUID_HARD_CORE * 2.6 - 1e-9
        density = n / box.get_volume() * 2.6 ** 3
        assert ooc.LIQUID_DENSITY[0] <= density <= ooc.LIQUID_DENSITY[1]
    atoms, info = ooc.amorphous_structure("liquid", "calibration", rng, noise=0.0, vacancy_fraction=0.0)
    assert nearest_neighbour_distances(atoms).min() >= info["min_distance"] - 1e-9


def test_melted_crystals_are_displaced_by_a_third_of_the_neighbour_distance():
    rng = np.random.default_rng(4)
    for lattice in ("fcc", "bcc"):
        atoms = ooc.melted_crystal(rng, lattice, "Al", 2.8, sigma=0.3)
        assert 250 <= len(atoms) <= 700
        assert spacegroup_number(atoms, 1e-3) == 1


def test_user_structure_rotates_and_removes_atoms():
    rng = np.random.default_rng(2)
    cell, _ = ooc.prototype_cell("A20_alpha-U")
    supercell = ooc.supercell(cell, rng)
    d_nn = mean_nn_distance(cell)
    rotated = ooc.user_structure(supercell, rng, 0.0, 0.0, d_nn)
    assert not np.allclose(rotated.cell.array, supercell.cell.array)
    assert np.allclose(np.sort(nearest_neighbour_distances(rotated)), np.sort(nearest_neighbour_distances(supercell)))
    assert np.allclose(rotated.cell.lengths(), supercell.cell.lengths())
    holed = ooc.user_structure(supercell, rng, 0.05, 0.1, d_nn)
    assert len(holed) == len(supercell) - round(0.1 * len(supercell))


def test_structure_types_name_extended_prototypes_of_the_same_space_group_and_sites():
    from paper_lib.prototypes import EXTENDED, EXTENDED_CLASSES

    for name, proto_name in ooc.STRUCTURE_TYPES.items():
        assert proto_name in EXTENDED_CLASSES
        assert EXTENDED[proto_name].spacegroup == ooc.PROTOTYPES[name].spacegroup
        assert EXTENDED[proto_name].sites_per_primitive == ooc.PROTOTYPES[name].sites_per_primitive
    # the others share space group and site count with no extended prototype, or (A17, A14 and
    # alpha-Ga: Cmce 8f) lie outside its ranges of b/a
    for name, proto in ooc.PROTOTYPES.items():
        if name in ooc.STRUCTURE_TYPES:
            continue
        for other in EXTENDED.values():
            if (other.spacegroup, other.sites_per_primitive) == (proto.spacegroup, proto.sites_per_primitive):
                low, high = other.ranges["b_over_a"][0]
                assert not low <= proto.params["b/a"] <= high, (name, other.name)


def test_held_out_set_for_the_extended_classes_leaves_them_out():
    from paper_lib.prototypes import EXTENDED_CLASSES, HELD_OUT

    assert ooc.split_prototypes("calibration", EXTENDED_CLASSES) == ("Af_simple-hex", "A17_black-P", "BC8_Si")
    assert ooc.split_prototypes("test", EXTENDED_CLASSES) == (
        "A13_beta-Mn", "Ab_beta-U", "A14_I2", "simple-tetragonal", "gamma-Pu", "Ad_beta-Np")
    spacegroups = ooc.class_spacegroups(EXTENDED_CLASSES)
    assert spacegroups > ooc.CLASS_SPACEGROUPS and {64, 63, 152, 223, 217, 216} <= spacegroups
    for split in ooc.SPLITS:
        structures = ooc.held_out_set(split, 2, 5, classes=EXTENDED_CLASSES)
        names = [info["name"] for _, info in structures]
        assert len(structures) == 2 * (len(ooc.split_prototypes(split, EXTENDED_CLASSES)) + 2)
        assert not set(names) & (set(EXTENDED_CLASSES) | set(HELD_OUT) | set(ooc.STRUCTURE_TYPES))
        for atoms, info in structures:
            if info["kind"] == "random":
                assert info["spacegroup"] not in spacegroups


def test_held_out_set_for_the_seven_classes_is_the_default_one():
    seven = ("bcc", "bct_139", "bct_141", "diam", "fcc", "hex/rh", "sc")
    assert ooc.class_spacegroups(seven) == ooc.CLASS_SPACEGROUPS
    for split in ooc.SPLITS:
        assert ooc.split_prototypes(split, seven) == ooc.SPLITS[split]
        assert same_structures(ooc.held_out_set(split, 1, 3), ooc.held_out_set(split, 1, 3, classes=seven))
