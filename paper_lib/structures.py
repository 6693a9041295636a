"""Pristine crystal structures: prototypes, the spglib label check and the paper's pre-processing.

Every function takes and returns :class:`ase.Atoms`; lengths are in Angstrom, angles in degrees.

The paper's classes and the prototypes that fill them, with the free parameters real
elemental solids show:

========  =====  ============================================================================
class     SG     prototypes (free parameters sampled)
========  =====  ============================================================================
bcc       229    W (A2)
bct_139   139    In/Pa-like body-centred tetragonal, c/a in 0.8-1.7 but away from 1 and sqrt(2)
bct_141   141    beta-Sn (A5), c/a in 0.50-0.60
diam      227    C/Si/Ge/alpha-Sn (A4)
fcc       225    Cu (A1)
hex       194    Mg (A3, hcp), c/a in 1.55-1.90
rh        166    hR1 alpha-Hg / beta-Po (rhombohedral angle 66-76 or 94-104 deg),
                 hR2 alpha-As/Sb/Bi (A7: internal z 0.22-0.24, hexagonal c/a 2.60-2.85),
                 hR3 alpha-Sm (internal z 0.215-0.230, hexagonal c/a 7.10-7.35)
sc        221    alpha-Po (Ah)
========  =====  ============================================================================

With ``split_hex_rh=False`` (the paper) hex and rh form the single class ``hex/rh``.

Pre-processing, as the paper's methods section describes it: three random rotations about the
crystal axes, the standard conventional cell in the triclinic convention (a along x, b in the xy
plane) without idealising positions, replication toward ``target_atoms`` atoms along the shortest
extent, and scaling by the mean nearest-neighbour distance so that it becomes 1 Angstrom.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import os

import numpy as np

# spglib's C library prints its own warnings ("spglib: No centring was found.") on standard error
# during a symmetry search that fails, which the pre-processing expects to happen and handles; a
# user who wants them sets SPGLIB_WARNING=ON
os.environ.setdefault("SPGLIB_WARNING", "OFF")

import spglib  # noqa: E402
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import cell_to_cellpar, cellpar_to_cell
from ase.spacegroup import crystal

CLASSES_7 = ("bcc", "bct_139", "bct_141", "diam", "fcc", "hex/rh", "sc")
CLASSES_8 = ("bcc", "bct_139", "bct_141", "diam", "fcc", "hex", "rh", "sc")

#: Space groups belonging to each class label (both the 7- and the 8-class labels).
SPACEGROUPS = {
    "bcc": (229,), "bct_139": (139,), "bct_141": (141,), "diam": (227,), "fcc": (225,),
    "hex": (194,), "rh": (166,), "hex/rh": (194, 166), "sc": (221,),
}

#: spglib tolerances (Angstrom) at which every generated structure must show its space group.
CHECK_SYMPRECS = (1e-5,)

#: tolerance (Angstrom) used to find the standard conventional cell in pre-processing
STANDARDIZE_SYMPREC = 1e-3

#: a periodic cell whose neighbour search needs more images of each atom than this is refused as
#: nearly flat (its atoms would nearly coincide)
MAX_IMAGES_PER_ATOM = 100_000

#: a periodic cell whose volume is below this share of the product of its edge lengths is refused
#: as flat (1e-6: angles within about 1e-4 degrees of coplanar; any real crystal is far above)
MIN_CELL_FLATNESS = 1e-6

#: the shortest edge (Angstrom) of a periodic cell accepted: shorter, every atom nearly overlaps its
#: own images (no element's bond is shorter than 0.7 A)
MIN_CELL_EDGE = 0.5


def merged_label(label8: str) -> str:
    """The paper's 7-class label of an 8-class label (hex and rh become ``hex/rh``)."""
    return "hex/rh" if label8 in ("hex", "rh") else label8


# --------------------------------------------------------------------------------------------
# Prototypes
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prototype:
    """A structure type: its 8-class label, space group and a builder.

    ``build(symbol, nn, rng)`` returns the primitive cell (Atoms) for nearest-neighbour distance
    about ``nn`` Angstrom and a dict of the sampled free parameters.
    """

    name: str
    label8: str
    spacegroup: int
    build: Callable[[str, float, np.random.Generator], tuple[Atoms, dict]]


