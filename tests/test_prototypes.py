"""The extended prototype library: space groups, cell sizes, length scale, free parameters, elements."""
import math
import re

import numpy as np
import pytest
import spglib
from ase.data import atomic_numbers, chemical_symbols, covalent_radii, reference_states
from ase.formula import Formula

from paper_lib import prototypes
from paper_lib.config import MAX_Z_INPUT
from paper_lib.model import _CLASS_NAME
from paper_lib.paths import safe_name
from paper_lib.prototypes import (EXTENDED, EXTENDED_CLASSES, HELD_OUT, MAX_DELTA_Z, MIN_CONTRAST, contrast,
                                  draw_symbols, hexagonal_c_over_a, nn_for)
from paper_lib.structures import _quiet_spglib, nearest_neighbour_distances, spacegroup_number

ALL = sorted(EXTENDED)
WITH_FREE = sorted(n for n in EXTENDED if EXTENDED[n].free)


def dataset(atoms, symprec=1e-5):
    with _quiet_spglib():
        return spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                           symprec=symprec)


def inside(value, intervals):
    return any(low <= value <= high for low, high in intervals)


def distinct_symbols(proto, rng):
    symbols = draw_symbols(proto, rng)
    assert len(set(symbols)) == proto.species
    return symbols


@pytest.mark.parametrize("name", ALL)
def test_prototype_shows_its_space_group_sites_and_nearest_neighbour_distance(name):
    proto = EXTENDED[name]
    for seed in range(3):
        rng = np.random.default_rng(seed)
        symbols = distinct_symbols(proto, rng)
        nn = nn_for(symbols)
        atoms, params = proto.build(symbols, nn, rng)
        assert atoms.pbc.all()
        for symprec in (1e-5, 1e-3):                          # Angstrom
            assert spacegroup_number(atoms, symprec) == proto.spacegroup, (symbols, params, symprec)
        assert len(atoms) == proto.sites_per_primitive
        assert len(set(dataset(atoms).mapping_to_primitive.tolist())) == len(atoms)   # a primitive cell
        assert nearest_neighbour_distances(atoms).min() == pytest.approx(nn, rel=1e-9)
        assert set(params) == set(proto.ranges)


@pytest.mark.parametrize("name", ALL)
def test_species_sit_on_their_roles_in_the_formula_ratio(name):
    """symbols[0] is the first species of the name: Cu in Cu3Au (three Cu per Au), Bi in BiF3."""
    proto = EXTENDED[name]
    atoms, _ = proto.build(("Fe", "Pt")[:proto.species], 2.5, np.random.default_rng(0))
    if proto.species == 1:
        assert set(atoms.get_chemical_symbols()) == {"Fe"}
        return
    formula = Formula(name.split("_")[-1]).count()
    assert tuple(formula) == proto.roles
    counts = [atoms.get_chemical_symbols().count(s) for s in ("Fe", "Pt")]
    assert counts[0] * formula[proto.roles[1]] == counts[1] * formula[proto.roles[0]]


@pytest.mark.parametrize("name", WITH_FREE)
def test_free_parameters_lie_in_their_ranges_and_vary(name):
    proto = EXTENDED[name]
    drawn = [proto.draw(np.random.default_rng(seed)) for seed in range(20)]
    for key, intervals in proto.ranges.items():
        values = [params[key] for params in drawn]
        assert all(inside(v, intervals) for v in values), (key, intervals)
        assert len(set(values)) == len(values)
        assert all(low < high for low, high in intervals)


