"""Invariance cases: the same crystal written down in six ways, with thermal noise and vacancies.

A classifier of crystal structure should give the same answer however a crystal is written down.
:func:`cases` builds, for each class, one crystal (one prototype, one element, one set of free
parameters) and writes it in six *forms*:

=======================  =========================================================================
form                     what it is
=======================  =========================================================================
primitive_supercell      the primitive cell repeated n1 x n2 x n3 (60-1,200 atoms; sometimes
                         elongated, k x k x 2k along a random axis)
conventional_supercell   spglib's standard conventional cell (idealised, standard orientation)
                         repeated to 60-1,200 atoms
sheared_cell             the primitive cell with a sheared basis M @ cell (M an integer matrix of
                         determinant 1, so the same lattice), atoms wrapped into it, repeated to
                         60-1,200 atoms
rotated_periodic         the conventional supercell above, cell and atoms rigidly rotated by a
                         uniformly random rotation
aligned_cluster          a spherical cluster (pbc False, no cell) of 250-2,000 atoms cut from the
                         crystal in its standard conventional orientation, centred on an atom,
                         complete shells only
rotated_cluster          that cluster rigidly rotated by a uniformly random rotation
=======================  =========================================================================

Each form is crossed with thermal noise sigma (percent of the nearest-neighbour distance d_nn: every
atom moves by a Gaussian vector with standard deviation sigma/100 * d_nn per Cartesian component,
applied after the supercell or cluster is built) and vacancies eta (percent of the atoms removed at
random), using :func:`paper_lib.defects.displacements` and :func:`paper_lib.defects.vacancies`.
d_nn is the mean nearest-neighbour distance (Angstrom) of the noise-free crystal; the prototypes are
built for a nearest-neighbour distance of ``2 * ase.data.covalent_radii[Z]`` Angstrom.

The merged class ``hex/rh`` has two crystals per replica, an hcp one and a rhombohedral one (one of
the three rh prototypes); every form holds both, on a checkerboard of the (sigma, eta) grid: the hcp
crystal where (sigma position + eta position) in the requested lists is even, the rh one where odd.
So every form, every sigma and every eta sees both kinds, and the case count stays
classes x forms x sigmas x etas x replicas (336 with the defaults and one replica).

Everything is seeded: the crystal from ``(seed, replica, class)``, each form's geometry from that
plus the form, each case's noise and vacancies from that plus the (sigma, eta) values. A subset
(``classes``, ``forms``, ``sigmas``, ``etas``) gives the same structures as the full set.

PTM, the reference method (:func:`ptm_reference`), knows fcc, bcc, hcp, sc and cubic diamond; it has
no template for bct_139, bct_141 or rhombohedral lattices, so those cases are not gradeable for it
(:func:`ptm_gradeable`) and are reported as 'n/a'.
"""
from __future__ import annotations

import math

import numpy as np
import spglib
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from scipy.spatial.transform import Rotation

from paper_lib.defects import displacements, vacancies
from paper_lib.structures import (CLASSES_7, merged_label, nearest_neighbour_distances,
                                  prototype_for, replication_for, spacegroup_number)

FORMS = ("primitive_supercell", "conventional_supercell", "sheared_cell", "rotated_periodic",
         "aligned_cluster", "rotated_cluster")
PERIODIC_FORMS = FORMS[:4]
CLUSTER_FORMS = FORMS[4:]

#: thermal-noise levels, percent of the nearest-neighbour distance (standard deviation per component)
SIGMAS = (0.0, 2.0, 5.0, 8.0)
#: vacancy levels, percent of the atoms removed
ETAS = (0.0, 10.0)

#: elements the crystals are made of (one drawn per crystal); all Z <= 94, so Z + z_shift has a form factor
ELEMENTS = ("Cu", "Fe", "Si", "Mg", "Sn", "W", "Al", "Ni", "Ti", "Po", "Na", "Au", "Pb", "Zr", "Ge")

#: atom-count range of the periodic forms (before vacancies), inclusive
PERIODIC_ATOMS = (60, 1200)
#: atom-count range of the clusters (before vacancies), inclusive
CLUSTER_ATOMS = (250, 2000)

#: sheared bases: integer matrices of determinant 1 (new cell = M @ cell spans the same lattice)
SHEARS = (
    ((1, 1, 0), (0, 1, 0), (0, 0, 1)),
    ((1, 0, 2), (0, 1, -1), (0, 0, 1)),
    ((1, 0, 0), (1, 1, 0), (0, -1, 1)),
    ((2, 1, 0), (1, 1, 0), (0, 0, 1)),
    ((1, 2, 0), (0, 1, 0), (1, 2, 1)),
)