def _cubic(sg: int, basis, a_over_nn: float):
    def build(symbol, nn, rng):
        a = a_over_nn * nn
        return crystal(symbol, basis, spacegroup=sg, primitive_cell=True, cellpar=[a, a, a, 90, 90, 90]), {}
    return build


def _uniform_excluding(rng, low, high, excluded, half_width):
    while True:
        x = rng.uniform(low, high)
        if all(abs(x - e) > half_width for e in excluded):
            return x


def _bct139(symbol, nn, rng):
    c_over_a = _uniform_excluding(rng, 0.8, 1.7, (1.0, math.sqrt(2.0)), 0.05)
    a = nn * 1.1
    return (crystal(symbol, [(0, 0, 0)], spacegroup=139, primitive_cell=True, cellpar=[a, a, c_over_a * a, 90, 90, 90]),
            {"c_over_a": c_over_a})


def _bct141(symbol, nn, rng):
    c_over_a = rng.uniform(0.50, 0.60)
    a = nn * 1.93
    # origin choice 1: 4a at (0, 0, 0), (0, 1/2, 1/4) + I-centring (beta-Sn)
    return (crystal(symbol, [(0, 0, 0)], spacegroup=141, primitive_cell=True, setting=1,
                    cellpar=[a, a, c_over_a * a, 90, 90, 90]),
            {"c_over_a": c_over_a})


def _hcp(symbol, nn, rng):
    c_over_a = rng.uniform(1.55, 1.90)
    a = nn
    return (crystal(symbol, [(1 / 3, 2 / 3, 0.25)], spacegroup=194, primitive_cell=True,
                    cellpar=[a, a, c_over_a * a, 90, 90, 120]),
            {"c_over_a": c_over_a})


def _rhombohedral(symbol, a_hex, c_hex, basis):
    return crystal(symbol, basis, spacegroup=166, primitive_cell=True, setting=1,
                   cellpar=[a_hex, a_hex, c_hex, 90, 90, 120])


def _hr1(symbol, nn, rng):
    alpha = rng.uniform(66, 76) if rng.random() < 0.5 else rng.uniform(94, 104)
    a_r = nn
    a_hex = 2 * a_r * math.sin(math.radians(alpha) / 2)
    c_hex = a_r * math.sqrt(3 * (1 + 2 * math.cos(math.radians(alpha))))
    return _rhombohedral(symbol, a_hex, c_hex, [(0, 0, 0)]), {"alpha": alpha}


def _hr2(symbol, nn, rng):
    z = rng.uniform(0.22, 0.24)
    c_over_a = rng.uniform(2.60, 2.85)
    a_hex = 1.3 * nn
    return _rhombohedral(symbol, a_hex, c_over_a * a_hex, [(0, 0, z)]), {"c_over_a": c_over_a, "z": z}


def _hr3(symbol, nn, rng):
    z = rng.uniform(0.215, 0.230)
    c_over_a = rng.uniform(7.10, 7.35)
    a_hex = nn
    return (_rhombohedral([symbol, symbol], a_hex, c_over_a * a_hex, [(0, 0, 0), (0, 0, z)]),
            {"c_over_a": c_over_a, "z": z})


PROTOTYPES = {p.name: p for p in (
    Prototype("A2_W", "bcc", 229, _cubic(229, [(0, 0, 0)], 2 / math.sqrt(3))),
    Prototype("A6_bct", "bct_139", 139, _bct139),
    Prototype("A5_beta-Sn", "bct_141", 141, _bct141),
    Prototype("A4_diamond", "diam", 227, _cubic(227, [(0, 0, 0)], 4 / math.sqrt(3))),
    Prototype("A1_Cu", "fcc", 225, _cubic(225, [(0, 0, 0)], math.sqrt(2))),
    Prototype("A3_Mg", "hex", 194, _hcp),
    Prototype("hR1_alpha-Hg", "rh", 166, _hr1),
    Prototype("A7_alpha-As", "rh", 166, _hr2),
    Prototype("hR3_alpha-Sm", "rh", 166, _hr3),
    Prototype("Ah_alpha-Po", "sc", 221, _cubic(221, [(0, 0, 0)], 1.0)),
)}

