"""Out-of-class structures: a held-out set for deciding when the classifier should answer ``unknown``.

The network knows seven classes (bcc 229, bct_139 139, bct_141 141, diam 227, fcc 225, hex/rh 194 and
166, sc 221). Everything built here is *none* of them: no structure, pristine, shows one of the space
groups in :data:`CLASS_SPACEGROUPS` to spglib at 1e-3 Angstrom. The set is used to calibrate a
rejection threshold (split ``"calibration"``) and to test it (split ``"test"``).

Three kinds of structures, all of one element, all periodic ``ase.Atoms``:

``prototype``
    Real elemental crystal structures whose space group is none of the classes' (table
    :data:`PROTOTYPES`): lattice parameters in Angstrom, Wyckoff positions and their free
    parameters as published for the reference element. Per structure the free parameters are
    jittered slightly (ratios b/a, c/a by up to :data:`RATIO_JITTER`, internal coordinates by up to
    :data:`COORDINATE_JITTER`, the scale by up to :data:`SCALE_JITTER`); the conventional cell must
    still show the prototype's space group to spglib at 1e-3 Angstrom. Another element of the
    prototype's list scales the cell by the ratio of covalent radii.
``random``
    A random lattice (lengths 1-2 relative, angles 60-120 deg, not nearly flat) with 1 to 4 sites,
    atoms no closer than :data:`RANDOM_MIN_DISTANCE` d (d = twice the element's covalent radius),
    kept only if spglib at 0.05 d_nn (and at 1e-3 Angstrom) finds a space group outside the classes'.
``amorphous``
    ``liquid``: random sequential addition in a cubic box at liquid density
    (:data:`LIQUID_DENSITY` / d^3) with a hard core of :data:`LIQUID_HARD_CORE` d;
    ``melted_fcc`` / ``melted_bcc``: an fcc or bcc supercell whose atoms are displaced by Gaussian
    vectors of :data:`MELT_SIGMA` (25-35 %) of d_nn per Cartesian component.

What a user brings: every structure is a periodic supercell of about 250-700 atoms (the conventional
cell replicated along its shortest extent), rotated at random (cell and atoms together), with thermal
noise drawn from :data:`NOISE_LEVELS` (Gaussian displacements, sigma per Cartesian component in units
of the pristine structure's mean nearest-neighbour distance d_nn) and vacancies drawn from
:data:`VACANCY_LEVELS` (fraction of atoms removed).

The splits (:data:`SPLITS`) use different prototypes, so that a threshold calibrated on one is tested
on structures it never saw; each holds few-site prototypes (1-2 atoms per primitive cell) and
many-site ones. Both A8 structures (Se and Te) sit in the calibration split, so that no structure
type is shared. Random crystals and amorphous boxes of the two splits come from different random
streams; the test split also holds melted crystals, which calibration never sees.

For a model of other classes (the extended model, whose classes are prototypes of
:mod:`paper_lib.prototypes`), :func:`held_out_set` takes the model's ``classes``: a prototype of the
set that is the same structure type as one of them (:data:`STRUCTURE_TYPES`: beta-W, Se, Te, alpha-U,
alpha-Mn and alpha-Ga are extended classes) is left out, and a random crystal must also avoid their
space groups. Without ``classes`` (or with the seven, which name no prototype) the set is the one
described above.

Lengths are in Angstrom, angles in degrees, noise in fractions of d_nn.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import spglib
from ase import Atoms
from ase.build import niggli_reduce
from ase.data import atomic_numbers, covalent_radii
from ase.geometry import cellpar_to_cell
from ase.spacegroup import crystal

from .defects import displacements, vacancies
from .prototypes import EXTENDED, PUBLISHED
from .structures import (SPACEGROUPS, StructureError, _quiet_spglib, mean_nn_distance,
                         nearest_neighbour_distances, spacegroup_number)

#: the space groups of the seven classes: no out-of-class structure may show one of them
CLASS_SPACEGROUPS = frozenset(sg for sgs in SPACEGROUPS.values() for sg in sgs)

#: spglib tolerance (Angstrom) at which a pristine structure's space group is checked
SYMPREC = 1e-3

# --------------------------------------------------------------------------------------------
# Prototypes: real crystallographic data
# --------------------------------------------------------------------------------------------
#
# A15, A12, A8 (Se and Te), A20 and A11 take their published data (a, b/a, c/a, free coordinates)
# from paper_lib.prototypes.PUBLISHED, whose extended prototype library builds them too:
#
# name                 SG   setting  data                   Wyckoff sites                             atoms/prim
# A15_beta-W          223   1        PUBLISHED["beta-W"]    2a (0,0,0), 6c (1/4,0,1/2)                      8
# A12_alpha-Mn        217   1        PUBLISHED["alpha-Mn"]  2a (0,0,0); 8c (x2,x2,x2); 24g (x3,x3,z3);     29
#                                                           24g (x4,x4,z4)
# A8_Se               152   1        PUBLISHED["Se"]        3a (x,0,1/3)                                    3
# A8_Te               152   1        PUBLISHED["Te"]        3a (x,0,1/3)                                    3
# A20_alpha-U          63   1        PUBLISHED["alpha-U"]   4c (0,y,1/4)                                    2
# A11_alpha-Ga         64   1        PUBLISHED["alpha-Ga"]  8f (0,y,z)                                      4
#
# The others:
#
# name                 SG   setting  a (A)    b/a      c/a      free parameters (fractional)       atoms/prim
# A13_beta-Mn         213   1        6.315    1        1        8c x=0.0636; 12d (1/8,y,y+1/4) y=0.2022   20
# A17_black-P          64   1        3.3136   3.16212  1.32071  8f (0,y,z) y=0.10168, z=0.08056           4
# A14_I2               64   1        7.136    0.65667  1.37108  8f (0,y,z) y=0.15434, z=0.11741           4
# Af_simple-hex       191   1        2.527    1        0.90-0.98  1a (0,0,0)                            1
# simple-tetragonal   123   1        3.0      1        0.78-0.90 or 1.12-1.25  1a (0,0,0)               1
# gamma-Pu             70   1        3.1587   1.82613  3.21715  8a (0,0,0) (origin choice 1)            2
# Ad_beta-Np          129   2        4.897    1        0.69185  2a (3/4,1/4,0); 2c (1/4,1/4,z) z=0.375    4
# Ab_beta-U           136   1        10.759   1        0.52570  sigma-phase (D8b) coordinates, below     30
# BC8_Si              206   1        6.636    1        1        16c (x,x,x) x=0.1003                      8
#
# beta-U: 2a (0,0,0); 4f (x,x,0) x=0.3981; 8i (x,y,0) x=0.4632, y=0.1316; 8i x=0.7376, y=0.0653;
# 8j (x,x,z) x=0.1823, z=0.2524 -- the coordinates of sigma-FeCr, with which beta-U is isostructural
# (AFLOW's prototype library lists the two as identical up to an origin shift), on the beta-U
# lattice. They give the Frank-Kasper coordinations 12, 15, 14, 12, 14 of the five sites.


@dataclass(frozen=True)
class OutOfClassPrototype:
    """An elemental crystal structure outside the seven classes.

    ``params`` holds ``a`` (Angstrom), the ratios ``b/a`` and ``c/a`` and the free internal
    coordinates; ``basis(params)`` gives the Wyckoff representatives (fractional) and ``gamma`` the
    cell angle between a and b (90 or 120 deg; the others are 90). ``ranges`` replaces the default
    jitter of a parameter by uniform draws from one of the listed intervals.
    """

    name: str
    description: str
    spacegroup: int
    sites_per_primitive: int
    element: str                     # the element the data are for
    elements: tuple[str, ...]        # the elements a structure may be given
    params: dict
    basis: Callable[[dict], list]
    gamma: float = 90.0
    setting: int = 1
    ranges: dict = field(default_factory=dict)


_SIGMA_PHASE = {"x_4f": 0.3981, "x_8i1": 0.4632, "y_8i1": 0.1316, "x_8i2": 0.7376, "y_8i2": 0.0653,
                "x_8j": 0.1823, "z_8j": 0.2524}

PROTOTYPES = {p.name: p for p in (
    OutOfClassPrototype(
        "A15_beta-W", "beta-W (Cr3Si type, A15): chains of W along the cube axes, 8 atoms per cell",
        223, 8, "W", ("W",), dict(PUBLISHED["beta-W"]),
        lambda p: [(0, 0, 0), (0.25, 0, 0.5)]),
    OutOfClassPrototype(
        "A13_beta-Mn", "beta-Mn (A13): cubic, 20 atoms per cell on two sites, chiral P4_132",
        213, 20, "Mn", ("Mn",), {"a": 6.315, "b/a": 1.0, "c/a": 1.0, "x": 0.0636, "y": 0.2022},
        lambda p: [(p["x"], p["x"], p["x"]), (0.125, p["y"], p["y"] + 0.25)]),
    OutOfClassPrototype(
        "A12_alpha-Mn", "alpha-Mn (A12): body-centred cubic cell of 58 atoms on four sites",
        217, 29, "Mn", ("Mn",), dict(PUBLISHED["alpha-Mn"]),
        lambda p: [(0, 0, 0), (p["x2"], p["x2"], p["x2"]), (p["x3"], p["x3"], p["z3"]),
                   (p["x4"], p["x4"], p["z4"])]),
    OutOfClassPrototype(
        "A8_Se", "trigonal Se (A8): helical chains along c, 3 atoms per cell",
        152, 3, "Se", ("Se",), dict(PUBLISHED["Se"]),
        lambda p: [(p["x"], 0, 1 / 3)], gamma=120.0),
    OutOfClassPrototype(
        "A8_Te", "trigonal Te (A8): helical chains along c, more metallic (larger c/a and x) than Se",
        152, 3, "Te", ("Te",), dict(PUBLISHED["Te"]),
        lambda p: [(p["x"], 0, 1 / 3)], gamma=120.0),
    OutOfClassPrototype(
        "A20_alpha-U", "alpha-U (A20): orthorhombic, corrugated layers (a distorted hcp), 2 atoms per "
        "primitive cell", 63, 2, "U", ("U",),
        dict(PUBLISHED["alpha-U"]),
        lambda p: [(0, p["y"], 0.25)]),
    OutOfClassPrototype(
        "A11_alpha-Ga", "alpha-Ga (A11): Ga2 dimers in a buckled orthorhombic network",
        64, 4, "Ga", ("Ga",), dict(PUBLISHED["alpha-Ga"]),
        lambda p: [(0, p["y"], p["z"])]),
    OutOfClassPrototype(
        "A17_black-P", "black phosphorus (A17): puckered honeycomb layers, three bonds per atom",
        64, 4, "P", ("P", "As"),
        {"a": 3.3136, "b/a": 3.16212, "c/a": 1.32071, "y": 0.10168, "z": 0.08056},
        lambda p: [(0, p["y"], p["z"])]),
    OutOfClassPrototype(
        "A14_I2", "solid iodine (A14, 110 K): I2 molecules (2.72 A) in layers, 3.50 A between molecules",
        64, 4, "I", ("I", "Br"),
        {"a": 7.136, "b/a": 0.65667, "c/a": 1.37108, "y": 0.15434, "z": 0.11741},
        lambda p: [(0, p["y"], p["z"])]),
    OutOfClassPrototype(
        "Af_simple-hex", "simple hexagonal (Si-V at about 15 GPa): one atom per cell, c/a 0.90-0.98",
        191, 1, "Si", ("Si", "Ge"), {"a": 2.527, "b/a": 1.0, "c/a": 0.939},
        lambda p: [(0, 0, 0)], gamma=120.0, ranges={"c/a": ((0.90, 0.98),)}),
    OutOfClassPrototype(
        "simple-tetragonal", "simple tetragonal (hypothetical): one atom per cell, c/a away from 1",
        123, 1, "Sn", ("Sn", "In"), {"a": 3.0, "b/a": 1.0, "c/a": 0.85},
        lambda p: [(0, 0, 0)], ranges={"c/a": ((0.78, 0.90), (1.12, 1.25))}),
    OutOfClassPrototype(
        "gamma-Pu", "gamma-Pu (Fddd, 508-593 K): face-centred orthorhombic, 2 atoms per primitive cell",
        70, 2, "Pu", ("Pu",), {"a": 3.1587, "b/a": 1.82613, "c/a": 3.21715},
        lambda p: [(0, 0, 0)], setting=1),
    OutOfClassPrototype(
        "Ad_beta-Np", "beta-Np (Ad, 850 K): tetragonal P4/nmm, 4 atoms on two sites",
        129, 4, "Np", ("Np",), {"a": 4.897, "b/a": 1.0, "c/a": 0.69185, "z": 0.375},
        lambda p: [(0.75, 0.25, 0), (0.25, 0.25, p["z"])], setting=2),
    OutOfClassPrototype(
        "Ab_beta-U", "beta-U (Ab, sigma-phase type): tetragonal, 30 atoms on five sites (Frank-Kasper)",
        136, 30, "U", ("U",), {"a": 10.759, "b/a": 1.0, "c/a": 0.52570, **_SIGMA_PHASE},
        lambda p: [(0, 0, 0), (p["x_4f"], p["x_4f"], 0), (p["x_8i1"], p["y_8i1"], 0),
                   (p["x_8i2"], p["y_8i2"], 0), (p["x_8j"], p["x_8j"], p["z_8j"])]),
    OutOfClassPrototype(
        "BC8_Si", "BC8 Si (Si-III, metastable after decompression): body-centred cubic, 16 atoms, "
        "four bonds per atom", 206, 8, "Si", ("Si", "Ge"), {"a": 6.636, "b/a": 1.0, "c/a": 1.0, "x": 0.1003},
        lambda p: [(p["x"], p["x"], p["x"])]),
)}

#: the prototype of the extended library (:data:`paper_lib.prototypes.EXTENDED`) that each of these
#: prototypes is the same structure type as (same space group and Wyckoff sites; A8_Se and A8_Te are
#: both A8_gamma-Se); the others are none of the library's
STRUCTURE_TYPES = {"A15_beta-W": "A15_beta-W", "A8_Se": "A8_gamma-Se", "A8_Te": "A8_gamma-Se",
                   "A20_alpha-U": "A20_alpha-U", "A12_alpha-Mn": "A12_alpha-Mn",
                   "A11_alpha-Ga": "A11_alpha-Ga"}

#: which prototypes make up each split (no structure type is shared)
SPLITS = {
    "calibration": ("A15_beta-W", "A8_Se", "A8_Te", "A20_alpha-U", "Af_simple-hex", "A17_black-P",
                    "BC8_Si"),
    "test": ("A13_beta-Mn", "A12_alpha-Mn", "Ab_beta-U", "A11_alpha-Ga", "A14_I2",
             "simple-tetragonal", "gamma-Pu", "Ad_beta-Np"),
}

#: the amorphous snapshots of each split (drawn in turn)
AMORPHOUS_KINDS = {"calibration": ("liquid",), "test": ("melted_fcc", "melted_bcc", "liquid")}

#: jitter of a prototype's free parameters per structure: scale of the cell (relative), ratios b/a
#: and c/a (relative), internal coordinates (absolute, fractional)
SCALE_JITTER = 0.02
RATIO_JITTER = 0.01
COORDINATE_JITTER = 0.003

#: per structure, sigma of the thermal noise (fraction of d_nn, per Cartesian component) and the
#: fraction of atoms removed, each drawn with equal probability
NOISE_LEVELS = (0.0, 0.02, 0.05)
VACANCY_LEVELS = (0.0, 0.1)

#: atoms in a supercell: the target is drawn uniformly from this range
SUPERCELL_ATOMS = (250, 700)

#: elements of random crystals and amorphous boxes (d = twice the covalent radius, 2.2-3.5 A)
RANDOM_ELEMENTS = ("Al", "Si", "Ti", "Fe", "Ni", "Cu", "Zn", "Ge", "Zr", "Mo", "Sn", "Mg")

#: random crystals: closest approach of two atoms, in units of d
RANDOM_MIN_DISTANCE = 0.85
#: random crystals: volume per atom, in units of d^3 (fcc has 0.71, sc 1.0)
RANDOM_VOLUME_PER_ATOM = (0.8, 1.4)
#: random crystals: spglib tolerance in units of the crystal's mean nearest-neighbour distance
RANDOM_SYMPREC = 0.05

#: liquid boxes: number density in units of 1/d^3 (liquid Cu and Al near melting: about 1.15-1.2)
LIQUID_DENSITY = (1.10, 1.20)
#: liquid boxes: hard-core diameter in units of d
LIQUID_HARD_CORE = 0.75
#: melted crystals: Gaussian displacement per Cartesian component, in units of d_nn
MELT_SIGMA = (0.25, 0.35)


def _symbol_d(symbol: str) -> float:
    """Twice the covalent radius of an element (Angstrom): the nearest-neighbour distance used to
    size random crystals and amorphous boxes."""
    return 2.0 * float(covalent_radii[atomic_numbers[symbol]])


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

def _draw_params(proto: OutOfClassPrototype, rng: np.random.Generator) -> dict:
    """The prototype's parameters, each jittered (or drawn from its ``ranges``)."""
    params = {}
    for key, value in proto.params.items():
        if key in proto.ranges:
            low, high = proto.ranges[key][rng.integers(len(proto.ranges[key]))]
            params[key] = float(rng.uniform(low, high))
        elif key == "a":
            params[key] = value * (1 + rng.uniform(-SCALE_JITTER, SCALE_JITTER))
        elif key in ("b/a", "c/a"):
            # a ratio of 1 is a symmetry (cubic, tetragonal or hexagonal axes), not a free parameter
            params[key] = value if value == 1.0 else value * (1 + rng.uniform(-RATIO_JITTER, RATIO_JITTER))
        else:
            params[key] = value + rng.uniform(-COORDINATE_JITTER, COORDINATE_JITTER)
    return params