#: tolerance (Angstrom) at which a drawn crystal must show its prototype's space group
CHECK_SYMPREC = 1e-5


# --------------------------------------------------------------------------------------------
# The crystal
# --------------------------------------------------------------------------------------------

def build_crystal(label: str, rng: np.random.Generator, prototype_label: str | None = None,
                  max_tries: int = 50) -> dict:
    """One crystal of 7-class ``label``: a dict with the prototype, element, free parameters and cells.

    ``prototype_label`` (an 8-class label, ``hex`` or ``rh``) picks the prototype family of ``hex/rh``.
    Keys: ``label`` (7-class), ``label8``, ``prototype``, ``spacegroup``, ``element``, ``params``,
    ``primitive`` and ``conventional`` (Atoms, periodic), ``d_nn`` (mean nearest-neighbour distance
    of the primitive cell, Angstrom) and ``d_min`` (shortest interatomic distance, Angstrom).
    The crystal is drawn again until spglib finds the prototype's space group at ``CHECK_SYMPREC``.
    """
    for _ in range(max_tries):
        proto = prototype_for(prototype_label or label, rng)
        symbol = str(rng.choice(ELEMENTS))
        nn = 2 * float(covalent_radii[atomic_numbers[symbol]])
        primitive, params = proto.build(symbol, nn, rng)
        if spacegroup_number(primitive, symprec=CHECK_SYMPREC) == proto.spacegroup:
            break
    else:
        raise RuntimeError(f"no crystal of class {label} passed the spglib check in {max_tries} tries")
    primitive.wrap()
    distances = nearest_neighbour_distances(primitive)
    return {"label": merged_label(proto.label8), "label8": proto.label8, "prototype": proto.name,
            "spacegroup": proto.spacegroup, "element": symbol, "params": params,
            "primitive": primitive, "conventional": conventional_cell(primitive),
            "d_nn": float(distances.mean()), "d_min": float(distances.min())}


def conventional_cell(primitive: Atoms, symprec: float = 1e-3) -> Atoms:
    """spglib's standard conventional cell (idealised: standard orientation, e.g. cubic axes along
    x, y, z; hexagonal a along x and c along z) of a periodic crystal."""
    cell = (primitive.cell.array, primitive.get_scaled_positions(wrap=True), primitive.numbers)
    lattice, frac, numbers = spglib.standardize_cell(cell, to_primitive=False, no_idealize=False, symprec=symprec)
    return Atoms(numbers=numbers, cell=lattice, scaled_positions=np.mod(frac, 1.0), pbc=True)


# --------------------------------------------------------------------------------------------
# The forms
# --------------------------------------------------------------------------------------------

def supercell_repeats(cell: Atoms, rng: np.random.Generator, n_range=PERIODIC_ATOMS) -> tuple[int, int, int]:
    """Repeats (n1, n2, n3) that put ``len(cell) * n1 * n2 * n3`` in ``n_range`` (inclusive).

    One time in three an elongated k x k x 2k supercell (the long axis drawn at random), otherwise
    the near-isotropic repeats of :func:`paper_lib.structures.replication_for` toward a target drawn
    log-uniformly from [1.5 * low, high / 1.5].
    """
    low, high = n_range
    n = len(cell)
    if rng.random() < 1 / 3:
        ks = [k for k in range(1, 50) if low <= 2 * n * k ** 3 <= high]
        if ks:
            k = int(rng.choice(ks))
            reps = [k, k, k]
            reps[int(rng.integers(3))] = 2 * k
            return tuple(reps)
    target = math.exp(rng.uniform(math.log(1.5 * low), math.log(high / 1.5)))
    reps = replication_for(cell, int(round(target)))
    if not low <= n * np.prod(reps) <= high:
        raise RuntimeError(f"repeats {reps} of a {n}-atom cell give {n * np.prod(reps)} atoms, outside {n_range}")
    return reps


def sheared(cell: Atoms, shear) -> Atoms:
    """The same crystal on the sheared basis ``shear @ cell`` (det(shear) must be 1), atoms wrapped in."""
    m = np.asarray(shear, dtype=int)
    if round(abs(np.linalg.det(m))) != 1:
        raise ValueError(f"the shear {m.tolist()} is not unimodular")
    out = cell.copy()
    out.set_cell(m @ cell.cell.array, scale_atoms=False)
    out.wrap()
    return out


def rotated(atoms: Atoms, rng: np.random.Generator) -> Atoms:
    """``atoms`` rigidly rotated (positions, and the cell if it has one) by a uniformly random rotation."""
    matrix = Rotation.random(random_state=rng).as_matrix()
    out = atoms.copy()
    out.positions = atoms.positions @ matrix.T
    if atoms.cell.rank == 3:
        out.set_cell(atoms.cell.array @ matrix.T, scale_atoms=False)
    return out


