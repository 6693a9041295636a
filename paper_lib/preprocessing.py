"""Pre-processing: from a structure as it was written down to the finite cluster a fingerprint sees.

Two named methods, chosen by the ``preprocessing`` fingerprint parameter:

``paper2018``
    The paper's: a periodic structure is brought to its standard conventional cell by spglib
    (symprec 1e-3 Angstrom), replicated toward ``target_atoms`` along its shortest extent, and scaled
    so that the mean nearest-neighbour distance is 1 Angstrom; a non-periodic structure is taken as
    it is. It depends on how the crystal was written down: a primitive-cell supercell with thermal
    noise keeps its own cell and frame, a rotated cluster is never aligned, and defects move the
    mean nearest-neighbour distance. It is kept so that the paper's figures stay the paper's.

``crystal_frame`` (the default for users)
    Everything is taken from the crystal itself, never from its cell:

    1. **a bounded piece**: a Cartesian sphere of about :data:`PIECE_ATOMS` atoms around the
       centre of the structure (periodic images included), so that a large cell costs one
       vectorised pass over its atoms;
    2. **its lattice**: a neighbour vector is a translation when almost every atom repeats along
       it (vectors within a basis of m sites are repeated by about 1/m of them). The three that span
       the smallest cell generating the others form a primitive basis; every atom is then fitted
       by least squares to a lattice point plus a basis site;
    3. **its frame**: spglib's standard orientation of that lattice alone (one point per cell, a
       three-vector problem whatever the size of the input), which for the seven classes is the
       orientation of their conventional cell;
    4. **its length scale**: the nearest-neighbour distance of the *average* crystal (lattice plus
       the mean positions of its basis sites). Thermal noise and vacancies move atoms but not the
       average crystal, so they do not move the rings of the pattern;
    5. **the cluster**: the atoms within a sphere that holds ``target_atoms`` atoms of the
       average crystal, in that frame, scaled to unit nearest-neighbour distance (Angstrom).
       The cell's shape never enters.

``crystal_frame_wide``
    ``crystal_frame``, and where it finds no lattice, a wider search: translations up to
    :data:`WIDE_SEARCH_RADII` (5 nearest-neighbour distances, for lattices whose primitive
    translations are long: graphite's c, the hexagonal Laves phase, alpha-Mn) and up to
    :data:`WIDE_MAX_SITES` sites per primitive cell (alpha-Mn has 29). A crystal that
    ``crystal_frame`` reads gets the same frame; a structure with no lattice (an amorphous region)
    takes longer to give up on. The extended model's method.

Lengths are in Angstrom, angles in degrees.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from .structures import (MAX_IMAGES_PER_ATOM, StructureError, StructureWarning, _quiet_spglib, check_atoms,
                         finite_cluster, scale_to_unit_nn, to_atoms)

#: the pre-processing methods, by name
METHODS = ("paper2018", "crystal_frame", "crystal_frame_wide")

#: periodic cells of more atoms are refused by ``paper2018``, whose spglib standardisation of the
#: whole cell grows steeply with its size (about 30 s for 6,900 atoms, over 300 s for 50,000);
#: ``crystal_frame`` reads a bounded piece of any cell
MAX_CELL_ATOMS_PAPER2018 = 2_000

#: what users get unless they ask otherwise
DEFAULT = "crystal_frame"

#: atoms in the bounded piece the lattice is found on
PIECE_ATOMS = 600

#: atoms nearest the centre of the piece whose neighbour vectors are searched for translations
CENTRAL_ATOMS = 48

#: neighbour vectors up to these many nearest-neighbour distances are searched for translations, the
#: shorter first (enough for most lattices, and 3.5 times fewer candidates); the longest primitive
#: translation among the seven classes' prototypes is 2.5 d_nn, in alpha-Sm
SEARCH_RADII = (2.2, 3.3)

#: the search radii ``crystal_frame_wide`` tries after :data:`SEARCH_RADII` have found nothing, with up
#: to :data:`WIDE_MAX_SITES` sites (nearest-neighbour distances): graphite's out-of-plane translation
#: is 4.7, alpha-Mn's shortest 3.5
WIDE_SEARCH_RADII = (5.0,)

#: a primitive cell with more sites than this is not looked for (no simple lattice); with
#: ``crystal_frame_wide``, :data:`WIDE_MAX_SITES`
MAX_SITES = 16
WIDE_MAX_SITES = 32

#: a candidate is a translation when the share of atoms that repeat along it is at least this
#: fraction of the best candidate's; the second value is tried when the first gives no lattice (in
#: stackings such as alpha-Sm's, vectors between sites are shared by 2/3 of the atoms)
TRANSLATION_SHARES = (0.72, 0.85)

#: the frame search is tried with its tolerances (capture radius of a translation, integer test
#: of a basis, site radius) scaled by each of these in turn: the first for thermal noise up to about
#: 8 % of the neighbour distance, the second for noisier structures
TOLERANCES = (1.0, 1.6)

#: spglib's largest tolerance on the refined lattice, in nearest-neighbour distances (below it, the
#: tolerance is 0.005 neighbour distances plus three times the lattice's own uncertainty)
LATTICE_SYMPREC = 0.04

#: the fitted average crystal is accepted only if the atoms' root-mean-square distance from their
#: sites is below this, in nearest-neighbour distances (thermal noise of 10 % of d_nn per component
#: gives about 0.17), and each site holds at least ``MIN_ATOMS_PER_SITE`` atoms
MAX_RMS = 0.25
MIN_ATOMS_PER_SITE = 8


class NoCrystalFrame(StructureError):
    """No lattice could be found in a structure (amorphous, liquid, too small or too distorted)."""


# --------------------------------------------------------------------------------------------
# 1. A bounded piece
# --------------------------------------------------------------------------------------------

def _sphere_from_periodic(atoms: Atoms, n_atoms: int, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions and numbers of the atoms (images included) within a sphere around the cell centre
    that holds about ``n_atoms`` atoms at the cell's density (or of ``radius`` Angstrom)."""
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    if not volume > 1e-9:
        raise StructureError("the periodic cell has no volume")
    if radius is None:
        radius = (3 * n_atoms * volume / (4 * math.pi * len(atoms))) ** (1 / 3)
    spacings = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    # atoms are wrapped to within half a cell of the centre: the image k cells away is at least
    # (|k| - 1/2) plane spacings from it
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reach = np.maximum(0, np.ceil(radius / spacings - 0.5))
        n_images = float(np.prod(2 * reach + 1))          # float: never wraps around
    if not np.isfinite(n_images) or n_images > MAX_IMAGES_PER_ATOM:
        raise StructureError(f"the cell is nearly flat or its atoms nearly coincide: a sphere of "
                             f"{radius:.3g} Angstrom needs {n_images:.3g} periodic images of every atom")
    reach = reach.astype(int)
    centre = 0.5 * cell.sum(axis=0)
    frac = np.linalg.solve(cell.T, (atoms.positions - centre).T).T
    frac -= np.round(frac)
    wrapped = frac @ cell
    positions, numbers = [], []
    for shift in itertools.product(*(range(-k, k + 1) for k in reach)):
        moved = wrapped + np.asarray(shift) @ cell
        inside = np.einsum("ij,ij->i", moved, moved) <= radius * radius
        positions.append(moved[inside])
        numbers.append(atoms.numbers[inside])
    return np.concatenate(positions), np.concatenate(numbers)


