"""The two-dimensional diffraction fingerprint: Condor's atom model, reimplemented.

Kinematic far-field scattering of a finite cluster on a flat detector, as the paper computes it:

* beam along +z, wavelength :data:`WAVELENGTH` (m); detector :data:`N_PIXELS` x :data:`N_PIXELS`
  pixels of :data:`PIXEL_SIZE` (m) at :data:`DETECTOR_DISTANCE` (m), centred between pixels; arrays
  are indexed ``[row = y, col = x]``;
* scattering vector on the curved Ewald sphere, q = k (x/rho, y/rho, D/rho - 1), rho = |(x, y, D)|;
* amplitude F(q) = sum_j f_Zj(s) exp(-i q . r_j) with the IT92 form factors, s = |q| / 4 pi;
* intensity I = Omega |F|^2 with the pixel solid angle Omega = p^2/D^2 cos^3(2 theta) (sr).

Positions are in Angstrom (fingerprints scale the cluster to a mean nearest-neighbour distance of
1 Angstrom first), so q is in 1/Angstrom. The sum is evaluated by a compiled kernel (numba): the
float32 path uses a polynomial sine/cosine after exact range reduction (about 1e-6 relative to the
pattern maximum against float64), the float64 path the C library's. Every physical constant of
the fingerprint lives in this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms

from .preprocessing import DEFAULT as PREPROCESSING
from .preprocessing import NoCrystalFrame, prepare
from .structures import StructureError, to_atoms

WAVELENGTH = 5.0e-12        #: m, incident plane wave
DETECTOR_DISTANCE = 0.1     #: m, sample to detector
PIXEL_SIZE = 4.0e-4         #: m, pixel width and height
N_PIXELS = 64               #: pixels per detector side
Z_SHIFT = 2                 #: atomic numbers are raised by this before the form factor is looked up
ANGLE_DEG = 45.0            #: rotation of the cluster about x, y, z for the three channels (deg)
MASK_INNER_PX = 5           #: radius (px) of the central disc set to zero (the seed's choice)
TARGET_ATOMS = 250          #: atoms in the finite cluster built from a periodic structure
MAX_ATOMS = 100_000         #: larger clusters are refused (the direct sum costs N x pixels)
#: How the channel sums become pixel values before the min-max normalisation: ``linear`` (the
#: paper's: intensity as it is) or ``log``, log(I + LOG_FLOOR * max I). On the linear scale a
#: reflection a hundredth as bright as the strongest is a hundredth of the brightest pixel; the log
#: scale gives it a third of the range, so that weak superstructure reflections (an ordered
#: binary on its parent lattice: amplitude f_A - f_B against f_A + f_B) reach the network.
INTENSITY_SCALES = ("linear", "log")
LOG_FLOOR = 1e-3            #: log scale: intensities below this fraction of the maximum are flattened

_ANGSTROM = 1e-10
_FORM_FACTOR_TABLE = Path(__file__).with_name("data") / "it92.csv"


# --------------------------------------------------------------------------------------------
# Form factors
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def it92_coefficients() -> np.ndarray:
    """IT92 coefficients as an array [Z, (a1..a4, b1..b4, c)]; row 0 is unused (NaN)."""
    rows = np.genfromtxt(_FORM_FACTOR_TABLE, delimiter=",", skip_header=1, usecols=range(2, 11))
    table = np.full((rows.shape[0] + 1, 9), np.nan)
    table[1:] = rows
    return table


def max_form_factor_z() -> int:
    """Largest atomic number in the IT92 table (98, Cf)."""
    return it92_coefficients().shape[0] - 1


def form_factor(z: int, s: np.ndarray) -> np.ndarray:
    """IT92 X-ray form factor f_Z(s) (electrons), s = sin(theta)/lambda = |q|/(4 pi) in 1/Angstrom."""
    if not 1 <= z <= max_form_factor_z():
        raise ValueError(f"no IT92 form factor for Z = {z} (the table covers 1-{max_form_factor_z()})")
    c = it92_coefficients()[z]
    s2 = np.asarray(s, dtype=np.float64) ** 2
    return sum(c[i] * np.exp(-c[4 + i] * s2) for i in range(4)) + c[8]


# --------------------------------------------------------------------------------------------
# Detector geometry
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Detector:
    """Scattering vectors and solid angles of every pixel, flattened in [y, x] (C) order.

    ``q``: (P, 3) scattering vectors in 1/Angstrom; ``solid_angle``: (P,) in sr;
    ``radius_px``: (P,) distance of each pixel centre from the beam centre, in pixels.
    """

    q: np.ndarray
    solid_angle: np.ndarray
    radius_px: np.ndarray
    n_pixels: int


@lru_cache(maxsize=8)
def detector(n_pixels: int = N_PIXELS, pixel_size: float = PIXEL_SIZE,
             distance: float = DETECTOR_DISTANCE, wavelength: float = WAVELENGTH) -> Detector:
    """The detector of the fingerprint (lengths in m): q on the curved Ewald sphere, Omega, radii."""
    centre = (n_pixels - 1) / 2
    iy, ix = np.meshgrid(np.arange(n_pixels), np.arange(n_pixels), indexing="ij")
    x = pixel_size * (ix - centre).ravel()
    y = pixel_size * (iy - centre).ravel()
    rho = np.sqrt(x**2 + y**2 + distance**2)
    k = 2 * np.pi / (wavelength / _ANGSTROM)          # 1/Angstrom
    q = k * np.stack([x / rho, y / rho, distance / rho - 1.0], axis=1)
    cos_2theta = distance / rho
    solid_angle = pixel_size**2 / distance**2 * cos_2theta**3
    radius = np.hypot(ix - centre, iy - centre).ravel()
    for array in (q, solid_angle, radius):
        array.setflags(write=False)
    return Detector(q=q, solid_angle=solid_angle, radius_px=radius, n_pixels=n_pixels)


def pixel_mask(mask_inner_px: float | None = MASK_INNER_PX, mask_outer_px: float | None = None,
               n_pixels: int = N_PIXELS) -> np.ndarray:
    """Boolean (P,) array, True where the fingerprint keeps the pixel.

    Pixels with centre radius <= ``mask_inner_px`` or >= ``mask_outer_px`` (in px) are dropped;
    None disables either mask.
    """
    r = detector(n_pixels).radius_px
    keep = np.ones(r.shape, dtype=bool)
    if mask_inner_px is not None:
        keep &= r > mask_inner_px
    if mask_outer_px is not None:
        keep &= r < mask_outer_px
    return keep


# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _kernels():
    """Compile (once per process, cached on disk) the direct-sum kernels."""
    import numba as nb

    f32 = np.float32
    two_pi_hi = f32(6.28125)                          # exactly representable part of 2 pi
    two_pi_lo = f32(2 * np.pi - 6.28125)
    inv_two_pi = f32(1 / (2 * np.pi))
    half = f32(0.5)
    # Taylor coefficients of sin and cos: accurate to float32 rounding on [-pi, pi]
    s3, s5, s7, s9, s11, s13, s15 = (f32((-1) ** n / math.factorial(2 * n + 1)) for n in range(1, 8))
    c2, c4, c6, c8, c10, c12, c14, c16 = (f32((-1) ** n / math.factorial(2 * n)) for n in range(1, 9))
    one = f32(1.0)

    @nb.njit(fastmath=True, cache=True, nogil=True)
    def phase_sum32(q, x, y, z, re, im):
        """re[p] + i im[p] = sum_j exp(-i q_p . r_j) in float32 (polynomial sincos)."""
        for p in range(q.shape[0]):
            qx = q[p, 0]
            qy = q[p, 1]
            qz = q[p, 2]
            re_p = f32(0.0)
            im_p = f32(0.0)
            for j in range(x.shape[0]):
                phase = qx * x[j] + qy * y[j] + qz * z[j]
                n = f32(np.floor(phase * inv_two_pi + half))
                t = (phase - n * two_pi_hi) - n * two_pi_lo     # in [-pi, pi]
                t2 = t * t
                re_p += one + t2 * (c2 + t2 * (c4 + t2 * (c6 + t2 * (c8 + t2 * (c10 + t2 * (c12 + t2 * (c14 + t2 * c16)))))))
                im_p += t * (one + t2 * (s3 + t2 * (s5 + t2 * (s7 + t2 * (s9 + t2 * (s11 + t2 * (s13 + t2 * s15)))))))
            re[p] = re_p
            im[p] = -im_p

    @nb.njit(cache=True, nogil=True)
    def phase_sum64(q, x, y, z, re, im):
        """The same sum in float64 with the C library's sine and cosine."""
        for p in range(q.shape[0]):
            re_p = 0.0
            im_p = 0.0
            for j in range(x.shape[0]):
                phase = q[p, 0] * x[j] + q[p, 1] * y[j] + q[p, 2] * z[j]
                re_p += math.cos(phase)
                im_p += math.sin(phase)
            re[p] = re_p
            im[p] = -im_p

    return phase_sum32, phase_sum64