def spherical_cluster(conventional: Atoms, n_target: int) -> Atoms:
    """A spherical cluster (pbc False, no cell) of the crystal, centred on its first atom (at the
    origin), holding the ``n_target`` atoms nearest to it and the rest of the last shell.

    The crystal keeps the orientation of ``conventional`` (positions in Angstrom)."""
    cell = conventional.cell.array
    radius = (3 * n_target * conventional.get_volume() / len(conventional) / (4 * math.pi)) ** (1 / 3)
    spacings = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)   # distances between lattice planes
    n = np.ceil((1.3 * radius + conventional.cell.lengths().max()) / spacings).astype(int)
    shifts = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij"), -1).reshape(-1, 3)
    positions = (conventional.positions[None, :, :] + (shifts @ cell)[:, None, :]).reshape(-1, 3)
    positions -= conventional.positions[0]
    numbers = np.tile(conventional.numbers, len(shifts))
    distance = np.linalg.norm(positions, axis=1)
    cutoff = np.sort(distance)[n_target - 1] + 1e-6 * radius        # complete the last shell
    keep = distance <= cutoff
    if distance[keep].max() >= 1.3 * radius:
        raise RuntimeError("the repeated block does not cover the cluster")
    return Atoms(numbers=numbers[keep], positions=positions[keep], pbc=False)


def build_forms(crystal: dict, rng_of_form, forms=FORMS) -> dict[str, tuple[Atoms, dict]]:
    """The noise-free forms of ``crystal``: form -> (Atoms, geometry record).

    ``rng_of_form(form)`` gives each form's own random stream. ``rotated_periodic`` rotates the
    ``conventional_supercell`` and ``rotated_cluster`` the ``aligned_cluster`` (built from their own
    streams whether or not they are requested), so a rotated form differs from its partner by the
    rotation alone.
    """
    out = {}
    if {"conventional_supercell", "rotated_periodic"} & set(forms):
        reps = supercell_repeats(crystal["conventional"], rng_of_form("conventional_supercell"))
        out["conventional_supercell"] = (crystal["conventional"].repeat(reps), {"repeats": reps})
        if "rotated_periodic" in forms:
            out["rotated_periodic"] = (rotated(out["conventional_supercell"][0], rng_of_form("rotated_periodic")),
                                       {"repeats": reps})
    if "primitive_supercell" in forms:
        reps = supercell_repeats(crystal["primitive"], rng_of_form("primitive_supercell"))
        out["primitive_supercell"] = (crystal["primitive"].repeat(reps), {"repeats": reps})
    if "sheared_cell" in forms:
        rng = rng_of_form("sheared_cell")
        shear = SHEARS[int(rng.integers(len(SHEARS)))]
        cell = sheared(crystal["primitive"], shear)
        reps = supercell_repeats(cell, rng)
        out["sheared_cell"] = (cell.repeat(reps), {"repeats": reps, "shear": shear})
    if {"aligned_cluster", "rotated_cluster"} & set(forms):
        rng = rng_of_form("aligned_cluster")
        low, high = CLUSTER_ATOMS
        n_target = int(round(math.exp(rng.uniform(math.log(low), math.log(0.8 * high)))))
        cluster = spherical_cluster(crystal["conventional"], n_target)
        if not low <= len(cluster) <= high:
            raise RuntimeError(f"a cluster of {len(cluster)} atoms is outside {CLUSTER_ATOMS}")
        out["aligned_cluster"] = (cluster, {})
        if "rotated_cluster" in forms:
            out["rotated_cluster"] = (rotated(cluster, rng_of_form("rotated_cluster")), {})
    return {form: out[form] for form in forms}


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

def _level_key(level: float) -> int:
    """A percent level as an integer seed component (thousandths of a percent)."""
    return int(round(level * 1000))