def _middle(positions: np.ndarray) -> np.ndarray:
    """The middle of a cluster (Angstrom): the coordinate-wise median, which a few stray atoms far
    away do not move."""
    return np.median(positions, axis=0)


def _sphere_from_cluster(positions: np.ndarray, n_atoms: int) -> np.ndarray:
    """Indices of the ``n_atoms`` atoms nearest the middle of a finite cluster (all if fewer)."""
    if len(positions) <= n_atoms:
        return np.arange(len(positions))
    shifted = positions - _middle(positions)
    return np.argpartition(np.einsum("ij,ij->i", shifted, shifted), n_atoms)[:n_atoms]


# --------------------------------------------------------------------------------------------
# 2. The lattice
# --------------------------------------------------------------------------------------------

def _lookups(tree: cKDTree, central: np.ndarray, candidates: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """For every candidate v (K, 3) and central atom r (C, 3), the atom nearest r + v and r - v:
    distances (K, 2, C) in Angstrom (inf beyond 1.2 ``scale``) and indices (K, 2, C)."""
    points = central[None, None] + _SIGNS[None, :, None, None] * candidates[:, None, None]
    distance, index = tree.query(points.reshape(-1, 3), k=1, distance_upper_bound=1.2 * scale)
    distance = distance.reshape(len(candidates), 2, len(central))
    return distance, np.minimum(index, tree.n - 1).reshape(distance.shape)


_SIGNS = np.array([1.0, -1.0])


def _translation_candidates(positions: np.ndarray, tree: cKDTree, order: np.ndarray, scale: float,
                            tolerance: float = 1.0, radius: float = SEARCH_RADII[-1],
                            cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate translations (K, 3) in Angstrom and the share of atoms that repeat along each.

    Every neighbour of the two most central atoms within ``radius`` neighbour distances
    is a candidate v (folded into a half-space: v and -v are the same translation). For the
    :data:`CENTRAL_ATOMS` atoms nearest the centre, r + v and r - v are looked up: an atom within
    0.3 ``tolerance`` neighbour distances is a hit, one within 1.2 says that the point lies inside the structure.
    The share is hits / inside (vacancies lower it for every candidate alike; a vector within a
    basis of m sites has about 1/m of a translation's), and v moves to the mean of the vectors of
    its hits (twice), which removes the central atom's own displacement. ``tree`` is the k-d tree
    of ``positions``, ``order`` their indices from the middle outward. ``cache``: a dict in which the
    first look-up of each ``radius``, which does not depend on ``tolerance``, is kept for the next
    tolerance (the result is the same with or without it).
    """
    central = positions[order[:CENTRAL_ATOMS]]
    if cache is not None and radius in cache:
        candidates, query = cache[radius]
    else:
        # the neighbours of the two most central atoms, in both directions (a vacancy at r + v
        # leaves r - v), folded into one half-space; near-duplicates count once
        vectors = np.concatenate([positions[tree.query_ball_point(origin, radius * scale)] - origin
                                  for origin in positions[order[:2]]])
        vectors = vectors[np.linalg.norm(vectors, axis=1) > 0.5 * scale]
        first = np.argmax(np.abs(vectors) > 1e-3 * scale, axis=1)
        vectors *= np.sign(vectors[np.arange(len(vectors)), first])[:, None]
        _, first_of = np.unique(np.round(vectors / (0.4 * scale)), axis=0, return_index=True)
        candidates = vectors[np.sort(first_of)]
        if len(candidates) < 3:
            raise NoCrystalFrame("too few neighbours to find a lattice")
        query = _lookups(tree, central, candidates, scale)
        if cache is not None:
            cache[radius] = (candidates, query)
    distance, index = query
    for step in range(2):
        if step:
            # only the candidates that moved are looked up again: the others would find the same atoms
            distance, index = distance.copy(), index.copy()
            distance[usable], index[usable] = _lookups(tree, central, candidates[usable], scale)
        hit = distance < 0.3 * tolerance * scale
        inside = np.isfinite(distance)
        # the vectors of the hits, as +v: r_j - r_i for +v, r_i - r_j for -v
        found = _SIGNS[None, :, None, None] * (positions[index] - central[None, None])
        n_hits = hit.sum(axis=(1, 2))
        usable = n_hits >= 3
        mean = (found * hit[..., None]).sum(axis=(1, 2)) / np.maximum(n_hits, 1)[:, None]
        candidates = np.where(usable[:, None], mean, candidates)
    shares = n_hits / np.maximum(inside.sum(axis=(1, 2)), 1)
    keep = usable & (np.linalg.norm(candidates, axis=1) > 0.5 * scale)
    # candidates that converged onto the same translation count once
    apart = np.linalg.norm(candidates[:, None] - candidates[None], axis=2) > 0.3 * scale
    keep &= ~np.any(np.tril(~apart, k=-1) & keep[None, :], axis=1)
    if not keep.any():
        raise NoCrystalFrame("the neighbour vectors show no repeated translation")
    return candidates[keep], shares[keep]


def _primitive_basis(translations: np.ndarray, tolerance: float = 1.0) -> np.ndarray:
    """Three short translations (rows) that span the smallest cell generating all the others.

    A cell smaller than 0.6 times the cube of the shortest translation is denser than any packing
    of atoms (fcc: 0.71) and is not considered; of the rest, triples are tried from the smallest
    cell (shortest vectors first among equal cells) until one expresses at least 85 % of the
    translations as integer combinations.
    """
    order = np.argsort(np.linalg.norm(translations, axis=1))[:24]
    t = translations[order]
    if len(t) < 3:
        raise NoCrystalFrame("fewer than three independent translations")
    triples = np.array(list(itertools.combinations(range(len(t)), 3)))
    volumes = np.abs(np.linalg.det(t[triples]))
    lengths = np.linalg.norm(t, axis=1)[triples].sum(axis=1)
    usable = np.flatnonzero(volumes > 0.6 * np.linalg.norm(t[0]) ** 3)
    if not len(usable):
        raise NoCrystalFrame("the translations found are coplanar")
    def generates_the_others(index):
        frac = t @ np.linalg.inv(t[triples[index]])
        return np.mean(np.all(np.abs(frac - np.round(frac)) < 0.2 * tolerance, axis=1)) >= 0.85

    by_volume = usable[np.argsort(volumes[usable])]
    smallest = next((i for i in by_volume[:200] if generates_the_others(i)), None)
    if smallest is not None:
        # of the cells as small as that one (within 15 %), the one with the shortest vectors
        equal = by_volume[volumes[by_volume] < 1.15 * volumes[smallest]]
        equal = equal[np.argsort(lengths[equal])]
        best = next(i for i in equal if generates_the_others(i))
        from ase.geometry import minkowski_reduce

        basis, _ = minkowski_reduce(t[triples[best]])
        return basis if np.linalg.det(basis) > 0 else -basis
    raise NoCrystalFrame("no three translations generate the others")


def _assign_sites(frac: np.ndarray, lattice: np.ndarray, tolerance: float,
                  max_sites: int = MAX_SITES) -> tuple[np.ndarray, np.ndarray]:
    """Group fractional positions into basis sites modulo the lattice.

    Returns the site index of each atom and the sites' mean fractional positions (m, 3). The first
    atom seeds the first site; the first atom farther than ``tolerance`` (Angstrom) from every site
    seeds the next. Each site then moves to the mean of its members and the atoms are assigned
    again (to the first site within ``tolerance``), twice, so that a seed that was itself displaced
    does not split its site; sites that moved onto each other merge. Finally each atom goes to its
    nearest site.
    """
    def distances(seeds):
        delta = frac[:, None, :] - np.asarray(seeds)[None, :, :]
        delta -= np.round(delta)
        return delta, np.linalg.norm(delta @ lattice, axis=2)

    seeds = [frac[0]]
    while True:
        _, distance = distances(seeds)
        far = np.flatnonzero(np.all(distance >= tolerance, axis=1))
        if not len(far):
            break
        if len(seeds) >= max_sites:
            raise NoCrystalFrame(f"more than {max_sites} sites per primitive cell: no simple lattice")
        seeds.append(frac[far[0]])
    for _ in range(2):
        delta, distance = distances(seeds)
        site_of = np.argmax(distance < tolerance, axis=1)      # the first site within tolerance
        none = np.all(distance >= tolerance, axis=1)
        site_of[none] = np.argmin(distance[none], axis=1)
        nearest = delta[np.arange(len(frac)), site_of]
        seeds = np.array([seeds[k] + nearest[site_of == k].mean(axis=0) if np.any(site_of == k) else seeds[k]
                          for k in range(len(seeds))])
        # sites that moved onto each other merge into the first
        order = np.argsort(-np.bincount(site_of, minlength=len(seeds)), kind="stable")
        merged = []
        for k in order:
            if merged:
                d = seeds[merged] - seeds[k]
                d -= np.round(d)
                if np.min(np.linalg.norm(d @ lattice, axis=1)) < tolerance:
                    continue
            merged.append(k)
        seeds = seeds[merged]
    delta, distance = distances(seeds)
    site_of = np.argmin(distance, axis=1)
    return site_of, seeds


def _fit_average_crystal(positions: np.ndarray, basis: np.ndarray, scale: float, tolerance: float = 1.0,
                         max_sites: int = MAX_SITES):
    """Least-squares fit of every atom to a lattice point plus a basis site.

    Each atom i is given a site k(i) and an integer cell n_i; then r_i = n_i . L + o_k(i) is solved
    for the lattice L (rows) and the site origins o_k, over atoms within 3 and 6 neighbour
    distances of the centre, then over all of them, twice. Returns the lattice, the sites'
    fractional positions, the share of atoms on each site, the number of atoms fitted and the
    root-mean-square distance (Angstrom) of the atoms from their sites. ``positions`` come central
    atoms first: they seed the sites.
    """
    distance = np.linalg.norm(positions - positions[0], axis=1)
    lattice = basis
    # the fit grows from the centre outward, so that the error of the first guess, which grows
    # with distance, never puts an atom into the wrong cell
    for reach in (3.0, 6.0, np.inf, np.inf):
        near = distance <= reach * scale
        if near.sum() < 12 and np.isfinite(reach):
            continue
        frac = (positions[near] - positions[0]) @ np.linalg.inv(lattice)
        site_of, sites = _assign_sites(frac, lattice, 0.45 * min(tolerance, 1.3) * scale, max_sites)
        counts = np.bincount(site_of, minlength=len(sites))
        major = np.flatnonzero(counts >= max(3, 0.2 * counts.max()))
        on_site = np.isin(site_of, major)
        remap = {int(k): j for j, k in enumerate(major)}
        cells = np.round(frac[on_site] - sites[site_of[on_site]])
        onehot = np.zeros((int(on_site.sum()), len(major)))
        onehot[np.arange(len(onehot)), [remap[int(k)] for k in site_of[on_site]]] = 1.0
        design = np.hstack([cells, onehot])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise NoCrystalFrame("the atoms do not span a three-dimensional lattice")
        solution, *_ = np.linalg.lstsq(design, positions[near][on_site], rcond=None)
        lattice, origins = solution[:3], solution[3:]
        residual = positions[near][on_site] - design @ solution
    shares = counts[major] / int(near.sum())
    site_frac = np.mod((origins - origins[0]) @ np.linalg.inv(lattice), 1.0)
    rms = float(np.sqrt(np.mean(np.sum(residual**2, axis=1))))
    return lattice, site_frac, shares, int(on_site.sum()), rms


def _ideal_nn_distance(lattice: np.ndarray, sites: np.ndarray) -> float:
    """Nearest-neighbour distance of the average crystal: lattice plus basis sites (Angstrom)."""
    shifts = np.array(list(itertools.product(range(-2, 3), repeat=3)), dtype=float)
    best = np.inf
    for a in sites:
        for b in sites:
            d = np.linalg.norm((shifts + b - a) @ lattice, axis=1)
            d = d[d > 1e-6]
            best = min(best, float(d.min()))
    return best


def _frame_rotation(lattice: np.ndarray, symprec: float) -> np.ndarray:
    """Rotation (3, 3) that brings the lattice into spglib's standard orientation of its Bravais
    lattice (conventional axes along x, y, z; hexagonal a along x, c along z), found by spglib
    at tolerance ``symprec`` (Angstrom)."""
    import spglib

    with _quiet_spglib():
        try:
            dataset = spglib.get_symmetry_dataset((lattice, [[0.0, 0.0, 0.0]], [1]), symprec=symprec)
        except Exception as exc:   # spglib >= 2.5 may raise SpglibError instead of returning None
            raise NoCrystalFrame(f"spglib finds no symmetry in the lattice ({exc})") from None
    if dataset is None:
        raise NoCrystalFrame("spglib finds no symmetry in the lattice")
    rotation = np.asarray(dataset.std_rotation_matrix)
    if np.linalg.det(rotation) < 0:
        rotation = -rotation
    return rotation


class CrystalFrame:
    """The average crystal behind a structure, found by :func:`crystal_frame`.

    ``lattice`` (3, 3) primitive translations as rows, ``sites`` (m, 3) fractional basis
    positions, ``site_shares`` the share of atoms found on each, ``nn_distance`` the
    nearest-neighbour distance of the average crystal, ``rotation`` (3, 3) the rotation into its
    standard frame (``positions @ rotation.T``), ``centre`` (3,) the point clusters are cut around
    (for a periodic input the cell centre, which is the origin of the piece the lattice was found
    on), ``n_fitted`` the atoms fitted. Lengths in Angstrom, in the input's Cartesian frame.
    """

    def __init__(self, lattice, sites, site_shares, nn_distance, rotation, centre, n_fitted):
        self.lattice = lattice
        self.sites = sites
        self.site_shares = site_shares
        self.nn_distance = nn_distance
        self.rotation = rotation
        self.centre = centre
        self.n_fitted = n_fitted

    @property
    def density(self) -> float:
        """Atoms per cubic Angstrom of the average crystal."""
        return len(self.sites) / abs(np.linalg.det(self.lattice))

    def __repr__(self) -> str:
        return (f"CrystalFrame(sites={len(self.sites)}, nn_distance={self.nn_distance:.4f} A, "
                f"lattice lengths={np.round(np.linalg.norm(self.lattice, axis=1), 4).tolist()} A)")


def _piece(atoms: Atoms) -> np.ndarray:
    """Positions (Angstrom) of the bounded piece the frame is found on: for a periodic structure a
    sphere around the cell centre, moved to the origin; for a cluster its atoms nearest the
    centroid, where they are."""
    if atoms.pbc.all():
        return _sphere_from_periodic(atoms, PIECE_ATOMS)[0]
    return atoms.positions[_sphere_from_cluster(atoms.positions, PIECE_ATOMS)]


def crystal_frame(atoms: Atoms, wide: bool = False) -> CrystalFrame:
    """Find the lattice, frame and length scale of the crystal behind ``atoms`` (see module doc).

    The search runs with each of :data:`TOLERANCES`, :data:`SEARCH_RADII` and
    :data:`TRANSLATION_SHARES` in turn and keeps the first that succeeds; the error reported is the
    first search's. ``wide``: then, if none succeeded, the same with :data:`WIDE_SEARCH_RADII` and up
    to :data:`WIDE_MAX_SITES` sites (the ``crystal_frame_wide`` method).
    Raises :class:`NoCrystalFrame` when there is no lattice to be found.
    """
    positions = _piece(atoms)
    if len(positions) < 2:
        raise NoCrystalFrame(f"{len(positions)} atom(s) are too few to find a lattice")
    tree = cKDTree(positions)
    d, _ = tree.query(positions, k=2)
    scale = float(np.median(d[:, 1]))
    if not scale > 1e-6:
        raise StructureError("atoms coincide: the median nearest-neighbour distance is zero")
    if len(positions) < 8:
        raise NoCrystalFrame(f"{len(positions)} atoms are too few to find a lattice")
    from_middle = np.linalg.norm(positions - _middle(positions), axis=1)
    order = np.argsort(from_middle)
    # clusters are cut around the atom nearest the piece's middle; periodic ones around the cell
    # centre (the piece's origin)
    centre = np.zeros(3) if atoms.pbc.all() else positions[np.argmin(from_middle)]
    failure = None
    first_lookups: dict = {}
    searches = [(tolerance, radius, MAX_SITES) for tolerance in TOLERANCES for radius in SEARCH_RADII]
    if wide:
        searches += [(tolerance, radius, WIDE_MAX_SITES) for tolerance in TOLERANCES for radius in WIDE_SEARCH_RADII]
    for tolerance, radius, max_sites in searches:
        try:
            candidates = _translation_candidates(positions, tree, order, scale, tolerance, radius, first_lookups)
        except NoCrystalFrame as exc:
            failure = failure or exc
            continue
        tried = []
        for share in TRANSLATION_SHARES:
            chosen = candidates[1] >= share * candidates[1].max()
            if any(np.array_equal(chosen, before) for before in tried):
                continue                  # the same translations as a try that failed: it fails again
            tried.append(chosen)
            try:
                return _frame_at(positions[order], centre, scale, tolerance, candidates, share, max_sites)
            except NoCrystalFrame as exc:
                failure = failure or exc
    raise failure


def _frame_at(positions: np.ndarray, centre: np.ndarray, scale: float, tolerance: float, candidates,
              share: float, max_sites: int = MAX_SITES) -> CrystalFrame:
    """One try of the frame search (see :func:`crystal_frame`) on ``candidates`` (translations and
    their shares), with translations at least ``share`` of the best candidate's; ``positions`` of
    the piece, central atoms first."""
    translations, shares = candidates
    lattice_like = translations[shares >= share * shares.max()]
    basis = _primitive_basis(lattice_like, tolerance)
    basis, sites, site_shares, n_fitted, rms = _fit_average_crystal(positions, basis, scale, tolerance, max_sites)
    if site_shares.sum() < 0.6:
        raise NoCrystalFrame(f"only {site_shares.sum():.0%} of the atoms sit on the lattice found")
    if n_fitted < MIN_ATOMS_PER_SITE * len(sites):
        raise NoCrystalFrame(f"{n_fitted} atoms on {len(sites)} site(s) are too few to establish a lattice")
    nn = _ideal_nn_distance(basis, sites)
    if rms > MAX_RMS * nn:
        raise NoCrystalFrame(f"the atoms sit {rms / nn:.2f} neighbour distances (rms) from the lattice "
                             f"found: no crystal")
    if nn < 0.75 * scale:
        raise NoCrystalFrame(f"the lattice found puts sites {nn:.3g} A apart, closer than the atoms' "
                             f"typical neighbours ({scale:.3g} A)")
    # the lattice is known to about rms / sqrt(n_fitted): spglib's tolerance follows that, so that
    # a lattice close to a more symmetric one (bct with c/a near sqrt 2, near fcc) keeps its own
    symprec = min(LATTICE_SYMPREC * nn, 0.005 * nn + 3 * rms / math.sqrt(n_fitted))
    rotation = _frame_rotation(basis, symprec)
    return CrystalFrame(basis, sites, site_shares, nn, rotation, centre, n_fitted)


# --------------------------------------------------------------------------------------------
# 5. The cluster
# --------------------------------------------------------------------------------------------

def crystal_frame_cluster(atoms: Atoms, target_atoms: int = 250, wide: bool = False) -> Atoms:
    """The finite cluster of the ``crystal_frame`` pre-processing (``pbc`` False, no cell).

    The atoms within a sphere that holds ``target_atoms`` atoms of the average crystal, rotated
    into the crystal's standard frame and scaled so that its nearest-neighbour distance is
    1 Angstrom. Periodic structures contribute their images; a cluster smaller than the sphere is
    kept whole. ``info["sites_per_cell"]`` holds the average crystal's sites per primitive cell.
    """
    return _cluster_in_frame(atoms, crystal_frame(atoms, wide), target_atoms)


def _cluster_in_frame(atoms: Atoms, frame: CrystalFrame, target_atoms: int) -> Atoms:
    """The sphere of ``target_atoms`` atoms of the average crystal, rotated and scaled."""
    radius = (3 * target_atoms / (4 * math.pi * frame.density)) ** (1 / 3)
    if atoms.pbc.all():
        positions, numbers = _sphere_from_periodic(atoms, target_atoms, radius=radius)
    else:
        shifted = atoms.positions - frame.centre
        inside = np.einsum("ij,ij->i", shifted, shifted) <= radius * radius
        positions, numbers = shifted[inside], atoms.numbers[inside]
    if len(positions) < 0.3 * min(target_atoms, len(atoms)):
        raise NoCrystalFrame(f"the sphere around the crystal's centre holds only {len(positions)} atoms: the "
                             "structure is not one compact crystal")
    positions = positions @ frame.rotation.T / frame.nn_distance
    # the number of sites travels with the cluster: classify checks it against the classes'
    return Atoms(numbers=numbers, positions=positions, pbc=False, info={"sites_per_cell": len(frame.sites)})


def exact_frame(cell: Atoms) -> CrystalFrame:
    """The :class:`CrystalFrame` of a pristine periodic ``cell``, read off the cell itself: its
    lattice (the cell, which need not be primitive), its atoms as the sites."""
    sites = cell.get_scaled_positions(wrap=True)
    nn = _ideal_nn_distance(cell.cell.array, sites)
    rotation = _frame_rotation(_primitive_lattice(cell), 0.005 * nn)
    return CrystalFrame(cell.cell.array.copy(), sites, np.full(len(cell), 1 / len(cell)), nn, rotation,
                        np.zeros(3), len(cell))


def _primitive_lattice(cell: Atoms) -> np.ndarray:
    """The primitive lattice (rows) of a pristine periodic cell, by spglib (symprec 1e-5 A)."""
    import spglib

    with _quiet_spglib():
        primitive = spglib.find_primitive((cell.cell.array, cell.get_scaled_positions(), cell.numbers),
                                          symprec=1e-5)
    return cell.cell.array if primitive is None else np.asarray(primitive[0])


def training_cluster(cell: Atoms, target_atoms: int, rng: np.random.Generator, n_atoms: int | None = None) -> Atoms:
    """A pristine dataset structure for the ``crystal_frame`` pre-processing.

    The periodic ``cell`` is given a random rotation and a random translation (so that the
    sphere's centre falls anywhere in the cell); a sphere of ``n_atoms`` atoms (default 1.6
    ``target_atoms``) is cut from it, in the crystal's standard frame (read off the cell, see
    :func:`exact_frame`) and at unit nearest-neighbour distance: large enough that, after defects,
    the fingerprint stage finds the frame again by itself and cuts its own sphere of
    ``target_atoms`` from it.
    """
    from scipy.spatial.transform import Rotation

    rotation = Rotation.random(random_state=np.random.default_rng(rng.integers(2**63))).as_matrix()
    moved = cell.copy()
    moved.set_cell(cell.cell.array @ rotation.T, scale_atoms=False)
    moved.positions = cell.positions @ rotation.T + rng.uniform(0, 1, 3) @ moved.cell.array
    return _cluster_in_frame(moved, exact_frame(moved), int(round(1.6 * target_atoms)) if n_atoms is None else n_atoms)


def dataset_cluster(cell: Atoms, target_atoms: int, rng: np.random.Generator, method: str) -> Atoms:
    """A pristine periodic ``cell`` as the dataset stores it for pre-processing ``method``: the
    paper's randomly rotated, ~``target_atoms`` supercell (``paper2018``, see
    :func:`paper_lib.structures.finite_cluster`) or a larger aligned sphere (``crystal_frame``, see
    :func:`training_cluster`), both at unit nearest-neighbour distance. ``crystal_frame_wide``'s
    sphere holds at least :data:`PIECE_ATOMS` atoms, the piece a user's periodic cell gives the
    frame search: a 400-atom sphere is too small to show the long translations that method is for
    (a third of pristine double-hcp spheres of 400 atoms showed no lattice)."""
    if method == "paper2018":
        return finite_cluster(cell, target_atoms, rng)
    if method == "crystal_frame_wide":
        return training_cluster(cell, target_atoms, rng, max(int(round(1.6 * target_atoms)), PIECE_ATOMS))
    return training_cluster(cell, target_atoms, rng)


def prepare(atoms: Atoms, method: str = DEFAULT, target_atoms: int | None = 250,
            name: str = "structure") -> Atoms:
    """The finite cluster a fingerprint is computed from, by pre-processing ``method``.

    ``atoms``: an ``ase.Atoms`` or a pymatgen ``Structure``/``Molecule`` (see
    :func:`paper_lib.structures.to_atoms`); lengths in Angstrom.

    ``paper2018``: periodic structures go through the paper's pre-processing, clusters are taken
    as given; both are scaled to a mean nearest-neighbour distance of 1 Angstrom.
    ``crystal_frame``: see :func:`crystal_frame_cluster`. ``target_atoms=None`` takes any
    structure as given (scaled to mean nearest-neighbour distance 1 Angstrom), whatever the method.
    """
    if method not in METHODS:
        raise ValueError(f"{name}: unknown pre-processing {method!r}; choose one of {', '.join(METHODS)}")
    atoms = to_atoms(atoms, name)
    periodic = bool(atoms.pbc.all())
    check_atoms(atoms, name, min_atoms=1 if periodic and target_atoms is not None else 2)
    if atoms.pbc.any() and not periodic:
        warnings.warn(f"{name}: periodic along {int(atoms.pbc.sum())} axis/axes only (a slab or a wire): taken as "
                      "a finite cluster of the atoms as given; set pbc True on all three axes for a crystal",
                      StructureWarning, stacklevel=2)
    if periodic and method == "paper2018" and target_atoms is not None and len(atoms) > MAX_CELL_ATOMS_PAPER2018:
        raise StructureError(f"{name}: a periodic cell of {len(atoms)} atoms is more than the "
                             f"{MAX_CELL_ATOMS_PAPER2018} the paper2018 pre-processing takes (spglib standardises "
                             "the whole cell: minutes for tens of thousands of atoms); use the crystal_frame "
                             "pre-processing, which reads a bounded piece of any cell, or a smaller cell")
    try:
        if target_atoms is None:
            cluster = atoms.copy()
        elif method in ("crystal_frame", "crystal_frame_wide"):
            return crystal_frame_cluster(atoms, target_atoms, wide=method == "crystal_frame_wide")
        elif periodic:
            cluster = finite_cluster(atoms, target_atoms)
        else:
            cluster = atoms.copy()
        cluster.pbc = False
        return scale_to_unit_nn(cluster)
    except StructureError as exc:
        note = (" (periodic along some axes only: taken as a finite cluster)"
                if atoms.pbc.any() and not periodic else "")
        raise type(exc)(f"{name}: {exc}{note}") from None
    except (MemoryError, ArithmeticError, IndexError, np.linalg.LinAlgError) as exc:
        raise StructureError(f"{name}: the pre-processing failed ({type(exc).__name__}: {exc})") from None
