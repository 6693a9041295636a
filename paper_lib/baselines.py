"""Symmetry-finder baselines the CNN is compared with: spglib and OVITO's PTM.

- **spglib** at the paper's four tolerances (``SPGLIB_SETTINGS``): a structure is classified
  correctly when the space group spglib finds belongs to its true class
  (:data:`paper_lib.structures.SPACEGROUPS`); any other group, or none, is a miss.
- **Polyhedral Template Matching** (OVITO's ``PolyhedralTemplateMatchingModifier``, default RMSD
  cutoff 0.1, every template enabled): each atom gets a local structure type or none (``OTHER``);
  the structure gets the type most of its *assigned* atoms have (a structure with no assigned atom
  is not recognised). Ignoring unassigned atoms is the generous reading: with 10 % vacancies most
  atoms miss a neighbour and are unassigned, and a vote over all atoms would fail at once. PTM knows
  fcc, bcc, hcp (-> ``hex/rh``), simple cubic and cubic diamond; it has no template for body-centred
  tetragonal (bct_139, bct_141) or rhombohedral lattices, and its icosahedral, hexagonal-diamond and
  graphene types are none of our classes: all of those count as not recognised (``NOT_RECOGNISED``).

Both see the structure as stored by the dataset stage: the periodic supercell (pbc switched back
on), with defects as they are, rescaled from the dataset's 1 Angstrom nearest-neighbour distance to
the element's real one, so that spglib's ``symprec`` (Angstrom) means what it means for real data.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from ase import Atoms

from .structures import SPACEGROUPS, spacegroup_number, structure_label

#: method name -> (symprec in Angstrom, angle_tolerance in degrees; -1 = spglib's default)
SPGLIB_SETTINGS = {
    "spglib_1e-1": (1e-1, 5.0),
    "spglib_1e-2": (1e-2, -1.0),
    "spglib_1e-3": (1e-3, -1.0),
    "spglib_1e-4": (1e-4, 1.0),
}

#: PTM structure types that name one of our classes (7-class labels; hcp also means ``hex`` of 8)
PTM_CLASSES = {"FCC": "fcc", "BCC": "bcc", "HCP": "hex/rh", "SC": "sc", "CUBIC_DIAMOND": "diam"}

#: every baseline method, in the order of the tables
METHODS = (*SPGLIB_SETTINGS, "ptm")

#: the prediction of a method that names none of the classes
NOT_RECOGNISED = "none"


def periodic_supercell(atoms: Atoms, nn_distance: float | None = None) -> Atoms:
    """The stored supercell as a periodic crystal (a copy), scaled by ``nn_distance`` (Angstrom)
    from the dataset's unit nearest-neighbour distance when given."""
    crystal = atoms.copy()
    crystal.pbc = True
    if nn_distance is not None:
        if not np.isfinite(nn_distance) or nn_distance <= 0:
            raise ValueError(f"nearest-neighbour distance must be a positive length in Angstrom, got {nn_distance}")
        crystal.set_cell(crystal.cell.array * nn_distance, scale_atoms=True)
    if crystal.cell.rank < 3:
        raise ValueError("the structure has no three-dimensional cell; spglib and PTM need a periodic crystal")
    return crystal


def class_of_spacegroup(number: int | None, classes) -> str:
    """The class among ``classes`` whose space groups include ``number``, else ``NOT_RECOGNISED``."""
    for label in classes:
        if number in SPACEGROUPS[label]:
            return label
    return NOT_RECOGNISED


def spglib_prediction(crystal: Atoms, symprec: float, angle_tolerance: float, classes) -> tuple[str, int]:
    """(class, space-group number; 0 when spglib finds none) of a periodic crystal."""
    number = spacegroup_number(crystal, symprec=symprec, angle_tolerance=angle_tolerance)
    return class_of_spacegroup(number, classes), int(number or 0)


def ptm_types(crystal: Atoms) -> np.ndarray:
    """PTM's structure type name for every atom of a periodic crystal (``OTHER`` if unassigned)."""
    from ovito.io.ase import ase_to_ovito
    from ovito.modifiers import PolyhedralTemplateMatchingModifier as PTM

    modifier = PTM()
    for structure in modifier.structures:
        structure.enabled = True
    data = ase_to_ovito(crystal)
    data.apply(modifier)
    names = np.array([t.name for t in PTM.Type.__members__.values()])
    return names[np.asarray(data.particles["Structure Type"])]


#: adaptive CNA's (and OVITO's diamond identification's) types -> our classes; the rest is unknown
ACNA_CLASSES = {"FCC": "fcc", "BCC": "bcc", "HCP": "hex/rh", "CUBIC_DIAMOND": "diam",
                "CUBIC_DIAMOND_FIRST_NEIGHBOR": "diam", "CUBIC_DIAMOND_SECOND_NEIGHBOR": "diam"}


def ptm_atom_labels(atoms: Atoms, unknown: str = "unknown") -> np.ndarray:
    """Per-atom class by PTM (every template enabled, OVITO's default RMSD cutoff 0.1): fcc, bcc,
    hex/rh (hcp), sc, diam; ``unknown`` for unassigned atoms and types outside the classes. Works on
    periodic and finite samples alike."""
    return np.array([PTM_CLASSES.get(t, unknown) for t in ptm_types(atoms).tolist()], dtype=object).astype(str)