#: Prototype mixture of each 8-class label (weights sum to one).
CLASS_PROTOTYPES = {
    "bcc": {"A2_W": 1.0}, "bct_139": {"A6_bct": 1.0}, "bct_141": {"A5_beta-Sn": 1.0},
    "diam": {"A4_diamond": 1.0}, "fcc": {"A1_Cu": 1.0}, "hex": {"A3_Mg": 1.0},
    "rh": {"hR1_alpha-Hg": 1 / 3, "A7_alpha-As": 1 / 3, "hR3_alpha-Sm": 1 / 3},
    "sc": {"Ah_alpha-Po": 1.0},
}

def class_site_counts(classes) -> dict[str, list[int]]:
    """Sites per primitive cell of the prototypes behind each of ``classes`` (7- or 8-class labels):
    bcc, fcc, sc and bct_139 have 1, bct_141 and diam 2, hex 2, rh 1, 2 or 3."""
    rng = np.random.default_rng(0)
    out: dict[str, set] = {}
    for label8, mixture in CLASS_PROTOTYPES.items():
        label = label8 if label8 in classes else merged_label(label8)
        if label in classes:
            for name in mixture:
                cell, _ = PROTOTYPES[name].build("Cu", 2.5, rng)
                out.setdefault(label, set()).add(len(cell))
    return {label: sorted(counts) for label, counts in out.items()}


#: Share of hcp among the paper's merged hex/rh class (most elemental hex/rh solids are hcp).
HEX_SHARE_OF_HEX_RH = 0.75


@contextlib.contextmanager
def _quiet_spglib():
    """spglib 2.5+ warns on every call that still returns None on failure, as this code expects."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="spglib")
        yield


def spacegroup_number(atoms: Atoms, symprec: float = 1e-3, angle_tolerance: float = -1.0) -> int | None:
    """International space-group number found by spglib, or None when spglib finds none."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    with _quiet_spglib():
        dataset = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle_tolerance)
    return None if dataset is None else int(dataset.number)


class StructureError(ValueError):
    """A structure that cannot be processed (empty, one atom, non-finite coordinates ...)."""


class NotAStructure(StructureError, TypeError):
    """An object that is neither an ``ase.Atoms`` nor a pymatgen structure."""


class StructureWarning(UserWarning):
    """A structure that is read or processed in a way its author may not expect (on stderr): a
    cell dropped by the plain XYZ reader, a slab taken as a finite cluster."""


#: pymatgen classes taken wherever an ``ase.Atoms`` is (periodic crystals and finite molecules/clusters)
PYMATGEN_TYPES = ("Structure", "IStructure", "Molecule", "IMolecule")


def is_pymatgen(obj) -> bool:
    """Whether ``obj`` is a pymatgen ``Structure``/``IStructure``/``Molecule``/``IMolecule`` (or a
    subclass); pymatgen is not imported to find out."""
    return any(cls.__module__.startswith("pymatgen.") and cls.__name__ in PYMATGEN_TYPES
               for cls in type(obj).__mro__)


def is_structure(obj) -> bool:
    """Whether ``obj`` is something :func:`to_atoms` takes: ``ase.Atoms`` or a pymatgen structure."""
    return isinstance(obj, Atoms) or is_pymatgen(obj)