def prototype_cell(name: str, symbol: str | None = None,
                   rng: np.random.Generator | None = None, max_tries: int = 20) -> tuple[Atoms, dict]:
    """The conventional cell of prototype ``name`` (periodic Atoms) and its parameters.

    Without ``rng`` the published data for the reference element (or ``symbol``); with ``rng`` the
    parameters are jittered and, unless ``symbol`` is given, the element is drawn from the
    prototype's list. The lattice is scaled by the ratio of covalent radii of ``symbol`` and the
    reference element. The cell must show the prototype's space group at :data:`SYMPREC`.
    """
    proto = PROTOTYPES[name]
    if symbol is None:
        symbol = proto.element if rng is None else str(rng.choice(proto.elements))
    scale = _symbol_d(symbol) / _symbol_d(proto.element)
    for _ in range(max_tries if rng is not None else 1):
        params = dict(proto.params) if rng is None else _draw_params(proto, rng)
        a = params["a"] * scale
        cellpar = [a, a * params["b/a"], a * params["c/a"], 90.0, 90.0, proto.gamma]
        basis = proto.basis(params)
        cell = crystal([symbol] * len(basis), basis, spacegroup=proto.spacegroup, setting=proto.setting,
                       cellpar=cellpar, onduplicates="error", pbc=True)
        if spacegroup_number(cell, SYMPREC) == proto.spacegroup:
            return cell, {**params, "element": symbol}
    raise RuntimeError(f"{name}: no cell with space group {proto.spacegroup} in {max_tries} tries")