def conventional_ratios(atoms):
    """b/a and c/a of spglib's conventional cell."""
    with _quiet_spglib():
        lattice, _, _ = spglib.standardize_cell((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                                to_primitive=False, no_idealize=True, symprec=1e-5)
    a, b, c = np.linalg.norm(lattice, axis=1)
    return b / a, c / a


@pytest.mark.parametrize("name", [n for n in WITH_FREE if {"c_over_a", "alpha"} & set(EXTENDED[n].free)])
def test_the_cell_has_the_drawn_ratios(name):
    """The parameters reported are the ones built: spglib's conventional cell has them."""
    proto = EXTENDED[name]
    atoms, params = proto.build(distinct_symbols(proto, np.random.default_rng(5)), 2.0, np.random.default_rng(6))
    b_over_a, c_over_a = conventional_ratios(atoms)
    if "alpha" in params:                                   # rhombohedral: hexagonal axes
        assert c_over_a == pytest.approx(hexagonal_c_over_a(params["alpha"]), rel=1e-9)
    elif name == "L1_0_CuAu":                               # c/a of the face-centred cell
        assert c_over_a == pytest.approx(math.sqrt(2) * params["c_over_a"], rel=1e-9)
    else:
        assert c_over_a == pytest.approx(params["c_over_a"], rel=1e-9)
    if "b_over_a" in params:
        assert b_over_a == pytest.approx(params["b_over_a"], rel=1e-9)


def test_a6_draws_both_in_and_pa_but_never_bcc_or_fcc():
    values = [EXTENDED["A6_In"].draw(np.random.default_rng(seed))["c_over_a"] for seed in range(200)]
    assert any(v < 1 for v in values) and any(v > 1.45 for v in values)
    assert all(abs(v - 1) > 0.1 and abs(v - math.sqrt(2)) > 0.05 for v in values)


@pytest.mark.parametrize("name, element_group", [
    ("B1_NaCl", 221),       # rock salt of one element: simple cubic, a / 2
    ("B2_CsCl", 229),       # CsCl of one element: bcc
    ("B3_ZnS", 227),        # zincblende of one element: diamond
    ("L1_2_Cu3Au", 225),    # Cu3Au of one element: fcc
    ("D0_3_BiF3", 229),     # BiF3 of one element: bcc
])
def test_binaries_of_one_element_are_the_element_structure(name, element_group):
    atoms, _ = EXTENDED[name].build(("Fe", "Fe"), 2.5, np.random.default_rng(0))
    for symprec in (1e-5, 1e-3):
        assert spacegroup_number(atoms, symprec) == element_group
    assert nearest_neighbour_distances(atoms).min() == pytest.approx(2.5, rel=1e-9)


def neighbour_shells(atoms, radius):
    """Sorted distances (Angstrom, rounded) from every atom to its neighbours within ``radius``."""
    reps = [int(math.ceil(2 * radius / length)) + 1 for length in atoms.cell.lengths()]
    big = atoms.repeat(reps)
    centre = big.cell.array.sum(axis=0) / 2
    middle = np.argsort(np.linalg.norm(big.positions - centre, axis=1))[:len(atoms)]
    shells = []
    for i in middle:
        d = np.linalg.norm(big.positions - big.positions[i], axis=1)
        shells.append(np.round(np.sort(d[(d > 0) & (d < radius)]), 9))
    return shells


def test_b2_with_neighbouring_elements_has_the_geometry_of_bcc():
    """Why B2 against bcc is hard when the two Z are close: FeCo in B2 puts its atoms exactly where
    bcc Fe puts them (every atom sees the same neighbour shells); only the species differ, so the
    superlattice reflections that tell B2 apart scale with the difference of the Fe and Co form
    factors, which is small for neighbouring Z. spglib, which reads species labels, still tells
    them apart."""
    rng = np.random.default_rng(0)
    b2, _ = EXTENDED["B2_CsCl"].build(("Fe", "Co"), 2.5, rng)
    bcc, _ = EXTENDED["A2_W"].build(("Fe",), 2.5, rng)
    assert spacegroup_number(b2, 1e-3) == 221 and spacegroup_number(bcc, 1e-3) == 229
    reference = neighbour_shells(bcc, 6.0)[0]
    for shells in neighbour_shells(b2, 6.0):
        assert np.array_equal(shells, reference)


def test_build_is_reproducible_and_checks_its_input():
    proto = EXTENDED["B4_ZnO"]
    first = proto.build(("Zn", "O"), 1.9, np.random.default_rng(3))
    second = proto.build(("Zn", "O"), 1.9, np.random.default_rng(3))
    assert first[1] == second[1] and np.array_equal(first[0].positions, second[0].positions)
    with pytest.raises(ValueError, match="2 species"):
        proto.build(("Zn",), 1.9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="positive"):
        proto.build(("Zn", "O"), 0.0, np.random.default_rng(0))


def test_draw_symbols_for_binaries_spans_similar_and_very_different_atomic_numbers():
    rng = np.random.default_rng(1)
    pairs = [draw_symbols(EXTENDED["B2_CsCl"], rng, min_contrast=0) for _ in range(3000)]
    z = np.array([[atomic_numbers[s] for s in pair] for pair in pairs])
    dz = np.abs(z[:, 0] - z[:, 1])
    assert (dz >= 1).all() and (dz <= MAX_DELTA_Z).all()
    assert z.min() >= 1 and z.max() <= 94 <= MAX_Z_INPUT             # the presets' 'all': H .. Pu
    assert 0.25 < np.mean(dz <= 3) < 0.42          # log-uniform over 1..60: 0.34
    assert 0.11 < np.mean(dz > 30) < 0.22          # 0.17
    assert (z[:, 0] > z[:, 1]).mean() == pytest.approx(0.5, abs=0.05)   # either order
    assert len(np.unique(z)) > 85


def test_binaries_drawn_have_the_contrast_their_fingerprint_needs():
    # the superstructure reflections of an ordered binary are about contrast^2 as bright as the
    # fundamental ones: a binary is drawn only where its order shows
    assert contrast(("Cu", "Zn")) == pytest.approx(1 / 63)          # (29+2, 30+2): B2 CuZn, invisible
    assert contrast(("Na", "Cl")) == pytest.approx(6 / 32)          # rock salt itself is a class
    assert contrast(("Fe",)) == 0.0
    assert contrast(("Ga", "As")) < MIN_CONTRAST < contrast(("Zn", "S"))
    rng = np.random.default_rng(3)
    pairs = [draw_symbols(EXTENDED["B3_ZnS"], rng) for _ in range(2000)]
    kappa = np.array([contrast(pair) for pair in pairs])
    z = np.array([[atomic_numbers[s] for s in pair] for pair in pairs])
    dz = np.abs(z[:, 0] - z[:, 1])
    assert kappa.min() >= MIN_CONTRAST
    assert np.mean(kappa < 0.3) > 0.2               # near the limit as well as far above it
    assert dz.min() <= 3 and z[dz <= 3].max() <= 12     # similar Z: light pairs only
    assert len(np.unique(z)) > 80                   # still nearly every element
    with pytest.raises(ValueError, match="contrast"):
        draw_symbols(EXTENDED["B2_CsCl"], rng, ["Cu", "Zn"])      # CuZn is the only pair: too close


def test_draw_symbols_stays_within_the_elements_given():
    rng = np.random.default_rng(2)
    chosen = ("Al", "Cu", 29 + 1, "Au")                      # symbols or atomic numbers
    for proto in (EXTENDED["A1_Cu"], EXTENDED["L1_2_Cu3Au"]):
        drawn = {s for _ in range(300) for s in draw_symbols(proto, rng, chosen)}
        assert drawn <= {"Al", "Cu", "Zn", "Au"} and len(drawn) >= 3
    with pytest.raises(ValueError, match="two elements"):
        draw_symbols(EXTENDED["B1_NaCl"], rng, ["Fe"])
    with pytest.raises(ValueError, match="form-factor"):
        draw_symbols(EXTENDED["A1_Cu"], rng, [MAX_Z_INPUT + 1])


def test_nn_for_is_a_sum_of_covalent_radii():
    assert nn_for(("Si",)) == pytest.approx(2 * covalent_radii[14])
    assert nn_for(("Na", "Cl")) == pytest.approx(covalent_radii[11] + covalent_radii[17])
    assert nn_for((26,)) == nn_for(("Fe",))


def test_class_names_are_valid_and_held_out_is_separate():
    assert len(EXTENDED_CLASSES) == 30 and len(set(EXTENDED_CLASSES)) == 30
    assert sum(EXTENDED[n].species == 1 for n in EXTENDED_CLASSES) == 18
    assert set(HELD_OUT) == {"C4_TiO2", "C14_MgZn2"}
    assert not set(HELD_OUT) & set(EXTENDED_CLASSES)
    assert set(EXTENDED) == set(EXTENDED_CLASSES) | set(HELD_OUT)
    for name in EXTENDED:
        assert re.fullmatch(_CLASS_NAME, name) and "/" not in name and ".." not in name
        safe_name(name, "class name")
        assert EXTENDED[name].name == name and len(EXTENDED[name].roles) == EXTENDED[name].species


def test_the_module_table_matches_the_library():
    """The table in the module docstring gives each prototype's symbols, space group, atoms and ranges."""
    doc = prototypes.__doc__
    for name, proto in EXTENDED.items():
        start = re.search(rf"^{re.escape(name)} ", doc, re.M).start()
        end = re.compile(r"^\S", re.M).search(doc, doc.index("\n", start) + 1).start()
        row = " ".join(doc[start:end].split())
        sb = proto.strukturbericht or "(none)"
        assert row.startswith(f"{name} {sb} {proto.pearson} {proto.spacegroup} {proto.sites_per_primitive} "), row
        for intervals in proto.ranges.values():
            for low, high in intervals:
                assert f"{low:.4g}..{high:.4g}" in row, (name, row)
        if not proto.free:
            assert row.endswith(" none")


def ashcroft_mermin(symbol):
    return reference_states[atomic_numbers[symbol]]


def test_values_taken_from_ashcroft_and_mermin_are_theirs():
    """The values the table credits to A&M are those of ase.data.reference_states, and the hcp
    range covers every hcp metal there (La, Pr and Nd are double hcp; Se and Te trigonal)."""
    hcp = EXTENDED["A3_Mg"].free["c_over_a"][0]
    listed = {chemical_symbols[z] for z, state in enumerate(reference_states)
              if state and state["symmetry"] == "hcp" and "basis" not in state} - {"La", "Pr", "Nd"}
    assert set(hcp) == listed
    assert all(hcp[s] == ashcroft_mermin(s)["c/a"] for s in hcp)
    dhcp = EXTENDED["dhcp_alpha-La"].free["c_over_a"][0]
    assert all(dhcp[s] == 2 * ashcroft_mermin(s)["c/a"] for s in ("La", "Pr", "Nd"))
    assert EXTENDED["A5_beta-Sn"].free["c_over_a"][0]["Sn"] == ashcroft_mermin("Sn")["c/a"]
    in_pa = EXTENDED["A6_In"].free["c_over_a"]
    assert in_pa[0]["In"] == pytest.approx(ashcroft_mermin("In")["c/a"], abs=1e-4)
    assert in_pa[1]["Pa"] == ashcroft_mermin("Pa")["c/a"]
    assert EXTENDED["A10_alpha-Hg"].free["alpha"][0]["Hg"] == ashcroft_mermin("Hg")["alpha"]
    sm = ashcroft_mermin("Sm")
    assert EXTENDED["C19_alpha-Sm"].free["c_over_a"][0]["Sm"] == pytest.approx(hexagonal_c_over_a(sm["alpha"]))
    assert EXTENDED["C19_alpha-Sm"].free["z"][0]["Sm"] == pytest.approx(sm["basis_x"][2])