def to_atoms(structure, name: str = "structure") -> Atoms:
    """``structure`` as :class:`ase.Atoms`: an Atoms is returned as it is; a pymatgen ``Structure``
    or ``IStructure`` (periodic on all three axes) or ``Molecule``/``IMolecule`` (a finite cluster,
    no cell) is converted by pymatgen's own ``AseAtomsAdaptor`` (positions and cell in Angstrom,
    unchanged). Raises :class:`StructureError` naming ``name`` for a disordered pymatgen structure
    (partial occupancies have no single Atoms) and :class:`NotAStructure` (a ``TypeError`` too) for
    anything else."""
    if isinstance(structure, Atoms):
        return structure
    if is_pymatgen(structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        if not structure.is_ordered:
            raise StructureError(f"{name}: the pymatgen structure is disordered (partial occupancies); "
                                 "a fingerprint needs one atom per site (order it first, e.g. with pymatgen's "
                                 "OrderDisorderedStructureTransformation)")
        return AseAtomsAdaptor.get_atoms(structure)
    raise NotAStructure(f"{name}: expected an ase.Atoms or a pymatgen Structure/Molecule, got "
                    f"{type(structure).__module__}.{type(structure).__qualname__}")


def check_atoms(atoms: Atoms, name: str = "structure", min_atoms: int = 2) -> None:
    """Raise :class:`StructureError` naming ``name`` if ``atoms`` cannot be used."""
    if len(atoms) == 0:
        raise StructureError(f"{name}: the structure has no atoms")
    if len(atoms) < min_atoms:
        raise StructureError(f"{name}: the structure has {len(atoms)} atom(s); at least {min_atoms} are "
                             "needed (a nearest-neighbour distance needs two)")
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError(f"{name}: the structure has NaN or infinite coordinates")
    if atoms.pbc.any() and (not np.all(np.isfinite(atoms.cell.array)) or atoms.cell.rank < 3):
        raise StructureError(f"{name}: the structure is periodic but its cell is not three-dimensional")
    if atoms.pbc.all():
        lengths = np.linalg.norm(atoms.cell.array, axis=1)
        with np.errstate(all="ignore"):
            flatness = abs(np.linalg.det(atoms.cell.array)) / np.prod(lengths)
        if not lengths.min() >= MIN_CELL_EDGE:
            raise StructureError(f"{name}: a periodic cell edge is {lengths.min():.3g} A long, shorter than "
                                 f"{MIN_CELL_EDGE} A (atoms would overlap their own images); check the cell vectors")
        if not flatness >= MIN_CELL_FLATNESS:    # also NaN (overflowing lengths)
            raise StructureError(f"{name}: the periodic cell is (nearly) flat: its volume is {flatness:.1e} of the "
                                 "product of its edge lengths; check the cell vectors")


# --------------------------------------------------------------------------------------------
# Pre-processing
# --------------------------------------------------------------------------------------------

def random_rotation(atoms: Atoms, rng: np.random.Generator) -> Atoms:
    """Rotate cell and atoms by three random angles about x, y and z (uniform in 0-360 deg)."""
    ax, ay, az = rng.uniform(0, 2 * np.pi, size=3)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    out.positions = atoms.positions @ rot.T
    return out


def standard_conventional_cell(atoms: Atoms, symprec: float = STANDARDIZE_SYMPREC) -> Atoms:
    """Standard conventional cell in the triclinic convention, positions not idealised.

    spglib finds the conventional cell (``to_primitive=False, no_idealize=True``); the cell is then
    rebuilt from its lengths and angles so that a lies along x and b in the xy plane, whatever the
    lattice type. A structure without symmetry keeps its own cell (in that orientation).
    """
    cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    with _quiet_spglib():
        std = spglib.standardize_cell(cell, to_primitive=False, no_idealize=True, symprec=symprec)
    lattice, frac, numbers = std if std is not None else cell
    triclinic = cellpar_to_cell(cell_to_cellpar(np.asarray(lattice)))
    return Atoms(numbers=numbers, cell=triclinic, scaled_positions=np.mod(frac, 1.0), pbc=True)


def replication_for(atoms: Atoms, target_atoms: int) -> tuple[int, int, int]:
    """Repetitions (n1, n2, n3) of a periodic cell toward ``target_atoms`` atoms.

    The cell is repeated one step at a time along the direction whose current extent
    (n_i * |a_i|) is shortest, until the count reaches the target; of the last two candidates the
    one closer to the target is kept.
    """
    lengths = atoms.cell.lengths()
    reps = np.ones(3, dtype=int)
    previous = reps.copy()
    while len(atoms) * reps.prod() < target_atoms:
        previous = reps.copy()
        reps[np.argmin(reps * lengths)] += 1
    n_now, n_before = len(atoms) * reps.prod(), len(atoms) * previous.prod()
    if abs(n_before - target_atoms) < abs(n_now - target_atoms):
        reps = previous
    return tuple(int(n) for n in reps)


def nearest_neighbour_distances(atoms: Atoms) -> np.ndarray:
    """Distance (Angstrom) from each atom to its nearest neighbour.

    Periodic structures (``pbc`` all true) include periodic images (an atom's own image counts);
    anything else is a finite cluster.
    """
    from scipy.spatial import cKDTree

    if atoms.pbc.all():
        cell = atoms.cell.array
        # the shortest cell vector bounds the nearest-neighbour distance from above, so images
        # within that radius suffice: n_i = ceil(radius / spacing of lattice planes i)
        radius = float(np.min(atoms.cell.lengths())) * (1 + 1e-9)
        # plane spacings from the volume (no inverse: a nearly singular cell must not overflow)
        volume = abs(float(np.linalg.det(cell)))
        areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            reach = np.ceil(radius * areas / volume)
            n_images = float(np.prod(2 * reach + 1))      # float: never wraps around
        if not (np.isfinite(n_images) and radius > 0) or n_images > MAX_IMAGES_PER_ATOM:
            raise StructureError(f"the cell is nearly flat: its nearest-neighbour search needs {n_images:.3g} "
                                 "periodic images of every atom")
        n = reach.astype(int)
        shifts = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij"), -1)
        images = (atoms.positions[None, :, :] + (shifts.reshape(-1, 3) @ cell)[:, None, :]).reshape(-1, 3)
        d, _ = cKDTree(images).query(atoms.positions, k=2)
        return d[:, 1]
    if len(atoms) < 2:
        raise StructureError("a nearest-neighbour distance needs at least two atoms")
    d, _ = cKDTree(atoms.positions).query(atoms.positions, k=2)
    return d[:, 1]


def mean_nn_distance(atoms: Atoms) -> float:
    """Mean over atoms of each atom's nearest-neighbour distance (Angstrom)."""
    return float(np.mean(nearest_neighbour_distances(atoms)))


def scale_to_unit_nn(atoms: Atoms) -> Atoms:
    """Scale isotropically so that the mean nearest-neighbour distance becomes 1 Angstrom."""
    d = mean_nn_distance(atoms)
    if not d > 1e-8:
        raise StructureError("atoms coincide: the mean nearest-neighbour distance is zero")
    out = atoms.copy()
    out.set_cell(atoms.cell.array / d, scale_atoms=False)
    out.positions = atoms.positions / d
    return out


def finite_cluster(atoms: Atoms, target_atoms: int = 250, rng: np.random.Generator | None = None) -> Atoms:
    """The paper's pre-processing of a periodic structure into a scaled ~``target_atoms`` supercell.

    Random rotation (if ``rng`` is given), standard conventional cell (triclinic convention),
    replication toward ``target_atoms``, scaling to mean nearest-neighbour distance 1 Angstrom. The
    result is a finite cluster (``pbc=False``) that keeps the supercell it was cut from as its cell,
    so that periodic tools (spglib) can still read it as a crystal.
    """
    if rng is not None:
        atoms = random_rotation(atoms, rng)
    cell = scale_to_unit_nn(standard_conventional_cell(atoms))  # same distances as the supercell
    cluster = cell.repeat(replication_for(cell, target_atoms))
    cluster.pbc = False
    return cluster


# --------------------------------------------------------------------------------------------
# The dataset's pristine structures
# --------------------------------------------------------------------------------------------

def prototype_for(label: str, rng: np.random.Generator) -> Prototype:
    """Draw the prototype of one structure of class ``label`` (7- or 8-class label)."""
    if label == "hex/rh":
        label = "hex" if rng.random() < HEX_SHARE_OF_HEX_RH else "rh"
    mixture = CLASS_PROTOTYPES[label]
    names = list(mixture)
    return PROTOTYPES[names[rng.choice(len(names), p=list(mixture.values()))]]


def pristine_structure(label: str, elements: tuple[int, ...], target_atoms: int,
                       rng: np.random.Generator, max_tries: int = 50,
                       preprocessing: str = "paper2018") -> tuple[Atoms, dict]:
    """One pristine, pre-processed structure of class ``label`` and its record.

    The element and the free parameters are drawn from ``rng``; the conventional cell must show the
    prototype's space group at every tolerance of :data:`CHECK_SYMPRECS`, otherwise it is drawn
    again (at most ``max_tries`` times). Returns the scaled supercell and a dict with ``label``,
    ``label8``, ``spacegroup``, ``element``, ``prototype``, the free parameters and ``nn_distance``
    (the nearest-neighbour distance in Angstrom before scaling). ``preprocessing``: see
    :func:`paper_lib.preprocessing.dataset_cluster`.
    """
    for _ in range(max_tries):
        proto = prototype_for(label, rng)
        z = int(rng.choice(elements))
        symbol = Atoms(numbers=[z]).get_chemical_symbols()[0]
        nn = 2 * float(covalent_radii[z]) * rng.uniform(0.95, 1.05)
        cell, params = proto.build(symbol, nn, rng)
        if all(spacegroup_number(cell, symprec=p) == proto.spacegroup for p in CHECK_SYMPRECS):
            break
    else:
        raise RuntimeError(f"no structure of class {label} passed the spglib check in {max_tries} tries")
    nn_before = mean_nn_distance(cell)
    from .preprocessing import dataset_cluster

    cluster = dataset_cluster(cell, target_atoms, rng, preprocessing)
    record = {"label": merged_label(proto.label8), "label8": proto.label8,
              "spacegroup": proto.spacegroup, "element": symbol, "prototype": proto.name,
              "nn_distance": nn_before, **params}
    return cluster, record


def structure_label(counts: dict[str, int], sid: int) -> str:
    """The class label of pristine structure ``sid`` (structures are numbered class by class)."""
    start = 0
    for label, n in counts.items():
        if sid < start + n:
            return label
        start += n
    raise IndexError(f"structure index {sid} is beyond the {start} structures of the preset")


def structure_rng(seed: int, sid: int) -> np.random.Generator:
    """The random stream of pristine structure ``sid``: independent of sharding and order."""
    return np.random.default_rng([seed, 0, sid])


def pristine_of(preset, sid: int) -> tuple[Atoms, dict]:
    """Pristine structure ``sid`` of a preset and its record, from its own random stream (the
    extended class set's from :func:`paper_lib.prototypes.pristine_prototype`)."""
    label, rng = structure_label(preset.counts, sid), structure_rng(preset.seed, sid)
    if preset.class_set == "extended":
        from .prototypes import pristine_prototype

        atoms, record = pristine_prototype(label, preset.elements, preset.target_atoms, rng,
                                           preprocessing=preset.preprocessing)
    else:
        atoms, record = pristine_structure(label, preset.elements, preset.target_atoms, rng,
                                           preprocessing=preset.preprocessing)
        if preset.split_hex_rh:
            record["label"] = record["label8"]
    if preset.preprocessing != "paper2018":   # the fingerprint stage reads these from the rows
        record.update(preprocessing=preset.preprocessing, target_atoms=preset.target_atoms)
    if preset.intensity != "linear":
        record.update(intensity=preset.intensity)
    return atoms, record


def pristine_shard(preset, shard: int = 0, n_shards: int = 1):
    """Yield ``(sid, atoms, record)`` for the pristine structures of one shard of a preset.

    Shard ``k`` of ``n`` holds the structure indices ``sid`` with ``sid % n == k``; the same preset
    gives the same structures however it is sharded.
    """
    for sid in range(shard, preset.n_pristine, n_shards):
        yield (sid, *pristine_of(preset, sid))


# --------------------------------------------------------------------------------------------
# Held-out splits: test structures that are not copies of training ones
# --------------------------------------------------------------------------------------------
#
# Every structure is scaled to unit nearest-neighbour distance, so two structures of one prototype
# differ only by their free parameters (c/a, the rhombohedral angle, an internal z) and their element
# (its form factor). A random split therefore tests the cubic classes (bcc, diam, fcc, sc: no free
# parameter) on the very geometry the network trained on, and the others on a neighbour of a
# training structure's c/a. :func:`grouped_folds` holds out whole ranges of the free parameter
# instead, with a gap; for the cubic prototypes no geometry can be held out, and whole elements are.

#: the free parameter each prototype's structures are ordered by in :func:`grouped_folds`
#: (dimensionless c/a, or the rhombohedral angle in degrees); prototypes not named have none
SPLIT_PARAMETER = {"A6_bct": "c_over_a", "A5_beta-Sn": "c_over_a", "A3_Mg": "c_over_a",
                   "hR1_alpha-Hg": "alpha", "A7_alpha-As": "c_over_a", "hR3_alpha-Sm": "c_over_a"}

#: relative gap (fraction of the value) :func:`grouped_folds` keeps between the free parameter of
#: every test structure and that of every training structure of the same prototype
GEOMETRY_TOLERANCE = 0.01


@dataclass(frozen=True)
class Fold:
    """One fold of a held-out split, as positions in the records table: ``train``, ``test`` and
    ``excluded`` (in neither: within the tolerance of a test structure's geometry); ``kind`` gives,
    for each test structure, how it is held out (``geometry``, ``element`` or ``random``)."""

    train: np.ndarray
    test: np.ndarray
    excluded: np.ndarray
    kind: np.ndarray


def grouped_folds(records, n_folds: int = 5, tolerance: float = GEOMETRY_TOLERANCE, seed: int = 0) -> list[Fold]:
    """``n_folds`` folds whose test structures are no near-copy of a training structure.

    ``records``: a table (pandas DataFrame) of pristine structures with the columns ``prototype``,
    ``element`` and the free parameters (``c_over_a``, ``alpha``; as in the structure database).
    Every structure is in the test set of exactly one fold.

    * A prototype with a free parameter (:data:`SPLIT_PARAMETER`) is ordered by it and cut into
      ``n_folds`` contiguous ranges; fold k tests range k, and trains on the others less every
      structure whose parameter lies within ``tolerance`` (relative) of a test structure's, so that
      no training structure's geometry is within ``tolerance`` of a test one (kind ``geometry``).
    * A prototype without one (bcc, diamond, fcc, sc) has a single geometry at unit
      nearest-neighbour distance: its elements are dealt to the folds by a permutation seeded with
      ``seed``, and fold k tests the structures of its elements (kind ``element``). Training still
      holds the same geometry with other elements: this part is no test of geometry.
    """
    if n_folds < 2:
        raise ValueError(f"a split needs at least two folds, got {n_folds}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"the relative tolerance must be in [0, 1), got {tolerance}")
    missing = {"prototype", "element"} - set(records.columns)
    if missing:
        raise ValueError(f"the records lack the column(s) {', '.join(sorted(missing))}")
    n = len(records)
    fold_of = np.full(n, -1)
    kind = np.empty(n, dtype=object)
    excluded = [np.zeros(n, dtype=bool) for _ in range(n_folds)]
    prototypes = records["prototype"].to_numpy()
    rng = np.random.default_rng([seed, 7])
    for prototype in sorted(set(prototypes)):
        members = np.flatnonzero(prototypes == prototype)
        column = SPLIT_PARAMETER.get(prototype)
        if column is not None:
            values = records[column].to_numpy(dtype=float)[members]
            if not np.isfinite(values).all():
                raise ValueError(f"{prototype}: some structures have no {column}")
            order = members[np.argsort(values, kind="stable")]
            for k, band in enumerate(np.array_split(order, n_folds)):
                fold_of[band] = k
                kind[band] = "geometry"
                if len(band):
                    test_values = records[column].to_numpy(dtype=float)[band]
                    gap = np.abs(values[:, None] - test_values[None, :]) <= tolerance * np.abs(test_values)[None, :]
                    near = members[gap.any(axis=1)]
                    excluded[k][near] = True
        else:
            elements = np.array(sorted(set(records["element"].to_numpy()[members])))
            dealt = np.array_split(elements[rng.permutation(len(elements))], n_folds)
            for k, chosen in enumerate(dealt):
                band = members[np.isin(records["element"].to_numpy()[members], chosen)]
                fold_of[band] = k
                kind[band] = "element"
    folds = []
    for k in range(n_folds):
        test = np.flatnonzero(fold_of == k)
        out = excluded[k] & (fold_of != k)
        train = np.flatnonzero((fold_of != k) & ~out)
        folds.append(Fold(train=train, test=test, excluded=np.flatnonzero(out), kind=kind[test].astype(str)))
    return folds


def random_folds(labels, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """``n_folds`` class-stratified random folds (the usual split, for comparison with
    :func:`grouped_folds`): each class's structures are permuted (seeded) and dealt to the folds;
    every structure is tested once (kind ``random``)."""
    if n_folds < 2:
        raise ValueError(f"a split needs at least two folds, got {n_folds}")
    labels = np.asarray(labels)
    fold_of = np.full(len(labels), -1)
    rng = np.random.default_rng([seed, 8])
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        for k, band in enumerate(np.array_split(members[rng.permutation(len(members))], n_folds)):
            fold_of[band] = k
    return [Fold(train=np.flatnonzero(fold_of != k), test=np.flatnonzero(fold_of == k),
                 excluded=np.array([], dtype=int), kind=np.full(int((fold_of == k).sum()), "random"))
            for k in range(n_folds)]