def supercell(cell: Atoms, rng: np.random.Generator, atoms_range=SUPERCELL_ATOMS) -> Atoms:
    """Replicate ``cell`` toward a number of atoms drawn from ``atoms_range``.

    The cell is repeated one step at a time along its shortest extent (n_i |a_i|); of the sizes
    passed on the way, the one nearest the target within ``atoms_range`` is kept (the nearest
    overall if none falls inside).
    """
    low, high = atoms_range
    target = int(rng.integers(low, high + 1))
    lengths = cell.cell.lengths()
    reps = np.ones(3, dtype=int)
    candidates = [reps.copy()]
    while len(cell) * reps.prod() < max(target, low):
        reps[np.argmin(reps * lengths)] += 1
        candidates.append(reps.copy())
    counts = np.array([len(cell) * r.prod() for r in candidates])
    inside = (counts >= low) & (counts <= high)
    pool = np.flatnonzero(inside) if inside.any() else np.arange(len(counts))
    best = pool[np.argmin(np.abs(counts[pool] - target))]
    return cell.repeat(tuple(int(n) for n in candidates[best]))


def random_rotation(atoms: Atoms, rng: np.random.Generator) -> Atoms:
    """Rotate cell and atoms together by a rotation drawn uniformly from SO(3)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.diag(r))            # Haar-distributed orthogonal matrix
    if np.linalg.det(rot) < 0:
        rot[:, 0] = -rot[:, 0]
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    out.positions = atoms.positions @ rot.T
    return out


def user_structure(atoms: Atoms, rng: np.random.Generator, noise: float, vacancy_fraction: float,
                   nn_distance: float) -> Atoms:
    """What a user brings: ``atoms`` rotated at random, with Gaussian noise of ``noise`` d_nn per
    Cartesian component (``nn_distance`` = d_nn in Angstrom) and ``vacancy_fraction`` of the atoms
    removed. The cell stays periodic."""
    out = random_rotation(atoms, rng)
    if noise > 0:
        out = displacements(out, 100 * noise, rng, nn_distance=nn_distance)
    if vacancy_fraction > 0:
        out = vacancies(out, 100 * vacancy_fraction, rng)
    out.pbc = True
    return out


# --------------------------------------------------------------------------------------------
# Random crystals
# --------------------------------------------------------------------------------------------

def _primitive_size(dataset) -> int:
    return len(set(np.asarray(dataset.mapping_to_primitive).tolist()))


def _sites_apart(cell: Atoms, n_sites: int, d_min: float, rng: np.random.Generator,
                 tries: int = 20) -> Atoms | None:
    """``n_sites`` atoms at uniform random positions in ``cell`` with no two (periodic images
    included) closer than ``d_min`` Angstrom, or None if ``tries`` draws fail."""
    for _ in range(tries):
        atoms = Atoms(numbers=[cell.numbers[0]] * n_sites, cell=cell.cell,
                      scaled_positions=rng.random((n_sites, 3)), pbc=True)
        try:
            if nearest_neighbour_distances(atoms).min() >= d_min:
                return atoms
        except StructureError:          # a cell too flat for a neighbour search
            return None
    return None


def random_crystal(rng: np.random.Generator, symbol: str | None = None,
                   max_tries: int = 500, spacegroups=CLASS_SPACEGROUPS) -> tuple[Atoms, dict]:
    """A random crystal of one element and its record.

    Lengths are drawn in 1-2 (relative), angles in 60-120 deg; a lattice whose volume is below half
    of abc (nearly flat) is drawn again. The volume is 1-4 sites times a volume per atom drawn from
    :data:`RANDOM_VOLUME_PER_ATOM` d^3; the cell is Niggli-reduced. Sites are drawn uniformly and
    redrawn while two atoms (periodic images included) are closer than :data:`RANDOM_MIN_DISTANCE` d.
    The crystal is kept only if spglib, at :data:`RANDOM_SYMPREC` d_nn and at :data:`SYMPREC`,
    finds a space group outside ``spacegroups`` (default :data:`CLASS_SPACEGROUPS`; see
    :func:`class_spacegroups`). The record holds ``element``,
    ``spacegroup`` and ``sites_per_primitive`` (at the looser tolerance), ``nn_distance`` (mean
    nearest-neighbour distance, Angstrom) and ``min_distance`` (Angstrom).
    """
    symbol = symbol or str(rng.choice(RANDOM_ELEMENTS))
    d = _symbol_d(symbol) * rng.uniform(0.95, 1.05)
    d_min = RANDOM_MIN_DISTANCE * d
    number = atomic_numbers[symbol]
    for _ in range(max_tries):
        n_sites = int(rng.integers(1, 5))
        lengths = rng.uniform(1.0, 2.0, size=3)
        angles = rng.uniform(60.0, 120.0, size=3)
        ca, cb, cg = np.cos(np.radians(angles))
        # squared volume of the unit-edge cell; below 0.25 (volume below abc/2) the cell is nearly flat
        if 1 - ca ** 2 - cb ** 2 - cg ** 2 + 2 * ca * cb * cg < 0.25:
            continue
        lattice = cellpar_to_cell(np.concatenate([lengths, angles]))
        volume = n_sites * rng.uniform(*RANDOM_VOLUME_PER_ATOM) * d ** 3
        lattice *= (volume / abs(np.linalg.det(lattice))) ** (1 / 3)
        cell = Atoms(numbers=[number], cell=lattice, pbc=True)
        niggli_reduce(cell)
        atoms = _sites_apart(cell, n_sites, d_min, rng)
        if atoms is None:
            continue
        nn = nearest_neighbour_distances(atoms)
        d_nn = float(nn.mean())
        with _quiet_spglib():
            dataset = spglib.get_symmetry_dataset(
                (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), symprec=RANDOM_SYMPREC * d_nn)
        if dataset is None or int(dataset.number) in spacegroups:
            continue
        if spacegroup_number(atoms, SYMPREC) in spacegroups:
            continue
        return atoms, {"element": symbol, "spacegroup": int(dataset.number),
                       "sites_per_primitive": _primitive_size(dataset), "nn_distance": d_nn,
                       "min_distance": d_min}
    raise RuntimeError(f"no random crystal outside the classes' space groups in {max_tries} tries")


# --------------------------------------------------------------------------------------------
# Amorphous and liquid snapshots
# --------------------------------------------------------------------------------------------

def liquid_box(rng: np.random.Generator, n_atoms: int, symbol: str, d: float,
               density: float | None = None, hard_core: float | None = None,
               batch: int = 256, max_batches: int = 2000) -> Atoms:
    """A periodic cubic box of ``n_atoms`` atoms at random positions with a hard core.

    Random sequential addition: candidates are drawn uniformly in the box, a batch at a time, and
    the first one farther than ``hard_core`` (Angstrom; default :data:`LIQUID_HARD_CORE` d) from
    every atom already placed (nearest periodic image) is added. ``density`` is the number density
    in atoms per cubic Angstrom (default drawn from :data:`LIQUID_DENSITY` / d^3).
    """
    if density is None:
        density = rng.uniform(*LIQUID_DENSITY) / d ** 3
    if hard_core is None:
        hard_core = LIQUID_HARD_CORE * d
    side = (n_atoms / density) ** (1 / 3)
    placed = np.empty((n_atoms, 3))
    placed[0] = rng.uniform(0, side, 3)
    n = 1
    for _ in range(max_batches):
        if n == n_atoms:
            break
        candidates = rng.uniform(0, side, (batch, 3))
        for c in candidates:
            delta = placed[:n] - c
            delta -= side * np.round(delta / side)
            if np.einsum("ij,ij->i", delta, delta).min() >= hard_core ** 2:
                placed[n] = c
                n += 1
                if n == n_atoms:
                    break
    if n < n_atoms:
        raise RuntimeError(f"random sequential addition placed only {n} of {n_atoms} atoms")
    return Atoms(symbols=[symbol] * n_atoms, positions=placed, cell=np.eye(3) * side, pbc=True)


def melted_crystal(rng: np.random.Generator, lattice: str, symbol: str, d: float,
                   sigma: float | None = None) -> Atoms:
    """An fcc or bcc supercell (250-700 atoms, nearest-neighbour distance ``d`` Angstrom) whose atoms
    are displaced by Gaussian vectors of ``sigma`` d per Cartesian component (default drawn from
    :data:`MELT_SIGMA`), wrapped back into the cell."""
    if sigma is None:
        sigma = rng.uniform(*MELT_SIGMA)
    if lattice == "fcc":
        a, basis, reps = math.sqrt(2) * d, [(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)], (4, 5)
    elif lattice == "bcc":
        a, basis, reps = 2 * d / math.sqrt(3), [(0, 0, 0), (.5, .5, .5)], (5, 6, 7)
    else:
        raise ValueError(f"lattice must be 'fcc' or 'bcc', not {lattice!r}")
    n = int(rng.choice(reps))
    cell = Atoms(symbols=[symbol] * len(basis), scaled_positions=basis, cell=np.eye(3) * a, pbc=True)
    atoms = cell.repeat((n, n, n))
    atoms.positions += rng.normal(0.0, sigma * d, size=atoms.positions.shape)
    atoms.wrap()
    return atoms


# --------------------------------------------------------------------------------------------
# The held-out set
# --------------------------------------------------------------------------------------------

def _stream(seed: int, split: str, name: str, index: int) -> np.random.Generator:
    """The random stream of one structure: independent of the others and of their order."""
    return np.random.default_rng([seed, tuple(SPLITS).index(split), zlib.crc32(name.encode()), index])


def _variation(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.choice(NOISE_LEVELS)), float(rng.choice(VACANCY_LEVELS))


def prototype_structure(name: str, split: str, rng: np.random.Generator,
                        noise: float | None = None, vacancy_fraction: float | None = None) -> tuple[Atoms, dict]:
    """One user-like structure of prototype ``name`` and its record (noise and vacancies drawn
    from :data:`NOISE_LEVELS` and :data:`VACANCY_LEVELS` unless given)."""
    drawn = _variation(rng)
    noise = drawn[0] if noise is None else noise
    vacancy_fraction = drawn[1] if vacancy_fraction is None else vacancy_fraction
    proto = PROTOTYPES[name]
    cell, params = prototype_cell(name, rng=rng)
    d_nn = mean_nn_distance(cell)
    atoms = user_structure(supercell(cell, rng), rng, noise, vacancy_fraction, d_nn)
    return atoms, {"name": name, "kind": "prototype", "split": split, "spacegroup": proto.spacegroup,
                   "sites_per_primitive": proto.sites_per_primitive, "noise": noise,
                   "vacancies": vacancy_fraction, "element": params["element"], "nn_distance": d_nn,
                   "min_distance": None}


def random_structure(split: str, rng: np.random.Generator, noise: float | None = None,
                     vacancy_fraction: float | None = None,
                     spacegroups=CLASS_SPACEGROUPS) -> tuple[Atoms, dict]:
    """One user-like random crystal (none of ``spacegroups``, see :func:`random_crystal`) and its record."""
    drawn = _variation(rng)
    noise = drawn[0] if noise is None else noise
    vacancy_fraction = drawn[1] if vacancy_fraction is None else vacancy_fraction
    cell, record = random_crystal(rng, spacegroups=spacegroups)
    atoms = user_structure(supercell(cell, rng), rng, noise, vacancy_fraction, record["nn_distance"])
    return atoms, {"name": "random_crystal", "kind": "random", "split": split,
                   "spacegroup": record["spacegroup"], "sites_per_primitive": record["sites_per_primitive"],
                   "noise": noise, "vacancies": vacancy_fraction, "element": record["element"],
                   "nn_distance": record["nn_distance"], "min_distance": record["min_distance"]}


def amorphous_structure(name: str, split: str, rng: np.random.Generator, noise: float | None = None,
                        vacancy_fraction: float | None = None) -> tuple[Atoms, dict]:
    """One user-like amorphous snapshot (``liquid``, ``melted_fcc`` or ``melted_bcc``) and its record."""
    drawn = _variation(rng)
    noise = drawn[0] if noise is None else noise
    vacancy_fraction = drawn[1] if vacancy_fraction is None else vacancy_fraction
    symbol = str(rng.choice(RANDOM_ELEMENTS))
    d = _symbol_d(symbol) * rng.uniform(0.95, 1.05)
    if name == "liquid":
        hard_core = LIQUID_HARD_CORE * d
        box = liquid_box(rng, int(rng.integers(SUPERCELL_ATOMS[0], SUPERCELL_ATOMS[1] + 1)), symbol, d,
                         hard_core=hard_core)
    elif name in ("melted_fcc", "melted_bcc"):
        hard_core = None
        box = melted_crystal(rng, name.split("_")[1], symbol, d)
    else:
        raise ValueError(f"unknown amorphous kind {name!r}; known: liquid, melted_fcc, melted_bcc")
    d_nn = mean_nn_distance(box)
    atoms = user_structure(box, rng, noise, vacancy_fraction, d_nn)
    return atoms, {"name": name, "kind": "amorphous", "split": split, "spacegroup": None,
                   "sites_per_primitive": None, "noise": noise, "vacancies": vacancy_fraction,
                   "element": symbol, "nn_distance": d_nn, "min_distance": hard_core}


def class_spacegroups(classes=()) -> frozenset:
    """The space groups no out-of-class structure may show for a model of ``classes``: those of the
    seven classes (:data:`CLASS_SPACEGROUPS`) and of every class that is a prototype of the extended
    library (:data:`paper_lib.prototypes.EXTENDED`)."""
    return CLASS_SPACEGROUPS | frozenset(EXTENDED[c].spacegroup for c in classes if c in EXTENDED)


def split_prototypes(split: str, classes=()) -> tuple[str, ...]:
    """The prototypes of ``split`` (:data:`SPLITS`) that are out of class for a model of ``classes``:
    those whose structure type (:data:`STRUCTURE_TYPES`, or their own name) is none of ``classes``.
    The seven classes name no prototype: for them (and for no ``classes``) the whole split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    classes = set(classes)
    return tuple(name for name in SPLITS[split] if STRUCTURE_TYPES.get(name, name) not in classes)


