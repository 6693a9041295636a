"""The direct sum against analytic results and exact symmetries."""
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from paper_lib.diffraction import (N_PIXELS, amplitude, detector, detector_intensity, form_factor)

DET = detector()
QX = DET.q[:, 0].reshape(N_PIXELS, N_PIXELS)
Q = DET.q.reshape(N_PIXELS, N_PIXELS, 3)
S = np.linalg.norm(Q, axis=2) / (4 * np.pi)
OMEGA = DET.solid_angle.reshape(N_PIXELS, N_PIXELS)


def test_detector_geometry_is_the_curved_ewald_sphere():
    k = 2 * np.pi / 0.05                      # 1/Angstrom for lambda = 5e-12 m
    q = DET.q
    # |k_out| = k: (q + k z_hat) lies on the Ewald sphere
    assert np.allclose(np.linalg.norm(q + [0, 0, k], axis=1), k, rtol=1e-12)
    assert np.all(q[:, 2] < 0)                # curvature: q_z is never dropped
    # pixel centres sit between pixels: the four central pixels are equivalent
    r = DET.radius_px.reshape(N_PIXELS, N_PIXELS)
    assert r[31, 31] == r[32, 32] == r[31, 32] == pytest.approx(np.sqrt(0.5))


def test_one_atom_is_omega_f_squared():
    intensity = detector_intensity([[0.3, -0.2, 0.1]], [26])
    assert np.allclose(intensity, OMEGA * form_factor(26, S) ** 2, rtol=1e-12)


def test_two_atoms_fringes_run_along_columns():
    d = 2.0
    intensity = detector_intensity([[-d / 2, 0, 0], [d / 2, 0, 0]], [6, 6])
    expected = 4 * OMEGA * form_factor(6, S) ** 2 * np.cos(QX * d / 2) ** 2
    assert np.allclose(intensity, expected, rtol=1e-10, atol=1e-12 * expected.max())
    # x is axis 1: the pattern is symmetric under y -> -y row flips only through Omega and f
    assert np.allclose(intensity, intensity[::-1, :], rtol=1e-10)


def _block_sum(qk, n, a):
    num, den = np.sin(n * qk * a / 2), np.sin(qk * a / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.abs(den) < 1e-12, n, num / den)
    return ratio**2


def test_finite_simple_cubic_block():
    a, n = 1.0, (5, 4, 3)
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in n], indexing="ij"), -1).reshape(-1, 3) * a
    intensity = detector_intensity(grid, np.full(len(grid), 26))
    expected = OMEGA * form_factor(26, S) ** 2
    for axis in range(3):
        expected = expected * _block_sum(Q[..., axis], n[axis], a)
    assert np.allclose(intensity, expected, rtol=1e-8, atol=1e-10 * expected.max())


def test_reciprocal_lattice_amplitude_of_a_lattice_with_basis():
    """|F(G)|^2 = (N1 N2 N3)^2 |F_cell(G)|^2 at exact reciprocal-lattice vectors."""
    cell = np.array([[2.0, 0.1, 0.0], [0.3, 2.5, 0.0], [0.2, 0.1, 3.1]])
    basis = np.array([[0.0, 0.0, 0.0], [0.5, 0.3, 0.25], [0.1, 0.6, 0.7]]) @ cell
    numbers = np.array([8, 13, 28])
    n = (3, 4, 2)
    shifts = np.stack(np.meshgrid(*[np.arange(k) for k in n], indexing="ij"), -1).reshape(-1, 3) @ cell
    positions = (shifts[:, None, :] + basis[None]).reshape(-1, 3)
    reciprocal = 2 * np.pi * np.linalg.inv(cell).T
    hkl = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1], [2, -1, 1], [0, 2, 3]])
    g = hkl @ reciprocal
    crystal = np.abs(amplitude(g, positions, np.tile(numbers, len(shifts)))) ** 2
    unit = np.abs(amplitude(g, basis, numbers)) ** 2
    assert np.allclose(crystal, np.prod(n) ** 2 * unit, rtol=1e-9)


