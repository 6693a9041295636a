"""The engine against independent libraries: gemmi, Dans_Diffraction, pymatgen."""
import numpy as np
import pytest

from paper_lib.diffraction import (DETECTOR_DISTANCE, N_PIXELS, PIXEL_SIZE, WAVELENGTH, amplitude,
                                   detector_intensity, form_factor, it92_coefficients)


def test_form_factor_table_is_gemmis_it92():
    gemmi = pytest.importorskip("gemmi")
    table = it92_coefficients()
    for z in range(1, 99):
        assert np.allclose(table[z], gemmi.Element(z).it92.get_coefs(), rtol=1e-6), z
    s = np.linspace(0, 2, 9)
    for z in (1, 6, 26, 79):
        coef = gemmi.Element(z).it92
        assert np.allclose(form_factor(z, s), [coef.calculate_sf(x**2 / 1.0) for x in s], rtol=1e-5)


def _fcc_al(a=4.05):
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) * a
    return basis, np.full(4, 13)


def test_structure_factors_match_dans_diffraction():
    """X-ray |F_hkl|^2 of fcc Al with the same IT92 f0 and no thermal factor (uiso = 0)."""
    dif = pytest.importorskip("Dans_Diffraction")
    a = 4.05
    xtl = dif.Crystal()
    xtl.Cell.latt([a, a, a, 90, 90, 90])
    xtl.Atoms.changeatom(0, type="Al", u=0, v=0, w=0, uiso=0)
    xtl.Symmetry.load_spacegroup(225)
    xtl.generate_structure()
    xtl.Scatter.setup_scatter(scattering_type="xray", output=False)
    hkl = np.array([[1, 1, 1], [2, 0, 0], [2, 2, 0], [3, 1, 1], [2, 2, 2]])
    theirs = np.asarray(xtl.Scatter.intensity(hkl))
    basis, numbers = _fcc_al(a)
    ours = np.abs(amplitude(2 * np.pi * hkl / a, basis, numbers)) ** 2
    assert np.allclose(ours, theirs, rtol=2e-4)
    assert ours[:3] == pytest.approx([1283.35, 1158.59, 856.67], rel=1e-4)   # |F|^2 (e^2) of 111, 200, 220


def _radius_px(g):
    """Detector radius (px) where a reflection of |G| (1/Angstrom) lands."""
    k = 2 * np.pi / (WAVELENGTH * 1e10)
    return DETECTOR_DISTANCE * np.tan(2 * np.arcsin(g / (2 * k))) / PIXEL_SIZE


def _local_maxima(image, threshold):
    from scipy.ndimage import maximum_filter

    peaks = (image == maximum_filter(image, size=3)) & (image > threshold)
    ys, xs = np.nonzero(peaks)
    return np.stack([xs - (N_PIXELS - 1) / 2, ys - (N_PIXELS - 1) / 2], 1)


@pytest.mark.parametrize("kind, a_over_nn", [("fcc", np.sqrt(2)), ("bcc", 2 / np.sqrt(3))])
def test_zone_axis_spots_match_pymatgen_tem(kind, a_over_nn):
    """Beam along [001]: every allowed spot pymatgen's TEMCalculator lists on our detector is a
    peak of our pattern at the same angle and |G|, and no peak lacks a listed spot."""
    from ase.build import bulk
    from pymatgen.analysis.diffraction.tem import TEMCalculator
    from pymatgen.io.ase import AseAtomsAdaptor

    a = a_over_nn
    cell = bulk("Fe" if kind == "bcc" else "Cu", kind, a=a, cubic=True)
    pattern = TEMCalculator(beam_direction=(0, 0, 1)).get_pattern(AseAtomsAdaptor.get_structure(cell))
    expected = []
    for hkl, intensity in zip(pattern["(hkl)"], pattern["Intensity (norm)"]):
        h, k, l = hkl
        if intensity < 1e-6 or l != 0 or (h, k) == (0, 0):
            continue
        g = 2 * np.pi * np.hypot(h, k) / a
        r = _radius_px(g)
        if r < 27:
            expected.append(r * np.array([h, k]) / np.hypot(h, k))
    expected = np.array(expected)
    assert len(expected) >= 8
    # a thin foil, as TEM assumes: thick clusters lose the outer spots to the Ewald excitation error
    cluster = cell.repeat((8, 8, 1))
    image = detector_intensity(cluster.positions, cluster.numbers)
    centre = np.hypot(*np.meshgrid(np.arange(64) - 31.5, np.arange(64) - 31.5)) > 5
    # 10 % of the strongest spot: above the finite-size side lobes (4.7 % for eight cells)
    peaks = _local_maxima(np.where(centre, image, 0), 0.10 * image[centre].max())
    peaks = peaks[np.hypot(*peaks.T) < 27]
    for spot in expected:                       # every TEM spot is a peak within a pixel
        assert np.min(np.linalg.norm(peaks - spot, axis=1)) <= 1.0, spot
    for peak in peaks:                          # every peak is a TEM spot
        assert np.min(np.linalg.norm(expected - peak, axis=1)) <= 1.0, peak