def _check_inputs(positions, numbers, name: str = "structure"):
    positions = np.asarray(positions, dtype=np.float64)
    numbers = np.asarray(numbers)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise StructureError(f"{name}: positions must have shape (N, 3), got {positions.shape}")
    if numbers.shape != (positions.shape[0],):
        raise StructureError(f"{name}: {numbers.shape} atomic numbers for {positions.shape[0]} positions")
    if positions.shape[0] == 0:
        raise StructureError(f"{name}: the structure has no atoms")
    if positions.shape[0] > MAX_ATOMS:
        raise StructureError(f"{name}: {positions.shape[0]} atoms is more than the {MAX_ATOMS} a direct "
                             "sum handles; cut a smaller cluster")
    if not np.all(np.isfinite(positions)):
        raise StructureError(f"{name}: the structure has NaN or infinite coordinates")
    zmax = max_form_factor_z()
    bad = numbers[(numbers < 1) | (numbers > zmax)]
    if bad.size:
        raise StructureError(f"{name}: atomic number {int(bad[0])} has no IT92 form factor "
                             f"(the table covers Z = 1-{zmax})")
    return positions, numbers.astype(int)


def amplitude(q, positions, numbers, *, dtype=np.float64) -> np.ndarray:
    """Complex amplitude F(q) = sum_j f_Zj(|q|/4 pi) exp(-i q . r_j) at arbitrary q.

    ``q`` (P, 3) in 1/Angstrom, ``positions`` (N, 3) in Angstrom, ``numbers`` atomic numbers as
    given. Returns complex128 (P,) in electrons. The phases are taken relative to the centroid
    of the atoms, which changes F only by a global phase factor (|F| is unchanged).
    """
    positions, numbers = _check_inputs(positions, numbers)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    s = np.linalg.norm(q, axis=1) / (4 * np.pi)
    return _amplitude(q, positions, numbers, lambda z: form_factor(z, s), np.dtype(dtype).type)


