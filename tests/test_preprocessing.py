"""The crystal_frame pre-processing: the same crystal gives the same cluster and fingerprint however
it is written down (cell, size, orientation, noise, vacancies), and bad input gets a clear error."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from paper_lib.diffraction import fingerprint
from paper_lib.preprocessing import NoCrystalFrame, crystal_frame, crystal_frame_cluster, prepare
from paper_lib.structures import PROTOTYPES, StructureError, mean_nn_distance


def _cosine(a, b):
    return float(np.sum(a * b) / np.linalg.norm(a) / np.linalg.norm(b))


def _noisy(atoms, sigma, rng):
    out = atoms.copy()
    out.positions += rng.normal(0, sigma, out.positions.shape)
    return out


def _sphere(crystal, radius, rotation=None):
    big = crystal.repeat([int(np.ceil(2 * radius / length)) + 2 for length in crystal.cell.lengths()])
    centre = big.positions.mean(axis=0)
    keep = np.linalg.norm(big.positions - centre, axis=1) < radius
    positions = big.positions[keep] - centre
    if rotation is not None:
        positions = positions @ rotation.T
    return Atoms(big.numbers[keep], positions)


def _misorientation(frame, reference):
    """Largest angle (deg) between a found lattice vector, in the standard frame, and the nearest
    vector of the same length of the reference lattice (rows, in its standard frame)."""
    grid = np.array(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij")).reshape(3, -1).T
    ref = grid @ reference
    ref = ref[np.linalg.norm(ref, axis=1) > 1e-9]
    worst = 0.0
    for v in frame.lattice @ frame.rotation.T:
        same_length = np.abs(np.linalg.norm(ref, axis=1) - np.linalg.norm(v)) < 0.1 * np.linalg.norm(v)
        cos = np.where(same_length, ref @ v / np.linalg.norm(ref, axis=1) / np.linalg.norm(v), -1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos.max(), -1, 1)))))
    return worst


@pytest.mark.parametrize("name", ["A2_W", "A1_Cu", "A4_diamond", "A3_Mg", "A6_bct", "A5_beta-Sn",
                                  "hR1_alpha-Hg", "Ah_alpha-Po"])
def test_frame_and_length_scale_of_a_rotated_noisy_defective_cluster(name):
    """A randomly rotated spherical cluster with 5 % noise and 20 % vacancies: the frame comes back
    to within 0.5 deg and the nearest-neighbour distance of the average crystal within 2 %."""
    rng = np.random.default_rng(7)
    primitive, _ = PROTOTYPES[name].build("Cu", 2.5, rng)
    d_nn = mean_nn_distance(primitive)
    reference = crystal_frame(primitive.repeat(6))
    rotation = Rotation.random(random_state=3).as_matrix()
    cluster = _noisy(_sphere(primitive, 4.5 * d_nn, rotation), 0.05 * d_nn, rng)
    cluster = cluster[np.sort(rng.permutation(len(cluster))[len(cluster) // 5:])]
    frame = crystal_frame(cluster)
    assert abs(frame.nn_distance / d_nn - 1) < 0.02
    assert _misorientation(frame, reference.lattice @ reference.rotation.T) < 0.5


def test_same_fingerprint_however_the_crystal_is_written_down():
    """Primitive cell, conventional supercell, sheared cell, rotated supercell, a large noisy
    supercell and a rotated cluster of bcc iron: one fingerprint, up to noise."""
    rng = np.random.default_rng(0)
    primitive = bulk("Fe", "bcc", a=2.87)
    conventional = bulk("Fe", "bcc", a=2.87, cubic=True).repeat((4, 4, 4))
    sheared = primitive.copy()
    sheared.set_cell(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]]) @ primitive.cell.array, scale_atoms=False)
    sheared.wrap()
    rotated = conventional.copy()
    rotated.rotate(33, "x", rotate_cell=True)
    rotated.rotate(71, "y", rotate_cell=True)
    noisy = _noisy(bulk("Fe", "bcc", a=2.87).repeat((5, 5, 10)), 0.02 * 2.485, rng)
    cluster = _sphere(conventional, 12.0, Rotation.random(random_state=5).as_matrix())
    reference = fingerprint(primitive)
    for atoms in (conventional, sheared, rotated, noisy, cluster):
        assert _cosine(fingerprint(atoms), reference) > 0.97


def test_paper2018_is_kept_by_name():
    cell = bulk("Cu", "fcc", a=3.6, cubic=True)
    paper = prepare(cell, "paper2018", 250)
    assert len(paper) == 256 and abs(mean_nn_distance(paper) - 1) < 1e-6
    robust = prepare(cell, "crystal_frame", 250)
    assert 200 <= len(robust) <= 300
    with pytest.raises(ValueError, match="unknown pre-processing"):
        prepare(cell, "magic", 250)


def test_a_large_periodic_cell_is_cut_to_a_bounded_piece():
    """A 32,000-atom noisy fcc cell gives a cluster of about 250 atoms (never spglib on it)."""
    rng = np.random.default_rng(1)
    big = _noisy(bulk("Cu", "fcc", a=3.61, cubic=True).repeat((20, 20, 20)), 0.1, rng)
    cluster = crystal_frame_cluster(big, 250)
    assert 200 <= len(cluster) <= 300
    assert abs(crystal_frame(big).nn_distance / (3.61 / np.sqrt(2)) - 1) < 0.01


@pytest.mark.parametrize("atoms, message", [
    (Atoms("Cu2", positions=[(0, 0, 0), (0, 0, 0)], cell=[3, 3, 3], pbc=True), "coincide"),
    (Atoms("Cu", cell=[[3, 0, 0], [0, 3, 0], [0, 0, 1e-7]], pbc=True), "nearly flat|cell edge"),
])
def test_degenerate_input_gets_a_clear_error(atoms, message):
    with pytest.raises(StructureError, match=message):
        prepare(atoms, "crystal_frame", 250, name="bad.xyz #3")


def test_amorphous_input_has_no_crystal_frame():
    rng = np.random.default_rng(2)
    gas = Atoms("Ar300", positions=rng.uniform(0, 20, (300, 3)))
    with pytest.raises(NoCrystalFrame, match="bad.xyz #0"):
        prepare(gas, "crystal_frame", 250, name="bad.xyz #0")


def test_a_nearly_flat_cell_is_refused_by_the_papers_preprocessing_too():
    """A sheared cell whose third vector is long but whose planes are 1e-4 A apart (once a
    MemoryError that killed the batch)."""
    flat = Atoms("Cu2", positions=[(0, 0, 0), (1.3, 1.3, 0)],
                 cell=[[2.6, 0, 0], [0, 2.6, 0], [0, 2.59, 1e-4]], pbc=True)
    for method in ("paper2018", "crystal_frame"):
        with pytest.raises(StructureError, match="bad.cif #0"):
            prepare(flat, method, 250, name="bad.cif #0")


@pytest.mark.parametrize("n", [16, 20, 30, 40, 300])
def test_random_gas_gets_no_crystal_frame(n):
    """Random points (a gas) of any size: no lattice, so no class, in every one of 5 draws."""
    rng = np.random.default_rng(n)
    for _ in range(5):
        gas = Atoms(f"Ar{n}", positions=rng.uniform(0, (n / 0.05) ** (1 / 3), (n, 3)))
        with pytest.raises(NoCrystalFrame):
            crystal_frame(gas)


def test_a_stray_atom_far_away_does_not_move_the_cut():
    rng = np.random.default_rng(4)
    crystal = _sphere(bulk("Cu", "fcc", a=3.61), 12.0, Rotation.random(random_state=2).as_matrix())
    crystal.positions += rng.normal(0, 0.05, crystal.positions.shape)
    stray = crystal + Atoms("Cu", positions=[(1e4, 0, 0)])
    a, b = crystal_frame_cluster(crystal, 250), crystal_frame_cluster(stray, 250)
    assert abs(len(a) - len(b)) <= 2
    assert _cosine(fingerprint(crystal), fingerprint(stray)) > 0.99


def test_a_huge_cell_is_not_refused():
    """200,000 atoms: the piece is cut from the wrapped cell without building 27 copies of it."""
    big = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((37, 37, 37))
    assert len(big) > 200_000
    assert 200 <= len(crystal_frame_cluster(big, 250)) <= 300


def test_crystal_frame_of_one_atom_is_a_clear_error():
    with pytest.raises(NoCrystalFrame, match="too few"):
        crystal_frame(Atoms("Cu", positions=[(0, 0, 0)]))


@pytest.mark.parametrize("name, sites", [("A9_graphite", 4), ("A12_alpha-Mn", 29), ("C14_MgZn2", 12)])
def test_the_wide_search_finds_lattices_with_long_translations(name, sites):
    """Graphite (c = 4.7 d_nn), alpha-Mn (29 sites) and the hexagonal Laves phase: crystal_frame_wide
    finds the lattice of a noisy rotated supercell; for graphite and alpha-Mn crystal_frame finds
    none (its search stops at 3.3 d_nn and 16 sites)."""
    from paper_lib.prototypes import EXTENDED, draw_symbols, nn_for
    from paper_lib.structures import replication_for

    rng = np.random.default_rng(5)
    proto = EXTENDED[name]
    symbols = draw_symbols(proto, rng)
    cell, _ = proto.build(symbols, nn_for(symbols), rng)
    crystal = cell.repeat(replication_for(cell, 600))
    crystal.positions += rng.normal(0, 0.02 * nn_for(symbols), crystal.positions.shape)
    rotation = Rotation.random(random_state=3).as_matrix()
    crystal.set_cell(crystal.cell.array @ rotation.T, scale_atoms=False)
    crystal.positions = crystal.positions @ rotation.T
    frame = crystal_frame(crystal, wide=True)
    assert len(frame.sites) == sites
    assert frame.nn_distance == pytest.approx(nn_for(symbols), rel=0.02)
    if name != "C14_MgZn2":
        with pytest.raises(NoCrystalFrame):
            crystal_frame(crystal)
    cluster = prepare(crystal, "crystal_frame_wide", 250)
    assert cluster.info["sites_per_cell"] == sites


def test_the_wide_search_reads_what_crystal_frame_reads_the_same_way():
    """Where crystal_frame finds a lattice, crystal_frame_wide finds the same frame (it only adds
    searches after crystal_frame's have failed)."""
    rng = np.random.default_rng(11)
    for name in ("A1_Cu", "A3_Mg", "hR3_alpha-Sm", "A5_beta-Sn"):
        cell, _ = PROTOTYPES[name].build("Cu", 2.5, rng)
        crystal = _noisy(cell.repeat([6, 6, 6]), 0.1, rng)
        a, b = crystal_frame(crystal), crystal_frame(crystal, wide=True)
        for x, y in ((a.lattice, b.lattice), (a.sites, b.sites), (a.rotation, b.rotation)):
            np.testing.assert_array_equal(x, y)