def acna_atom_labels(atoms: Atoms, unknown: str = "unknown") -> np.ndarray:
    """Per-atom class by adaptive common-neighbour analysis (fcc, bcc, hcp -> hex/rh), with OVITO's
    diamond identification (its CNA variant on second neighbours) for atoms a-CNA leaves unassigned:
    cubic diamond and its first and second neighbours -> diam. Everything else is ``unknown``."""
    from ovito.io.ase import ase_to_ovito
    from ovito.modifiers import CommonNeighborAnalysisModifier as CNA
    from ovito.modifiers import IdentifyDiamondModifier as Diamond

    out = np.full(len(atoms), unknown, dtype=object)
    data = ase_to_ovito(atoms)
    data.apply(CNA(mode=CNA.Mode.AdaptiveCutoff))
    names = np.array([t.name for t in CNA.Type.__members__.values()])
    cna = names[np.asarray(data.particles["Structure Type"])]
    data = ase_to_ovito(atoms)
    data.apply(Diamond())
    names = np.array([t.name for t in Diamond.Type.__members__.values()])
    diamond = names[np.asarray(data.particles["Structure Type"])]
    for i, (a, d) in enumerate(zip(cna.tolist(), diamond.tolist())):
        out[i] = ACNA_CLASSES.get(a) or ACNA_CLASSES.get(d) or unknown
    return out.astype(str)


def ptm_prediction(crystal: Atoms, classes) -> tuple[str, float]:
    """(class by majority vote over the atoms PTM assigns a type, the share of *all* atoms with
    that type) of a crystal; (``NOT_RECOGNISED``, 0) when PTM assigns no atom.

    With ``split_hex_rh`` classes, hcp maps to ``hex``.
    """
    assigned = [t for t in ptm_types(crystal).tolist() if t != "OTHER"]
    if not assigned:
        return NOT_RECOGNISED, 0.0
    name, votes = Counter(assigned).most_common(1)[0]
    label = PTM_CLASSES.get(name, NOT_RECOGNISED)
    if label == "hex/rh" and "hex/rh" not in classes:
        label = "hex"
    return (label if label in classes else NOT_RECOGNISED), votes / len(crystal)


def predict_all(atoms: Atoms, classes, nn_distance: float | None = None,
                methods=METHODS) -> list[tuple[str, str, float]]:
    """``(method, predicted class, detail)`` for every baseline method.

    ``detail`` is the space-group number for spglib and the majority share for PTM. A method that
    fails on this structure predicts ``NOT_RECOGNISED`` with detail NaN; others still run.
    """
    crystal = periodic_supercell(atoms, nn_distance)
    out = []
    for method in methods:
        try:
            if method == "ptm":
                out.append((method, *ptm_prediction(crystal, classes)))
            else:
                symprec, angle = SPGLIB_SETTINGS[method]
                out.append((method, *spglib_prediction(crystal, symprec, angle, classes)))
        except KeyError:
            raise ValueError(f"unknown baseline method {method!r}; known: {', '.join(METHODS)}") from None
        except Exception:  # a library failing on one structure is that method's miss, not the batch's end
            out.append((method, NOT_RECOGNISED, float("nan")))
    return out


def sample_sids(preset) -> np.ndarray:
    """The pristine structures (sorted ``sid``) the baselines see: all of them when the preset's
    ``baseline_sample`` is None, else a seeded sample stratified by class, each class in proportion
    to its count but with at least ``min(count, 10)`` structures (sc has only 4 in the paper)."""
    n_total = preset.n_pristine
    if preset.baseline_sample is None or preset.baseline_sample >= n_total:
        return np.arange(n_total)
    labels = np.array([structure_label(preset.counts, sid) for sid in range(n_total)])
    rng = np.random.default_rng([preset.seed, 2])
    chosen = []
    for label, count in preset.counts.items():
        if count == 0:
            continue
        k = min(count, max(round(preset.baseline_sample * count / n_total), 10))
        chosen.append(rng.choice(np.flatnonzero(labels == label), size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def _baseline_rows(job) -> list[dict]:
    """The prediction-table rows (one per method) of one database row."""
    row_id, atoms, keys, classes, methods = job
    found = predict_all(atoms, classes, keys.get("nn_distance"), methods)
    return [{"method": m, "row_id": row_id, "sid": keys["sid"], "label": keys["label"],
             "defect": keys["defect"], "level": keys["level"], "predicted": p, "detail": d}
            for m, p, d in found]


def database_predictions(db_path, preset, methods=None, processes: int = 1, progress: bool | None = True):
    """Every baseline of ``methods`` (default :data:`METHODS`) on the structures of a database that
    belong to the preset's baseline sample (:func:`sample_sids`), on ``processes`` workers: a
    per-structure prediction table (``paper_lib.evaluation.PREDICTION_COLUMNS``), in database order.

    Raises ``ValueError`` for a preset whose pre-processing is not the paper's (its database holds
    spherical clusters, not the periodic supercells the baselines read), for an unknown method, and
    for ``ptm`` without OVITO."""
    import pandas as pd

    from .evaluation import PREDICTION_COLUMNS
    from .io import read_structures
    from .parallel import parallel_map

    if preset.preprocessing != "paper2018":
        raise ValueError(f"{preset.source}: the baselines read the paper's periodic supercells; the "
                         f"{preset.preprocessing} pre-processing stores spherical clusters")
    methods = tuple(methods or METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown baseline method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if "ptm" in methods:
        try:
            import ovito  # noqa: F401
        except ImportError:
            raise ValueError("the ptm baseline needs OVITO's Python module: "
                             "pip install 'paper_lib[baselines]'") from None
    chosen = set(sample_sids(preset).tolist())
    jobs = [(row_id, atoms, keys, preset.classes, methods)
            for row_id, atoms, keys in read_structures(db_path) if keys["sid"] in chosen]
    rows = [row for found in parallel_map(_baseline_rows, jobs, processes, chunksize=4, progress=progress,
                                          desc="baselines", unit="structure") for row in found]
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