def test_orientation_average_is_the_debye_sum():
    rng = np.random.default_rng(3)
    positions = rng.normal(size=(6, 3)) * 1.5
    numbers = np.array([6, 6, 8, 8, 29, 29])
    q_norm = 3.0
    # Fibonacci sphere: a near-uniform quadrature of directions
    m = 20000
    i = np.arange(m) + 0.5
    theta, phi = np.arccos(1 - 2 * i / m), np.pi * (1 + 5**0.5) * i
    dirs = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)
    average = np.mean(np.abs(amplitude(q_norm * dirs, positions, numbers)) ** 2)
    f = np.array([form_factor(z, q_norm / (4 * np.pi)) for z in numbers])
    r = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    with np.errstate(invalid="ignore"):
        sinc = np.where(r > 0, np.sin(q_norm * r) / (q_norm * r), 1.0)
    debye = np.sum(f[:, None] * f[None, :] * sinc)
    assert average == pytest.approx(debye, rel=2e-3)
    assert pdist(positions).min() > 0


@pytest.fixture
def generic_cluster():
    rng = np.random.default_rng(11)
    return rng.uniform(-3, 3, size=(40, 3)), rng.choice([8, 13, 28], size=40)


def test_translation_and_reordering_leave_the_pattern_unchanged(generic_cluster):
    positions, numbers = generic_cluster
    ref = detector_intensity(positions, numbers)
    assert np.allclose(detector_intensity(positions + [3.7, -1.2, 8.9], numbers), ref, rtol=1e-9)
    order = np.random.default_rng(0).permutation(len(numbers))
    assert np.allclose(detector_intensity(positions[order], numbers[order]), ref, rtol=1e-9)


def test_coincident_atoms_give_n_squared():
    one = detector_intensity([[0, 0, 0]], [14])
    five = detector_intensity(np.zeros((5, 3)), [14] * 5)
    assert np.allclose(five, 25 * one, rtol=1e-12)


def test_rotation_about_the_beam_and_mirror(generic_cluster):
    positions, numbers = generic_cluster
    ref = detector_intensity(positions, numbers)
    rotated = positions @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]).T     # +90 deg about z: x -> y
    assert np.allclose(detector_intensity(rotated, numbers), np.rot90(ref, k=-1), rtol=1e-9)
    mirrored = positions * [-1, 1, 1]
    assert np.allclose(detector_intensity(mirrored, numbers), ref[:, ::-1], rtol=1e-9)


def test_ewald_curvature_breaks_point_symmetry(generic_cluster):
    positions, numbers = generic_cluster
    ref = detector_intensity(positions, numbers)
    asymmetry = np.abs(ref - ref[::-1, ::-1]).max() / ref.max()
    assert asymmetry > 0.005                      # a flat-Ewald shortcut gives 0 here
    # a cluster symmetric under z -> -z is point-symmetric to float precision
    sym = np.concatenate([positions, positions * [1, 1, -1]])
    both = np.concatenate([numbers, numbers])
    pattern = detector_intensity(sym, both)
    assert np.abs(pattern - pattern[::-1, ::-1]).max() / pattern.max() < 1e-10


def test_float32_agrees_with_float64(generic_cluster):
    positions, numbers = generic_cluster
    positions = positions * 2                     # phases up to ~100 rad
    i64 = detector_intensity(positions, numbers)
    i32 = detector_intensity(positions, numbers, dtype=np.float32)
    assert i32.dtype == np.float32 and i64.dtype == np.float64
    ring = DET.radius_px.reshape(N_PIXELS, N_PIXELS) < 30
    assert np.abs(i32 - i64)[ring].max() / i64[ring].max() < 1e-5


def test_layout_is_y_then_x():
    """A single pair along y makes fringes along rows (axis 0)."""
    d = 2.0
    along_y = detector_intensity([[0, -d / 2, 0], [0, d / 2, 0]], [6, 6])
    along_x = detector_intensity([[-d / 2, 0, 0], [d / 2, 0, 0]], [6, 6])
    assert np.allclose(along_y, along_x.T, rtol=1e-10)
