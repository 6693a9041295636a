"""Defects applied to a pristine supercell: vacancies and random displacements.

Levels are in percent, as in the paper: a vacancy level eta removes round(eta/100 * N) atoms chosen
at random without replacement; a displacement level delta moves every atom by a Gaussian vector with
standard deviation sigma = delta/100 * d_nn per Cartesian component, d_nn being the mean
nearest-neighbour distance (Angstrom) of the pristine structure.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from .structures import mean_nn_distance

KINDS = ("vacancies", "displacements")

#: Training-set augmentation (not in the paper, whose network sees pristine structures only):
#: ``copies`` displaced copies of every pristine structure, each with a displacement level drawn
#: uniformly from [0, ``max_displacement``] % of the nearest-neighbour distance, from a random
#: stream of its own (the test structures are never among them); ``epochs`` of training on the
#: pristine + augmented set (1.2x the optimizer steps of the paper's 5 epochs on pristine data).
AUGMENTATION = {"copies": 1, "max_displacement": 10.0, "epochs": 3}


def vacancies(atoms: Atoms, eta_percent: float, rng: np.random.Generator) -> Atoms:
    """Remove ``eta_percent`` % of the atoms at random (without replacement); at least 2 stay."""
    if not 0 <= eta_percent < 100:
        raise ValueError(f"vacancy level must be in [0, 100) %, got {eta_percent}")
    n_remove = min(int(round(eta_percent / 100 * len(atoms))), len(atoms) - 2)
    keep = np.sort(rng.permutation(len(atoms))[n_remove:])
    return atoms[keep]


def displacements(atoms: Atoms, delta_percent: float, rng: np.random.Generator,
                  nn_distance: float | None = None) -> Atoms:
    """Displace every atom by N(0, sigma^2) per component, sigma = delta/100 * d_nn (Angstrom).

    ``nn_distance`` defaults to the structure's own mean nearest-neighbour distance.
    """
    if delta_percent < 0 or not np.isfinite(delta_percent):
        raise ValueError(f"displacement level must be a finite number >= 0 %, got {delta_percent}")
    d_nn = mean_nn_distance(atoms) if nn_distance is None else nn_distance
    out = atoms.copy()
    out.positions = atoms.positions + rng.normal(0.0, delta_percent / 100 * d_nn, size=atoms.positions.shape)
    return out


def apply(kind: str, level: float, atoms: Atoms, rng: np.random.Generator,
          nn_distance: float | None = None) -> Atoms:
    """Apply defect ``kind`` (``vacancies`` or ``displacements``) at ``level`` % to ``atoms``."""
    if kind == "vacancies":
        return vacancies(atoms, level, rng)
    if kind == "displacements":
        return displacements(atoms, level, rng, nn_distance)
    raise ValueError(f"unknown defect kind {kind!r}; known: {', '.join(KINDS)}")


def supercell_nn_distance(atoms: Atoms) -> float:
    """Mean nearest-neighbour distance (Angstrom) of a cluster read as the periodic supercell it was
    cut from (no surface atoms): the length the displacement levels refer to."""
    crystal = atoms.copy()
    crystal.pbc = True
    return mean_nn_distance(crystal)


def dataset_nn_distance(atoms: Atoms, preprocessing: str) -> float:
    """The nearest-neighbour distance (Angstrom) displacement levels refer to, for a pristine
    structure of the dataset: the supercell's (``paper2018``) or 1 (``crystal_frame`` and
    ``crystal_frame_wide`` clusters are
    scaled so that their average crystal's nearest-neighbour distance is 1 Angstrom)."""
    return supercell_nn_distance(atoms) if preprocessing == "paper2018" else 1.0


def variant_plan(preset) -> dict[tuple[str, float], np.ndarray]:
    """For each (kind, level) of a preset, the sorted pristine indices that receive it.

    ``fraction_of_pristine`` of all pristine structures are chosen by a seeded permutation, so the
    choice does not depend on sharding.
    """
    n = preset.n_pristine
    k = int(round(preset.fraction_of_pristine * n))
    plan = {}
    for kind_index, (kind, levels) in enumerate((("vacancies", preset.vacancies),
                                                  ("displacements", preset.displacements))):
        for level_index, level in enumerate(levels):
            chosen = np.random.default_rng([preset.seed, 10 + kind_index, level_index]).permutation(n)[:k]
            plan[(kind, level)] = np.sort(chosen)
    return plan


def variants_of(preset, plan, sid: int, atoms: Atoms):
    """Yield ``(kind, level, defective_atoms)`` for pristine structure ``sid`` (seeded per variant)."""
    nn_distance = dataset_nn_distance(atoms, preset.preprocessing)
    for kind_index, kind in enumerate(KINDS):
        levels = preset.vacancies if kind == "vacancies" else preset.displacements
        for level_index, level in enumerate(levels):
            chosen = plan[(kind, level)]
            position = np.searchsorted(chosen, sid)
            if position < len(chosen) and chosen[position] == sid:
                rng = np.random.default_rng([preset.seed, 1 + kind_index, level_index, sid])
                yield kind, level, apply(kind, level, atoms, rng, nn_distance)


