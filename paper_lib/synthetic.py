"""Synthetic large samples with a known answer per atom, for the local structure maps.

- :func:`voronoi_polycrystal`: a periodic cubic box of Voronoi grains (fcc Cu, bcc Fe, hcp Mg,
  diamond Si, and an amorphous grain), each randomly oriented, with the true class, the grain and the
  distance to the nearest grain boundary of every atom;
- :func:`apt_cluster`: a non-periodic spherical cluster of one crystal with most atoms missing and
  Gaussian noise, as an atom-probe (APT) reconstruction gives it.

Lengths are in Angstrom. Every random draw comes from the ``seed`` given, so a sample is
reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class GrainKind:
    """One kind of grain: its element, conventional cell (lattice constants a, c in Angstrom and
    fractional basis), nearest-neighbour distance (Angstrom) and the class it belongs to."""

    symbol: str
    a: float
    c: float
    basis: tuple
    nn_distance: float
    truth: str


_FCC = ((0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0))
_DIAMOND = _FCC + tuple((x + .25, y + .25, z + .25) for x, y, z in _FCC)
#: hcp in its orthohexagonal cell (a, sqrt(3) a, c), four atoms
_HCP_ORTHO = ((0, 0, 0), (.5, .5, 0), (.5, 5 / 6, .5), (0, 1 / 3, .5))

#: the grain kinds, at the elements' room-temperature lattice constants
KINDS = {
    "fcc": GrainKind("Cu", 3.615, 3.615, _FCC, 3.615 / math.sqrt(2), "fcc"),
    "bcc": GrainKind("Fe", 2.866, 2.866, ((0, 0, 0), (.5, .5, .5)), 2.866 * math.sqrt(3) / 2, "bcc"),
    "hcp": GrainKind("Mg", 3.209, 5.211, _HCP_ORTHO, 3.197, "hex/rh"),
    "diam": GrainKind("Si", 5.431, 5.431, _DIAMOND, 5.431 * math.sqrt(3) / 4, "diam"),
    # an fcc grain melted: every atom displaced by a Gaussian of AMORPHOUS_SIGMA d_nn per component
    "amorphous": GrainKind("Cu", 3.615, 3.615, _FCC, 3.615 / math.sqrt(2), "unknown"),
}
#: Gaussian displacement (per Cartesian component, in nearest-neighbour distances) of the amorphous grain
AMORPHOUS_SIGMA = 0.3
#: two atoms closer than this many of the smaller nearest-neighbour distance (across a boundary, or
#: in the amorphous grain): one of them is removed
OVERLAP = 0.7


def _cell(kind: GrainKind) -> tuple[np.ndarray, np.ndarray]:
    """(3, 3) conventional (or orthohexagonal) cell vectors and (b, 3) fractional basis."""
    if kind is KINDS["hcp"]:
        return np.diag([kind.a, math.sqrt(3) * kind.a, kind.c]), np.array(kind.basis)
    return np.diag([kind.a, kind.a, kind.c]), np.array(kind.basis)


def crystal_sphere(kind: GrainKind, radius: float, rotation: np.ndarray) -> np.ndarray:
    """Positions (n, 3) of ``kind``'s crystal within ``radius`` of the origin (a lattice point),
    rotated by the (3, 3) matrix ``rotation``."""
    cell, basis = _cell(kind)
    reps = [int(math.ceil(radius / cell[i, i])) + 1 for i in range(3)]
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    points = ((grid[:, None, :] + basis[None]).reshape(-1, 3)) @ cell
    points = points[np.einsum("ij,ij->i", points, points) <= radius ** 2]
    return points @ rotation.T


def _seed_images(seeds: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
    """The 27 periodic images of the seeds in an orthorhombic ``box`` (edge lengths, Angstrom):
    positions (27 m, 3) and the grain of each."""
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3) * np.asarray(box)
    images = (seeds[None] + shifts[:, None]).reshape(-1, 3)
    return images, np.tile(np.arange(len(seeds)), len(shifts))


def boundary_distance(positions: np.ndarray, grain: np.ndarray, seeds: np.ndarray, box,
                      k: int = 16) -> np.ndarray:
    """Distance (Angstrom) of each atom to the nearest boundary of its Voronoi grain: the smallest
    distance to the bisector plane between its grain's seed and any other seed image, of another
    grain or of its own (where a grain meets its own periodic image the rotated crystal does not
    continue: that is a boundary too); ``k`` nearest seed images looked at."""
    images, owner = _seed_images(seeds, box)
    tree = cKDTree(images)
    k = min(k, len(images))
    _, index = tree.query(positions, k=k)
    out = np.full(len(positions), np.inf)
    # the nearest image of the atom's own grain (the nearest seed image if none is among the k)
    first = (owner[index] == grain[:, None]).argmax(axis=1)
    own = index[np.arange(len(positions)), first]
    own_position = images[own]
    for column in range(k):
        other = index[:, column]
        different = other != own        # another grain, or another image of its own (a periodic seam)
        s_j = images[other]
        gap = np.linalg.norm(s_j - own_position, axis=1)
        d = (np.einsum("ij,ij->i", positions - s_j, positions - s_j)
             - np.einsum("ij,ij->i", positions - own_position, positions - own_position)) / (2 * np.maximum(gap, 1e-9))
        out = np.where(different, np.minimum(out, d), out)
    return np.maximum(out, 0.0)


def voronoi_polycrystal(n_atoms: int = 20_000, kinds=("fcc", "bcc", "hcp", "diam", "amorphous"),
                        grains_per_kind: int = 1, seed: int = 0, vacancies: float = 0.0,
                        displacements: float = 0.0) -> Atoms:
    """A periodic cubic box of about ``n_atoms`` atoms in Voronoi grains, ``grains_per_kind`` of each
    kind in ``kinds`` (keys of :data:`KINDS`), each in a uniformly random orientation.

    Defects, applied after the grains are built: ``vacancies`` is the fraction of atoms removed at
    random (eta), ``displacements`` the standard deviation of a Gaussian displacement of every
    Cartesian coordinate in units of the grain's nearest-neighbour distance (delta).

    Per-atom arrays: ``truth`` (the class, ``unknown`` for the amorphous grain), ``grain`` (index),
    ``boundary_distance`` (Angstrom, to the nearest grain boundary, from the ideal Voronoi cells).
    ``info``: the kind of each grain, the box (Angstrom), the seed and the defects.
    """
    if n_atoms < 100:
        raise ValueError(f"n_atoms must be at least 100, got {n_atoms}")
    _check_kinds(kinds)
    rng = np.random.default_rng(seed)
    names = [k for k in kinds for _ in range(grains_per_kind)]
    volume_per_atom = np.mean([np.linalg.det(_cell(KINDS[k])[0]) / len(KINDS[k].basis) for k in names])
    box = np.full(3, (n_atoms * volume_per_atom) ** (1 / 3))
    seeds = _spread_seeds(rng, len(names), box[0])
    return _grains(names, seeds, box, rng, vacancies, displacements, seed)


def bicrystal(kinds=("fcc", "bcc"), thickness: float = 40.0, width: float = 32.0, seed: int = 0,
              vacancies: float = 0.0, displacements: float = 0.0) -> Atoms:
    """Two periodic slab grains, each ``thickness`` Angstrom thick along x, in a box
    (2 thickness, width, width) Angstrom: the Voronoi cells of seeds at x = thickness / 2 and
    3 thickness / 2, so the boundaries are the planes x = 0 and x = thickness. Orientations, defects
    and arrays as :func:`voronoi_polycrystal`."""
    _check_kinds(kinds)
    if len(kinds) != 2:
        raise ValueError(f"a bicrystal has two grains, got {len(kinds)} kinds")
    rng = np.random.default_rng(seed)
    box = np.array([2 * thickness, width, width])
    seeds = np.array([[thickness / 2, width / 2, width / 2], [1.5 * thickness, width / 2, width / 2]])
    return _grains(list(kinds), seeds, box, rng, vacancies, displacements, seed)


def _check_kinds(kinds) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown grain kind(s) {unknown}; choose from {', '.join(KINDS)}")


def _grains(names, seeds, box, rng, vacancies, displacements, seed) -> Atoms:
    """The atoms of the Voronoi cells of ``seeds`` in the orthorhombic periodic ``box`` (edge
    lengths, Angstrom), grain g of kind ``names[g]`` in a random orientation; then the defects."""
    if not 0 <= vacancies < 1 or displacements < 0:
        raise ValueError("vacancies must be in [0, 1) and displacements non-negative")
    grain_kinds = [KINDS[k] for k in names]
    # the largest distance from a seed to a point of its cell, from a probe grid
    probe_n = 24
    steps = box / probe_n
    probe = (np.stack(np.meshgrid(*[np.arange(probe_n)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * steps
    images, owner = _seed_images(seeds, box)
    primary = 13 * len(seeds)                 # images of shift (0, 0, 0) come 14th of the 27
    image_tree = cKDTree(images)
    distance, nearest = image_tree.query(probe)
    reach = np.zeros(len(seeds))
    np.maximum.at(reach, owner[nearest], distance)
    reach += np.linalg.norm(steps)
    positions, numbers, grain, truth, nn = [], [], [], [], []
    for g, (kind, name) in enumerate(zip(grain_kinds, names)):
        rotation = Rotation.random(random_state=rng.integers(2 ** 32)).as_matrix()
        points = crystal_sphere(kind, reach[g], rotation) + seeds[g]
        _, owner_index = image_tree.query(points)
        # the Voronoi cell of the seed itself (not of its images): one copy of the grain, then wrapped
        points = points[owner_index == primary + g] % box
        if name == "amorphous":
            points = (points + rng.normal(0.0, AMORPHOUS_SIGMA * kind.nn_distance, points.shape)) % box
        positions.append(points)
        numbers.append(np.full(len(points), _number(kind.symbol)))
        grain.append(np.full(len(points), g))
        truth += [kind.truth] * len(points)
        nn.append(np.full(len(points), kind.nn_distance))
    positions, numbers, grain, nn = map(np.concatenate, (positions, numbers, grain, nn))
    truth = np.array(truth)
    keep = _remove_overlaps(positions, grain, nn, box)
    positions, numbers, grain, nn, truth = positions[keep], numbers[keep], grain[keep], nn[keep], truth[keep]
    if vacancies:
        keep = rng.random(len(positions)) >= vacancies
        positions, numbers, grain, nn, truth = positions[keep], numbers[keep], grain[keep], nn[keep], truth[keep]
    distance_to_boundary = boundary_distance(positions, grain, seeds, box)
    if displacements:
        positions = (positions + rng.normal(0.0, 1.0, positions.shape) * (displacements * nn)[:, None]) % box
    atoms = Atoms(numbers=numbers, positions=positions, cell=np.diag(box), pbc=True)
    atoms.arrays["truth"] = truth.astype("U7")
    atoms.arrays["grain"] = grain.astype(int)
    atoms.arrays["boundary_distance"] = distance_to_boundary
    atoms.info.update({"grain_kinds": " ".join(names), "box": " ".join(f"{b:.4f}" for b in box), "seed": seed,
                       "vacancies": vacancies, "displacements": displacements})
    return atoms


def _number(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers[symbol]


def _spread_seeds(rng: np.random.Generator, n: int, box: float, tries: int = 200) -> np.ndarray:
    """``n`` grain seeds in the box, the best spread (largest smallest periodic distance) of
    ``tries`` random draws, so that no grain is a sliver."""
    best, best_gap = None, -1.0
    for _ in range(tries):
        seeds = rng.uniform(0, box, (n, 3))
        if n == 1:
            return seeds
        delta = seeds[:, None] - seeds[None]
        delta -= box * np.round(delta / box)
        gaps = np.linalg.norm(delta, axis=-1) + np.eye(n) * box * 10
        if gaps.min() > best_gap:
            best, best_gap = seeds, gaps.min()
    return best


def _remove_overlaps(positions, grain, nn, box) -> np.ndarray:
    box = np.asarray(box, dtype=float)
    """Mask keeping all atoms but one of each pair closer than :data:`OVERLAP` times the smaller
    nearest-neighbour distance (periodic box)."""
    tree = cKDTree(positions, boxsize=box)
    pairs = tree.query_pairs(OVERLAP * nn.max(), output_type="ndarray")
    keep = np.ones(len(positions), dtype=bool)
    if len(pairs) == 0:
        return keep
    i, j = pairs[:, 0], pairs[:, 1]
    delta = positions[i] - positions[j]
    delta -= box * np.round(delta / box)
    close = np.linalg.norm(delta, axis=1) < OVERLAP * np.minimum(nn[i], nn[j])
    for a, b in zip(i[close], j[close]):
        if keep[a] and keep[b]:
            keep[b] = False
    return keep


def apt_cluster(kind: str, n_atoms: int = 800, missing: float = 0.5, noise: float = 0.05,
                seed: int = 0) -> Atoms:
    """An atom-probe-like cluster: a sphere of about ``n_atoms`` atoms of ``kind``'s crystal (keys of
    :data:`KINDS`) in a random orientation, of which the fraction ``missing`` is removed at random and
    the rest displaced by a Gaussian of ``noise`` nearest-neighbour distances per component.
    Non-periodic; ``info["truth"]`` is its class."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    grain = KINDS[kind]
    rng = np.random.default_rng(seed)
    volume_per_atom = np.linalg.det(_cell(grain)[0]) / len(grain.basis)
    radius = (3 * n_atoms * volume_per_atom / (4 * math.pi)) ** (1 / 3)
    rotation = Rotation.random(random_state=rng.integers(2 ** 32)).as_matrix()
    points = crystal_sphere(grain, radius, rotation) + rng.uniform(-0.5, 0.5, 3) * grain.nn_distance
    points = points[rng.random(len(points)) >= missing]
    sigma = (AMORPHOUS_SIGMA if kind == "amorphous" else noise) * grain.nn_distance
    points = points + rng.normal(0.0, sigma, points.shape)
    atoms = Atoms(numbers=np.full(len(points), _number(grain.symbol)), positions=points, pbc=False)
    atoms.info.update({"truth": grain.truth, "kind": kind, "missing": missing, "noise": noise, "seed": seed})
    return atoms