def cases(seed: int = 0, replicas: int = 1, classes=None, forms=None, sigmas=None, etas=None,
          hex_rh: str = "alternate"):
    """Yield one record (dict) per case: every class x replica x form x sigma x eta.

    ``classes``: 7-class labels (default all of :data:`paper_lib.structures.CLASSES_7`); ``forms``
    (default :data:`FORMS`); ``sigmas``: thermal-noise levels in percent of d_nn (default
    :data:`SIGMAS`); ``etas``: vacancy levels in percent (default :data:`ETAS`). ``hex_rh``: which
    crystal fills the merged class at each (sigma, eta): ``alternate`` (the checkerboard of the module
    docstring), ``hex`` (always the hcp crystal) or ``rh`` (always the rhombohedral one; the same
    crystals as in ``alternate``).

    Record keys: ``case`` (a name), ``label`` (true 7-class label), ``label8``, ``prototype``,
    ``spacegroup``, ``element``, ``replica``, ``form``, ``sigma`` (%), ``eta`` (%), ``n_atoms`` (after
    vacancies), ``d_nn`` (mean nearest-neighbour distance of the noise-free crystal, Angstrom; the
    noise unit), ``d_min`` (its shortest interatomic distance, Angstrom), ``periodic``, ``geometry`` (repeats, shear) and ``atoms``.
    """
    classes = list(CLASSES_7 if classes is None else classes)
    forms = list(FORMS if forms is None else forms)
    sigmas = [float(s) for s in (SIGMAS if sigmas is None else sigmas)]
    etas = [float(e) for e in (ETAS if etas is None else etas)]
    for name in classes:
        if name not in CLASSES_7:
            raise ValueError(f"unknown class {name!r}; known: {', '.join(CLASSES_7)}")
    for form in forms:
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; known: {', '.join(FORMS)}")
    if hex_rh not in ("alternate", "hex", "rh"):
        raise ValueError(f"hex_rh must be 'alternate', 'hex' or 'rh', got {hex_rh!r}")
    for replica in range(replicas):
        for label in classes:
            class_key = CLASSES_7.index(label)
            families = ("hex", "rh") if label == "hex/rh" else (label,)
            built = {}
            for family_index, family in enumerate(families):
                key = [seed, replica, class_key, family_index]
                crystal = build_crystal(label, np.random.default_rng(key),
                                        family if label == "hex/rh" else None)
                geometry = build_forms(crystal, lambda form, key=key: np.random.default_rng(
                    [*key, 100 + FORMS.index(form)]), forms)
                built[family] = (crystal, geometry, key)
            for form in forms:
                for i_sigma, sigma in enumerate(sigmas):
                    for i_eta, eta in enumerate(etas):
                        if label == "hex/rh" and hex_rh != "alternate":
                            family = hex_rh
                        else:
                            family = families[(i_sigma + i_eta) % len(families)]
                        crystal, geometry, key = built[family]
                        atoms, record = geometry[form]
                        rng = np.random.default_rng([*key, 100 + FORMS.index(form), _level_key(sigma), _level_key(eta)])
                        atoms = displacements(atoms, sigma, rng, nn_distance=crystal["d_nn"])
                        atoms = vacancies(atoms, eta, rng)
                        yield {"case": f"{label}/{crystal['prototype']}/r{replica}/{form}/s{sigma:g}/e{eta:g}",
                               "label": label, "label8": crystal["label8"], "prototype": crystal["prototype"],
                               "spacegroup": crystal["spacegroup"], "element": crystal["element"],
                               "replica": replica, "form": form, "sigma": sigma, "eta": eta,
                               "n_atoms": len(atoms), "d_nn": crystal["d_nn"], "d_min": crystal["d_min"],
                               "periodic": form in PERIODIC_FORMS,
                               "geometry": record, "atoms": atoms}


# --------------------------------------------------------------------------------------------
# The reference: OVITO's Polyhedral Template Matching
# --------------------------------------------------------------------------------------------

def ptm_gradeable(label8: str) -> bool:
    """Whether PTM can name this structure type at all (no template for bct_139, bct_141, rh)."""
    return label8 not in ("bct_139", "bct_141", "rh")


def ptm_input(atoms: Atoms, margin: float = 10.0) -> Atoms:
    """What PTM is given: a periodic structure as it is; a cluster translated into a box with
    ``margin`` Angstrom of empty space on every side, pbc False (OVITO wants a cell)."""
    if atoms.pbc.all():
        return atoms
    box = atoms.copy()
    box.positions = atoms.positions - atoms.positions.min(axis=0) + margin
    box.set_cell(np.diag(box.positions.max(axis=0) + margin))
    box.pbc = False
    return box


def ptm_reference(atoms: Atoms, classes=CLASSES_7) -> tuple[str, float, str | None]:
    """(PTM's class, share of all atoms with the winning type, error message or None).

    :func:`paper_lib.baselines.ptm_prediction` on :func:`ptm_input`: majority vote over the atoms PTM
    assigns a type, hcp -> ``hex/rh``; ``none`` when it names none of the classes or fails.
    """
    from paper_lib.baselines import NOT_RECOGNISED, ptm_prediction

    try:
        label, share = ptm_prediction(ptm_input(atoms), classes)
        return label, float(share), None
    except Exception as exc:  # OVITO failing on one structure is PTM's miss on it, reported
        return NOT_RECOGNISED, float("nan"), f"{type(exc).__name__}: {exc}"