def augmented_copies(atoms: Atoms, sid: int, seed: int, copies: int = AUGMENTATION["copies"],
                     max_displacement: float = AUGMENTATION["max_displacement"],
                     preprocessing: str = "paper2018", max_vacancies: float = 0.0):
    """Yield ``(level, displaced_atoms)``: ``copies`` training copies of pristine structure ``sid``.

    Each copy's level (%) is drawn uniformly from [0, ``max_displacement``]; the noise follows
    :func:`displacements` with the pristine supercell's nearest-neighbour distance. Seeded by
    ``(seed, sid, copy)`` on a stream that the test variants (:func:`variants_of`) never use. With
    ``max_vacancies`` > 0 (%), each displaced copy then also loses a share of its atoms drawn
    uniformly from [0, ``max_vacancies``] (:func:`vacancies`, on a stream of its own, so that the
    displacements stay those of ``max_vacancies=0``); the share is ``info["vacancy_level"]`` (%).
    """
    if copies < 1:
        raise ValueError(f"augmentation needs at least one copy, got {copies}")
    if not 0 < max_displacement < 100:
        raise ValueError(f"the largest augmentation displacement must be in (0, 100) %, got {max_displacement}")
    if not 0 <= max_vacancies < 100:
        raise ValueError(f"the largest augmentation vacancy level must be in [0, 100) %, got {max_vacancies}")
    nn_distance = dataset_nn_distance(atoms, preprocessing)
    for copy in range(copies):
        rng = np.random.default_rng([seed, 99, sid, copy])
        level = float(rng.uniform(0.0, max_displacement))
        moved = displacements(atoms, level, rng, nn_distance)
        if max_vacancies > 0:
            holes = np.random.default_rng([seed, 98, sid, copy])
            eta = float(holes.uniform(0.0, max_vacancies))
            moved = vacancies(moved, eta, holes)
            moved.info["vacancy_level"] = eta
        yield level, moved


def structure_rows(preset, plan, sid: int) -> list[tuple[Atoms, dict]]:
    """The database rows ``(atoms, keys)`` of pristine structure ``sid`` of a preset and of its
    defective variants (``plan``: :func:`variant_plan`). ``keys``: sid, defect (``pristine`` or
    the kind), level (%) and the pristine structure's record (label, spacegroup, ...)."""
    from .structures import pristine_of

    atoms, record = pristine_of(preset, sid)
    keys = {"sid": sid, "defect": "pristine", "level": 0.0, **record}
    rows = [(atoms, keys)]
    for kind, level, defective in variants_of(preset, plan, sid, atoms):
        rows.append((defective, {**keys, "defect": kind, "level": level}))
    return rows


def _structure_rows(job):
    return structure_rows(*job)


def dataset_rows(preset, shard: int = 0, n_shards: int = 1, processes: int = 1, progress: bool | None = True):
    """Yield the rows ``(atoms, keys)`` of shard ``shard`` of ``n_shards`` of a preset's dataset
    (the pristine structures with ``sid % n_shards == shard``, each followed by its defective
    variants; see :func:`structure_rows`), in order of ``sid``, made on ``processes`` workers.
    The rows do not depend on the sharding. ``progress``: a bar on stderr, one step per pristine
    structure."""
    from .parallel import parallel_map

    plan = variant_plan(preset)
    jobs = [(preset, plan, sid) for sid in range(shard, preset.n_pristine, n_shards)]
    for rows in parallel_map(_structure_rows, jobs, processes, chunksize=8, progress=progress,
                             desc=f"structures {shard}/{n_shards}", unit="pristine"):
        yield from rows


def augmented_rows(rows, seed: int, copies: int = AUGMENTATION["copies"],
                   max_displacement: float = AUGMENTATION["max_displacement"], preprocessing: str = "paper2018",
                   max_vacancies: float = 0.0):
    """Yield ``(displaced_atoms, keys)``: the :func:`augmented_copies` of every pristine row
    ``(atoms, keys)`` (``keys`` with its ``sid``), keyed as a ``displacements`` variant at the
    copy's level (%), and with ``vacancy_level`` (%) when ``max_vacancies`` > 0."""
    for atoms, keys in rows:
        for level, copy in augmented_copies(atoms, int(keys["sid"]), seed, copies, max_displacement, preprocessing,
                                            max_vacancies):
            extra = {"vacancy_level": copy.info.pop("vacancy_level")} if max_vacancies > 0 else {}
            yield copy, {**keys, "defect": "displacements", "level": level, **extra}