@lru_cache(maxsize=256)
def _detector_form_factor(z: int) -> np.ndarray:
    """f_Z at every detector pixel (read-only), computed once per element and process."""
    f = form_factor(z, np.linalg.norm(detector().q, axis=1) / (4 * np.pi))
    f.setflags(write=False)
    return f


def _amplitude(q, positions, numbers, form_factor_of, dtype) -> np.ndarray:
    """F(q) with ``form_factor_of(Z)`` giving f_Z at each q: one kernel call per element."""
    kernel = _kernels()[0 if dtype == np.float32 else 1]
    q_kernel = np.ascontiguousarray(q, dtype=dtype)
    centred = positions - positions.mean(axis=0)     # smaller phases: better float32 accuracy
    re, im = np.empty(len(q), dtype), np.empty(len(q), dtype)
    total = np.zeros(len(q), dtype=np.complex128)
    for z in np.unique(numbers):
        r = centred[numbers == z].astype(dtype)
        kernel(q_kernel, np.ascontiguousarray(r[:, 0]), np.ascontiguousarray(r[:, 1]),
               np.ascontiguousarray(r[:, 2]), re, im)
        total += form_factor_of(int(z)) * (re + 1j * im)
    return total


def _pattern(positions, numbers, keep, dtype) -> np.ndarray:
    """Omega |F|^2 on the kept pixels (flat array over all pixels, zero elsewhere)."""
    det = detector()
    out = np.zeros(det.q.shape[0], dtype=np.float64)
    f = _amplitude(det.q[keep], positions, numbers, lambda z: _detector_form_factor(z)[keep],
                   np.dtype(dtype).type)
    out[keep] = det.solid_angle[keep] * np.abs(f) ** 2
    return out