def held_out_set(split: str, n_per_kind: int, seed: int, classes=()) -> list[tuple[Atoms, dict]]:
    """The out-of-class structures of ``split`` (``"calibration"`` or ``"test"``) for a model of
    ``classes`` (class names; default and the seven classes: the set as first built).

    ``n_per_kind`` structures of every prototype of the split that is none of the classes
    (:func:`split_prototypes`), ``n_per_kind``
    random crystals (none of the space groups of :func:`class_spacegroups`) and ``n_per_kind``
    amorphous snapshots (the kinds of :data:`AMORPHOUS_KINDS` in turn), in that order. Each is a periodic, randomly rotated supercell of about 250-700 atoms
    with its record: ``name``, ``kind`` (``prototype``, ``random`` or ``amorphous``), ``split``,
    ``spacegroup`` and ``sites_per_primitive`` (None for amorphous), ``noise`` (sigma in d_nn),
    ``vacancies`` (fraction removed), ``element``, ``nn_distance`` (d_nn of the pristine
    structure, Angstrom) and ``min_distance`` (the hard core of random crystals and liquids,
    Angstrom, else None). Every structure has its own random stream from ``seed``, the split, its
    name and its index: the same arguments give the same structures.
    """
    names = split_prototypes(split, classes)
    if n_per_kind < 0:
        raise ValueError(f"n_per_kind must be >= 0, got {n_per_kind}")
    spacegroups = class_spacegroups(classes)
    out = []
    for name in names:
        for i in range(n_per_kind):
            out.append(prototype_structure(name, split, _stream(seed, split, name, i)))
    for i in range(n_per_kind):
        out.append(random_structure(split, _stream(seed, split, "random_crystal", i), spacegroups=spacegroups))
    kinds = AMORPHOUS_KINDS[split]
    for i in range(n_per_kind):
        name = kinds[i % len(kinds)]
        out.append(amorphous_structure(name, split, _stream(seed, split, "amorphous", i)))
    return out