def detector_intensity(positions, numbers, *, dtype=np.float64) -> np.ndarray:
    """Raw Omega |F|^2 on the 64 x 64 detector, indexed [y, x].

    ``positions`` (N, 3) in Angstrom, ``numbers`` the atomic numbers as given: no Z shift, no
    scaling, no mask, no normalisation. Omega is the pixel solid angle in sr and |F|^2 is in
    electrons^2 (IT92 form factors). ``dtype`` float64 (default) or float32.
    """
    positions, numbers = _check_inputs(positions, numbers)
    keep = np.ones(N_PIXELS * N_PIXELS, dtype=bool)
    return _pattern(positions, numbers, keep, dtype).reshape(N_PIXELS, N_PIXELS).astype(dtype)


def rotation_matrix(axis: str, angle_deg: float) -> np.ndarray:
    """Right-handed (active) rotation (3, 3) by ``angle_deg`` degrees about ``axis`` ('x', 'y' or 'z'):
    a column vector r goes to R r."""
    from scipy.spatial.transform import Rotation

    if axis not in ("x", "y", "z"):
        raise KeyError(axis)
    return Rotation.from_euler(axis, angle_deg, degrees=True).as_matrix()


def prepare_cluster(atoms: Atoms, target_atoms: int | None = TARGET_ATOMS, name: str = "structure",
                    preprocessing: str = PREPROCESSING) -> Atoms:
    """The finite cluster a fingerprint is computed from, scaled to neighbour distance 1 Angstrom,
    by the pre-processing method named (see :mod:`paper_lib.preprocessing`)."""
    return prepare(atoms, preprocessing, target_atoms, name)


def _rotations(angle_deg: float) -> np.ndarray:
    """The six rotations of the fingerprint, (6, 3, 3): +/- angle about x, y, z (channel = i // 2)."""
    return np.stack([rotation_matrix(axis, sign * angle_deg) for axis in "xyz" for sign in (+1, -1)])


def _fingerprint_inputs(atoms, mask_inner_px, mask_outer_px, z_shift, angle_deg, target_atoms, name,
                        preprocessing=PREPROCESSING):
    """Checked inputs of the sum: scaled positions (Angstrom), shifted Z, kept-pixel mask, and the
    sites per primitive cell of the crystal the pre-processing found (0 when it looks for none)."""
    if angle_deg is None or not np.isfinite(angle_deg):
        raise ValueError(f"{name}: angle_deg must be a finite number of degrees, got {angle_deg}")
    if mask_inner_px is not None and mask_outer_px is not None and mask_outer_px <= mask_inner_px:
        raise ValueError(f"{name}: mask_outer_px ({mask_outer_px}) must exceed mask_inner_px ({mask_inner_px})")
    keep = pixel_mask(mask_inner_px, mask_outer_px)
    if not keep.any():
        raise ValueError(f"{name}: the masks leave no pixel of the detector")
    atoms = to_atoms(atoms, name)
    numbers = np.asarray(atoms.numbers)
    bad = (numbers < 1) | (numbers + z_shift > max_form_factor_z()) | (numbers + z_shift < 1)
    if bad.any():
        z = int(numbers[np.argmax(bad)])
        raise StructureError(f"{name}: element Z = {z} raised by z_shift = {z_shift} has no IT92 form "
                             f"factor (atomic numbers must be 1 or more and the table covers Z = 1-"
                             f"{max_form_factor_z()})")
    cluster = prepare_cluster(atoms, target_atoms, name, preprocessing)
    shifted = cluster.numbers + z_shift
    positions, numbers = _check_inputs(cluster.positions, shifted, name)
    return positions, numbers, keep, int(cluster.info.get("sites_per_cell", 0))


def _check_intensity(intensity: str, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``intensity`` is one of :data:`INTENSITY_SCALES`."""
    if intensity not in INTENSITY_SCALES:
        raise ValueError(f"{name}: intensity must be one of {', '.join(INTENSITY_SCALES)}, got {intensity!r}")


def _normalise(channels: np.ndarray, name: str, intensity: str = "linear") -> np.ndarray:
    """(3, P) channel sums -> (64, 64, 3) float32 on the ``intensity`` scale (see
    :data:`INTENSITY_SCALES`), one global min-max to [0, 1]."""
    _check_intensity(intensity, name)
    if intensity == "log" and np.isfinite(channels).all() and channels.max() > 0:
        channels = np.log(channels + LOG_FLOOR * channels.max())
    low, high = channels.min(), channels.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise StructureError(f"{name}: the diffraction pattern is not finite (NaN or overflow: coordinates or "
                             "cell too large or degenerate)")
    if not high > low:
        raise StructureError(f"{name}: the fingerprint is flat (no contrast to normalise)")
    stack = (channels - low) / (high - low)
    return np.ascontiguousarray(stack.reshape(3, N_PIXELS, N_PIXELS).transpose(1, 2, 0), dtype=np.float32)


def fingerprint(atoms: Atoms, *, mask_inner_px: float | None = MASK_INNER_PX,
                mask_outer_px: float | None = None, z_shift: int = Z_SHIFT,
                angle_deg: float = ANGLE_DEG, target_atoms: int | None = TARGET_ATOMS,
                dtype=np.float32, name: str = "structure", preprocessing: str = PREPROCESSING,
                intensity: str = "linear") -> np.ndarray:
    """The (64, 64, 3) float32 diffraction fingerprint of ``atoms`` (an ``ase.Atoms``, or a pymatgen
    ``Structure``/``Molecule``: see :func:`paper_lib.structures.to_atoms`).

    The cluster (see :func:`prepare_cluster`) is scaled to a nearest-neighbour distance of
    1 Angstrom (the average crystal's, or with ``paper2018`` the mean), its atomic numbers raised by
    ``z_shift``; channel c (red, green, blue) is the sum of
    the patterns of the cluster rotated by +/- ``angle_deg`` degrees about x, y, z. Pixels within
    ``mask_inner_px`` or beyond ``mask_outer_px`` pixels of the centre are zeroed in each pattern
    (the reference code's variant: ``mask_inner_px=10, mask_outer_px=30``), then the stack is
    min-max normalised to [0, 1] as a whole, on the ``intensity`` scale (``linear``, the paper's, or
    ``log``: see :data:`INTENSITY_SCALES`). ``dtype`` is the precision of the sum (float32 or
    float64). ``name`` labels error messages. ``preprocessing``: ``crystal_frame`` (default: the
    crystal's own frame and length scale, whatever its cell) or ``paper2018`` (the paper's).
    """
    return _fingerprint_and_sites(atoms, mask_inner_px=mask_inner_px, mask_outer_px=mask_outer_px,
                                  z_shift=z_shift, angle_deg=angle_deg, target_atoms=target_atoms, dtype=dtype,
                                  name=name, preprocessing=preprocessing, intensity=intensity)[0]


def _fingerprint_and_sites(atoms: Atoms, *, mask_inner_px=MASK_INNER_PX, mask_outer_px=None, z_shift=Z_SHIFT,
                           angle_deg=ANGLE_DEG, target_atoms=TARGET_ATOMS, dtype=np.float32,
                           name="structure", preprocessing=PREPROCESSING,
                           intensity="linear") -> tuple[np.ndarray, int]:
    """:func:`fingerprint` and the sites per primitive cell of the crystal found (0: not looked for)."""
    positions, numbers, keep, sites = _fingerprint_inputs(atoms, mask_inner_px, mask_outer_px, z_shift,
                                                          angle_deg, target_atoms, name, preprocessing)
    channels = np.zeros((3, N_PIXELS * N_PIXELS), dtype=np.float64)
    for i, rotation in enumerate(_rotations(angle_deg)):
        channels[i // 2] += _pattern(positions @ rotation.T, numbers, keep, dtype)
    return _normalise(channels, name, intensity), sites


# --------------------------------------------------------------------------------------------
# Many structures
# --------------------------------------------------------------------------------------------

def gpu_available() -> bool:
    """True if TensorFlow sees a GPU. Looks for an NVIDIA device first, so that a machine without
    one does not pay TensorFlow's import (about 10 s)."""
    import os
    import shutil

    if not (os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi")):
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


@lru_cache(maxsize=1)
def _tensorflow_kernel():
    """The six patterns of a batch of clusters as one TensorFlow graph (float32, GPU if present)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def channels(q, positions, weights, rotations, solid_angle):
        # q (P, 3); positions (B, N, 3); weights (B, P, N) = f_Z(q) of each atom, 0 for padding;
        # rotations (6, 3, 3); solid_angle (P,). Returns (B, 3, P): the +/- pair summed per channel.
        rotated = tf.einsum("rij,bnj->brni", rotations, positions)
        phase = tf.einsum("pk,brnk->brpn", q, rotated)
        w = weights[:, None, :, :]
        re = tf.reduce_sum(tf.cos(phase) * w, axis=-1)
        im = tf.reduce_sum(tf.sin(phase) * w, axis=-1)
        intensity = solid_angle * (re * re + im * im)
        return intensity[:, 0::2, :] + intensity[:, 1::2, :]

    return channels


def _tensorflow_channels(inputs, angle_deg: float, batch_size: int):
    """Channel sums (3, P) of prepared clusters ``[(positions, numbers, keep, sites), ...]`` (same mask)."""
    import tensorflow as tf

    kernel = _tensorflow_kernel()
    keep = inputs[0][2]
    det = detector()
    q = tf.constant(det.q[keep], tf.float32)
    omega = tf.constant(det.solid_angle[keep], tf.float32)
    rotations = tf.constant(_rotations(angle_deg), tf.float32)
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start:start + batch_size]
        n_max = max(len(item[0]) for item in chunk)
        positions = np.zeros((len(chunk), n_max, 3), np.float32)
        weights = np.zeros((len(chunk), int(keep.sum()), n_max), np.float32)
        for b, (p, numbers, *_) in enumerate(chunk):
            positions[b, :len(p)] = p - p.mean(axis=0)
            for z in np.unique(numbers):
                weights[b][:, np.flatnonzero(numbers == z)] = _detector_form_factor(int(z))[keep][:, None]
        result = kernel(q, tf.constant(positions), tf.constant(weights), rotations, omega).numpy()
        for b in range(len(chunk)):
            full = np.zeros((3, det.q.shape[0]))
            full[:, keep] = result[b]
            yield full


@dataclass(frozen=True)
class BatchResult:
    """Fingerprints of a batch: ``fingerprints`` (n_ok, 64, 64, 3) float32 for the structures at
    ``ok`` (indices into the input), and ``failed`` as (index, message) pairs. ``sites`` (n_ok,):
    sites per primitive cell of the crystal the pre-processing found in each (0 when it looks for
    none, as ``paper2018``); ``no_lattice``: the failed indices in which ``crystal_frame`` found no
    lattice (a valid structure that is no crystal, rather than a broken input)."""

    fingerprints: np.ndarray
    ok: np.ndarray
    failed: list[tuple[int, str]]
    sites: np.ndarray | None = None
    no_lattice: tuple[int, ...] = ()


def _one(item):
    """(index, fingerprint, None, sites) or (index, None, message, no lattice found?)."""
    index, atoms, name, kwargs = item
    try:
        fp, sites = _fingerprint_and_sites(atoms, name=name, **kwargs)
        return index, fp, None, sites
    except NoCrystalFrame as exc:
        return index, None, str(exc), True
    except (StructureError, ValueError) as exc:
        return index, None, str(exc), False


def fingerprints(structures, *, processes: int = 1, names=None, progress: bool | None = None,
                 backend: str = "numba", batch_size: int = 16, **kwargs) -> BatchResult:
    """Fingerprints of many structures, on ``processes`` worker processes or with TensorFlow.

    ``structures`` is a sequence of Atoms (or pymatgen structures); ``kwargs`` go to :func:`fingerprint`. A structure that
    cannot be fingerprinted is recorded in ``failed`` with its message and the batch goes on.
    ``backend``: ``numba`` (CPU kernel, default), ``tensorflow`` (float32 graph, on the GPU when
    TensorFlow sees one; ``batch_size`` clusters at a time) or ``auto`` (tensorflow if a GPU is
    present, numba otherwise). Both give the same fingerprints to float32 precision.
    ``progress`` shows a bar on stderr (None: only on a terminal; off a terminal it updates every
    30 s, for log files).
    """
    from .parallel import parallel_map

    if backend not in ("numba", "tensorflow", "auto"):
        raise ValueError(f"unknown backend {backend!r}; choose numba, tensorflow or auto")
    _check_intensity(kwargs.get("intensity", "linear"), "fingerprints")     # once, not per structure
    if backend == "auto":
        backend = "tensorflow" if gpu_available() else "numba"
    structures = list(structures)
    names = list(names) if names is not None else [f"structure {i}" for i in range(len(structures))]
    if backend == "tensorflow":
        return _fingerprints_tensorflow(structures, names, batch_size, **kwargs)
    items = [(i, atoms, names[i], kwargs) for i, atoms in enumerate(structures)]
    out = np.zeros((len(items), N_PIXELS, N_PIXELS, 3), dtype=np.float32)
    ok = np.zeros(len(items), dtype=bool)
    sites = np.zeros(len(items), dtype=int)
    failed, no_lattice = [], []
    _kernels()  # compile (or load) once, before workers fork
    for index, fp, error, extra in parallel_map(_one, items, processes, ordered=False, progress=progress,
                                                desc="fingerprints", unit="fp"):
        if error is None:
            out[index], sites[index] = fp, extra
            ok[index] = True
        else:
            failed.append((index, error))
            if extra:
                no_lattice.append(index)
    return BatchResult(fingerprints=out[ok], ok=np.flatnonzero(ok), failed=sorted(failed), sites=sites[ok],
                       no_lattice=tuple(sorted(no_lattice)))


def _fingerprints_tensorflow(structures, names, batch_size, *, mask_inner_px=MASK_INNER_PX,
                             mask_outer_px=None, z_shift=Z_SHIFT, angle_deg=ANGLE_DEG,
                             target_atoms=TARGET_ATOMS, dtype=np.float32,
                             preprocessing=PREPROCESSING, intensity="linear") -> BatchResult:
    """The batch through :func:`_tensorflow_channels`; preparation and normalisation as on the CPU."""
    inputs, ok, failed, no_lattice = [], [], [], []
    for i, atoms in enumerate(structures):
        try:
            inputs.append(_fingerprint_inputs(atoms, mask_inner_px, mask_outer_px, z_shift, angle_deg,
                                              target_atoms, names[i], preprocessing))
            ok.append(i)
        except (StructureError, ValueError) as exc:
            failed.append((i, str(exc)))
            if isinstance(exc, NoCrystalFrame):
                no_lattice.append(i)
    out = np.zeros((len(inputs), N_PIXELS, N_PIXELS, 3), dtype=np.float32)
    good = np.ones(len(inputs), dtype=bool)
    if inputs:
        for k, channels in enumerate(_tensorflow_channels(inputs, angle_deg, batch_size)):
            try:
                out[k] = _normalise(channels, names[ok[k]], intensity)
            except StructureError as exc:
                good[k] = False
                failed.append((ok[k], str(exc)))
    sites = np.array([item[3] for item in inputs], dtype=int).reshape(-1)
    return BatchResult(fingerprints=out[good], ok=np.asarray(ok, dtype=int)[good], failed=sorted(failed),
                       sites=sites[good], no_lattice=tuple(no_lattice))


# --------------------------------------------------------------------------------------------
# A structure database's fingerprints
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatabaseFingerprints:
    """The fingerprints of a block of a structure database, as :func:`paper_lib.io.write_fingerprints`
    takes them: ``fingerprints`` (n_ok, 64, 64, 3) float32; ``meta``, per fingerprint, the row's
    ``row_id``, ``sid``, ``label``, ``defect`` and ``level`` (%); ``failed``, (row id, message) of the
    rows that could not be fingerprinted; ``attrs``, the file's attributes (``fingerprint``: the
    parameters, ``source``, ``shard``, ``paper_lib_version``, ``dataset_digest`` when the database
    records one)."""

    fingerprints: np.ndarray
    meta: dict
    failed: list[tuple[int, str]]
    attrs: dict

    @property
    def options(self) -> dict:
        """The fingerprint parameters used."""
        return self.attrs["fingerprint"]


def database_options(rows, where="", preprocessing: str | None = None, target_atoms: int | None = None,
                     **options) -> dict:
    """The fingerprint parameters for database rows ``(row_id, atoms, keys)``: ``options`` (the
    keywords of :func:`fingerprint`), and the pre-processing with its cluster size: those given, or
    else those the rows record (the ``structures`` stage writes them for a preset that is not
    ``paper2018``), or else the paper's. The paper's pre-processing adds no keywords (files of the
    paper's runs keep their parameters); another gets ``target_atoms`` (default 250 atoms). The
    intensity scale (:data:`INTENSITY_SCALES`): an ``intensity`` option given, else what the rows
    record; ``linear`` adds no keyword.

    Raises ``ValueError`` naming ``where`` when the rows record different pre-processings, one that
    is not known, or a cluster size that is no count from 2 to 20000."""
    import numbers

    from .preprocessing import METHODS

    recorded = {(keys.get("preprocessing", "paper2018"), keys.get("target_atoms"), keys.get("intensity", "linear"))
                for _, _, keys in rows}
    if len(recorded) > 1:
        raise ValueError(f"{where}: its rows were made with different pre-processing: {sorted(map(str, recorded))}")
    method, target, scale = recorded.pop() if recorded else ("paper2018", None, "linear")
    if scale not in INTENSITY_SCALES:
        raise ValueError(f"{where}: its rows record intensity {scale!r}, which is none of {', '.join(INTENSITY_SCALES)}")
    if method not in METHODS:
        raise ValueError(f"{where}: its rows record preprocessing {method!r}, which is none of {', '.join(METHODS)}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, numbers.Integral)
                               or not 2 <= target <= 20000):
        raise ValueError(f"{where}: its rows record target_atoms {target!r}; it must be a count from 2 to 20000")
    options = dict(options)
    method = preprocessing or method
    if method != "paper2018":
        options.update(preprocessing=method, target_atoms=target_atoms or target or 250)
    if options.get("intensity") is None:
        options.pop("intensity", None)
        if scale != "linear":      # the linear scale adds no keyword (files of earlier runs keep theirs)
            options["intensity"] = scale
    return options


def database_fingerprints(db_path, shard: tuple[int, int] = (0, 1), *, processes: int = 1, backend: str = "numba",
                          progress: bool | None = True, preprocessing: str | None = None,
                          target_atoms: int | None = None, **options) -> DatabaseFingerprints:
    """Fingerprints of block ``K`` of ``N`` (``shard``) of a structure database's rows (contiguous
    blocks of row ids), with the parameters of :func:`database_options`, on ``processes`` workers
    or with ``backend`` (see :func:`fingerprints`). A row that cannot be fingerprinted is recorded
    in ``failed`` and the block goes on."""
    from . import __version__
    from .io import database_metadata, read_structures, row_block

    dataset_digest = database_metadata(db_path).get("dataset_digest")   # checks the file first
    first, stop = row_block(db_path, *shard)
    rows = list(read_structures(db_path, f"id>={first},id<{stop}") if stop > first else [])
    options = database_options(rows, str(db_path), preprocessing, target_atoms, **options)
    names = [f"{db_path} row {row_id}" for row_id, _, _ in rows]
    # database rows are finite clusters already (pbc False): the paper's pre-processing takes them
    # as given; crystal_frame finds each one's frame and cuts its sphere of target_atoms
    result = fingerprints([atoms for _, atoms, _ in rows], processes=processes, names=names,
                          progress=progress, backend=backend, **{"target_atoms": None, **options})
    kept = [rows[i] for i in result.ok]
    meta = {"row_id": [r[0] for r in kept],
            "sid": [r[2].get("sid", -1) for r in kept],
            "label": [r[2].get("label", "") for r in kept],
            "defect": [r[2].get("defect", "") for r in kept],
            "level": np.array([r[2].get("level", 0.0) for r in kept], dtype=float)}
    failed = [(rows[i][0], message) for i, message in result.failed]
    attrs = {"fingerprint": options, "source": str(db_path), "shard": f"{shard[0]}/{shard[1]}",
             "paper_lib_version": __version__}
    if dataset_digest:      # which pristine structures the rows' sids are (see Preset.dataset_digest)
        attrs["dataset_digest"] = str(dataset_digest)
    return DatabaseFingerprints(fingerprints=result.fingerprints, meta=meta, failed=failed, attrs=attrs)
