"""Local structure maps: a class, probabilities and an uncertainty for every atom of a large sample.

The sample is read through spherical windows of radius ``window`` (Angstrom) whose centres lie on a
grid of spacing ``stride`` (Angstrom), periodic images included for a periodic sample. Each window is
a finite cluster that goes through the model's own pre-processing (its own crystal frame and length
scale: grains may have any orientation), the diffraction fingerprint and the classifier with its
uncertainty and ``unknown`` decision, exactly as :func:`paper_lib.model.classify` treats a structure.

Every atom then takes a Gaussian-weighted vote (sigma = stride / 2) of the windows whose centres lie
within ``stride`` of it (at least one always does). Its ``label`` is the class with the largest
weight among the windows that gave a class, or ``unknown`` when those hold less than
:data:`MIN_KNOWN_WEIGHT` of the weight: a window that straddles a grain boundary is often
``unknown``, and an atom a few Angstrom inside a grain then takes the answer of the windows that lie
within the grain. ``probabilities`` is the weighted mean of the windows' class probabilities,
``probability`` that of its label (for ``unknown``: the weight share of the ``unknown`` windows),
``uncertainty`` the weighted mean of theirs.

Choosing the window: it must hold the cluster the fingerprint needs (about 250 atoms: 3.5
nearest-neighbour distances for fcc and bcc, 4.5 for diamond), so smaller windows lose robustness to
vacancies and noise; larger ones blur grain boundaries over a wider band. The default,
:data:`WINDOW_NN` nearest-neighbour distances (about 9 Angstrom in Cu), keeps the tested accuracy;
the stride sets the cost (windows scale as 1/stride^3) and the resolution.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from .structures import StructureError, to_atoms

#: default window radius, in nearest-neighbour distances of the sample (median over its atoms)
WINDOW_NN = 3.6
#: default spacing of the coarse window grid, in nearest-neighbour distances (refined to half near boundaries)
STRIDE_NN = 4.0
#: a window with fewer atoms than this is ``unknown`` without being classified
MIN_WINDOW_ATOMS = 40
#: an atom is ``unknown`` when the windows that gave a class hold less than this share of its vote
#: weight (the rest said ``unknown``: a mixed boundary, an amorphous region)
MIN_KNOWN_WEIGHT = 0.25
#: windows classified between two checkpoints
CHECKPOINT_EVERY = 512
UNKNOWN = "unknown"


class LocalError(ValueError):
    """A sample or window parameters that local analysis cannot use."""


@dataclass
class LocalResult:
    """Per-atom arrays aligned with the sample's atoms, and the windows they came from.

    ``label`` (n,) str: a class or ``unknown``; ``probability`` (n,) in [0, 1]: of that label;
    ``uncertainty`` (n,) in [0, 1]; ``probabilities`` (n, classes). ``centres`` (m, 3) Angstrom,
    ``window_label`` (m,), ``window_uncertainty`` (m,), ``window_probabilities`` (m, classes),
    ``window_atoms`` (m,) for the windows;
    ``window`` and ``stride`` in Angstrom.
    """

    classes: tuple
    label: np.ndarray
    probability: np.ndarray
    uncertainty: np.ndarray
    probabilities: np.ndarray
    centres: np.ndarray
    window_label: np.ndarray
    window_uncertainty: np.ndarray
    window_probabilities: np.ndarray
    window_atoms: np.ndarray
    window: float
    stride: float

    def fractions(self) -> dict[str, float]:
        """Share of the atoms with each label (classes and ``unknown``), in [0, 1]."""
        n = max(len(self.label), 1)
        return {c: float(np.count_nonzero(self.label == c)) / n for c in (*self.classes, UNKNOWN)}


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------

def _periodic(atoms: Atoms) -> bool:
    return bool(atoms.pbc.all())


def cell_heights(cell: np.ndarray) -> np.ndarray:
    """The three distances (Angstrom) between opposite faces of a cell (rows are vectors)."""
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)])


def padded(positions: np.ndarray, cell: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions wrapped into the cell plus their periodic images within ``margin`` (Angstrom) of it,
    and the index of the atom each point is an image of. ``margin`` must not exceed a cell height."""
    fractional = np.linalg.solve(cell.T, positions.T).T % 1.0
    index = np.arange(len(positions))
    width = margin / cell_heights(cell)
    for axis in range(3):
        low = fractional[:, axis] < width[axis]
        high = fractional[:, axis] >= 1.0 - width[axis]
        shift = np.zeros(3)
        shift[axis] = 1.0
        fractional = np.concatenate([fractional, fractional[low] + shift, fractional[high] - shift])
        index = np.concatenate([index, index[low], index[high]])
    return fractional @ cell, index


def nearest_neighbour_distance(atoms: Atoms, sample: int = 2000, seed: int = 0) -> float:
    """The median nearest-neighbour distance (Angstrom) of up to ``sample`` atoms of ``atoms``."""
    positions = atoms.positions
    if _periodic(atoms):
        cell = atoms.cell.array
        reach = min(cell_heights(cell).min(), 8.0 * (abs(np.linalg.det(cell)) / max(len(atoms), 1)) ** (1 / 3))
        points, _ = padded(positions, cell, reach)
        query = padded(positions, cell, 0.0)[0]
    else:
        points = query = positions
    tree = cKDTree(points)
    rng = np.random.default_rng(seed)
    chosen = query if len(query) <= sample else query[rng.choice(len(query), sample, replace=False)]
    distance, _ = tree.query(chosen, k=2)
    finite = distance[:, 1][np.isfinite(distance[:, 1]) & (distance[:, 1] > 1e-8)]
    if not len(finite):
        raise LocalError("no two atoms are apart: no nearest-neighbour distance")
    return float(np.median(finite))


@dataclass(frozen=True)
class WindowGrid:
    """The coarse grid of window centres: ``origin`` (3,) and ``basis`` (3, 3) Angstrom (rows: the
    step along each grid axis), ``shape`` (n0, n1, n2), ``periodic`` (the grid wraps around)."""

    origin: np.ndarray
    basis: np.ndarray
    shape: tuple
    periodic: bool

    def centres(self, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
        """The centres (n0 n1 n2, 3) in C order, shifted by ``offset`` grid steps."""
        index = np.stack(np.meshgrid(*[np.arange(k) for k in self.shape], indexing="ij"), -1).reshape(-1, 3)
        return self.origin + (index + np.asarray(offset)) @ self.basis


def window_grid(atoms: Atoms, stride: float) -> WindowGrid:
    """A grid of spacing at most ``stride`` Angstrom over the cell (periodic) or over the bounding box
    of the atoms (otherwise), centres in the middle of its cells."""
    if _periodic(atoms):
        cell = atoms.cell.array
        n = np.maximum(1, np.ceil(cell_heights(cell) / stride)).astype(int)
        basis = cell / n[:, None]
        return WindowGrid(origin=0.5 * basis.sum(axis=0), basis=basis, shape=tuple(n), periodic=True)
    low, high = atoms.positions.min(axis=0), atoms.positions.max(axis=0)
    n = np.maximum(1, np.ceil((high - low) / stride)).astype(int)
    basis = np.diag(np.maximum(high - low, 1e-9) / n)
    return WindowGrid(origin=low + 0.5 * np.diag(basis), basis=basis, shape=tuple(n), periodic=False)


def window_centres(atoms: Atoms, stride: float) -> np.ndarray:
    """Centres (m, 3) Angstrom of the coarse windows (see :func:`window_grid`)."""
    return window_grid(atoms, stride).centres()


def disputed(codes: np.ndarray, periodic: bool) -> np.ndarray:
    """Cells of a grid of answers (n0, n1, n2) whose answer differs from a face neighbour's (the grid
    wraps around when ``periodic``): where a finer look pays."""
    out = np.zeros(codes.shape, dtype=bool)
    for axis in range(3):
        if codes.shape[axis] < 2:
            continue
        for shift in (1, -1):
            neighbour = np.roll(codes, shift, axis=axis)
            differ = neighbour != codes
            if not periodic:                      # no neighbour beyond the edge
                edge = [slice(None)] * 3
                edge[axis] = 0 if shift == 1 else -1
                differ[tuple(edge)] = False
            out |= differ
    return out


#: the eight sub-centres of a disputed cell, in grid steps from its centre
CHILD_OFFSETS = np.array([(x, y, z) for x in (-.25, .25) for y in (-.25, .25) for z in (-.25, .25)])


def check_sample(atoms: Atoms, window: float, stride: float, name: str = "sample") -> None:
    """Refuse, naming ``name``, a window or stride that is not a positive length, or a sample smaller
    than one window (a periodic cell thinner than the window's diameter, or a finite sample that
    fits inside one window: classify it whole with ``classify``)."""
    for what, value in (("window radius", window), ("stride", stride)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise LocalError(f"{name}: the {what} must be a positive length in Angstrom, got {value!r}")
    if len(atoms) < 2:
        raise LocalError(f"{name}: the sample has {len(atoms)} atom(s)")
    if atoms.pbc.any() and not _periodic(atoms):
        raise LocalError(f"{name}: periodic along {int(atoms.pbc.sum())} axis/axes only; local maps take a sample "
                         "periodic on all three axes or on none")
    if _periodic(atoms):
        heights = cell_heights(atoms.cell.array)
        if heights.min() < 2 * window:
            raise LocalError(f"{name}: the sample is smaller than one window: its periodic cell is "
                             f"{heights.min():.1f} A thick, less than the window's diameter {2 * window:.1f} A "
                             "(use a smaller --window, a larger cell, or classify it whole with `classify`)")
    else:
        extent = atoms.positions.max(axis=0) - atoms.positions.min(axis=0)
        if extent.max() < 2 * window:
            raise LocalError(f"{name}: the sample is smaller than one window: it spans {extent.max():.1f} A, "
                             f"less than the window's diameter {2 * window:.1f} A (classify it whole with "
                             "`classify`, or use a smaller --window)")


class _Windows:
    """The atoms of each window, cut from the sample (periodic images included)."""

    def __init__(self, atoms: Atoms, window: float):
        self.window = window
        self.numbers = atoms.numbers
        if _periodic(atoms):
            self.points, self.index = padded(atoms.positions, atoms.cell.array, window)
        else:
            self.points, self.index = atoms.positions.copy(), np.arange(len(atoms))
        self.tree = cKDTree(self.points)

    def count(self, centres: np.ndarray) -> np.ndarray:
        """How many atoms each window around ``centres`` (m, 3) holds."""
        return np.asarray(self.tree.query_ball_point(centres, self.window, return_length=True), dtype=int)

    def cut(self, centre: np.ndarray) -> Atoms:
        """The window around ``centre`` as a finite cluster centred on it (Angstrom)."""
        members = np.asarray(self.tree.query_ball_point(centre, self.window), dtype=int)
        return Atoms(numbers=self.numbers[self.index[members]], positions=self.points[members] - centre, pbc=False)


# --------------------------------------------------------------------------------------------
# Classifying the windows, with checkpoints
# --------------------------------------------------------------------------------------------

def _digest(atoms: Atoms, window: float, stride: float, refine: bool, model_id: str) -> str:
    h = hashlib.sha256()
    for part in (atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(f"{window!r} {stride!r} {refine} {model_id}".encode())
    return h.hexdigest()[:16]


class _Answers:
    """The answers of the windows classified so far, in order (label code, class probabilities,
    uncertainty), saved to ``checkpoint`` every :data:`CHECKPOINT_EVERY` windows and read back by a
    later run with the same ``digest``."""

    def __init__(self, checkpoint: Path | None, digest: str, n_classes: int):
        self.checkpoint, self.digest, self.n_classes, self.since = checkpoint, digest, n_classes, 0
        self._label, self._probabilities, self._uncertainty = [], [], []
        if checkpoint is not None and checkpoint.exists():
            try:
                with np.load(checkpoint, allow_pickle=False) as saved:
                    if str(saved["digest"]) == digest and saved["probabilities"].shape[1:] == (n_classes,):
                        self._label = saved["label"].tolist()
                        self._probabilities = list(saved["probabilities"])
                        self._uncertainty = saved["uncertainty"].tolist()
            except (OSError, ValueError, KeyError):
                pass                                   # a damaged checkpoint: start again

    def __len__(self) -> int:
        return len(self._label)

    @property
    def label(self) -> np.ndarray:
        return np.asarray(self._label, dtype=np.int16)

    @property
    def probabilities(self) -> np.ndarray:
        return np.asarray(self._probabilities, dtype=np.float32).reshape(-1, self.n_classes)

    @property
    def uncertainty(self) -> np.ndarray:
        return np.asarray(self._uncertainty, dtype=np.float32)

    def add(self, code: int, probabilities, uncertainty: float) -> None:
        self._label.append(int(code))
        self._probabilities.append(np.asarray(probabilities, np.float32))
        self._uncertainty.append(float(uncertainty))
        self.since += 1
        if self.checkpoint is not None and self.since >= CHECKPOINT_EVERY:
            self.save()

    def save(self) -> None:
        from .io import atomic_path

        with atomic_path(self.checkpoint) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, digest=np.array(self.digest), label=self.label, probabilities=self.probabilities,
                         uncertainty=self.uncertainty)
        self.since = 0


def local_labels(atoms, window: float | None = None, stride: float | None = None, model=None, *,
                 refine: bool = False, processes: int = 1, progress: bool | None = None,
                 checkpoint: str | Path | None = None, name: str = "sample") -> LocalResult:
    """The class of every atom of ``atoms`` (an ``ase.Atoms`` or pymatgen structure; periodic on all
    three axes or on none) from windows of radius ``window`` Angstrom on a grid of spacing ``stride``
    Angstrom (defaults: :data:`WINDOW_NN` and :data:`STRIDE_NN` times the sample's median
    nearest-neighbour distance). With ``refine``, every grid cell whose answer differs from a
    neighbour's (a boundary, an edge of an amorphous region) is looked at again with eight windows at
    half the spacing, which replace it in the vote: boundaries are resolved at stride / 2, at a cost
    that grows with the boundary area (off by default: on a 1e5-atom polycrystal it multiplied the
    windows several times for no gain in interior accuracy).

    ``model``: a model file, name or :class:`~paper_lib.model.LoadedModel` (default: the shipped
    one). ``processes``: fingerprint workers. ``checkpoint``: a file where the windows done so far are
    saved every :data:`CHECKPOINT_EVERY` windows; a later call with the same sample, parameters and
    model resumes from it (it is removed when the call completes). Returns a :class:`LocalResult`
    whose arrays are aligned with ``atoms``.
    """
    from tqdm import tqdm

    from .model import LoadedModel, load_model

    try:
        atoms = to_atoms(atoms, name)
    except StructureError as exc:
        raise LocalError(str(exc)) from None
    if len(atoms) and not np.all(np.isfinite(atoms.positions)):
        raise LocalError(f"{name}: the sample has NaN or infinite coordinates")
    if window is None or stride is None:
        if len(atoms) < 2:
            raise LocalError(f"{name}: the sample has {len(atoms)} atom(s)")
        d = nearest_neighbour_distance(atoms)
        window = WINDOW_NN * d if window is None else window
        stride = STRIDE_NN * d if stride is None else stride
    check_sample(atoms, window, stride, name)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    classes = tuple(loaded.classes)
    codes = {c: i for i, c in enumerate(classes)}
    codes[UNKNOWN] = len(classes)
    windows = _Windows(atoms, window)
    model_id = str(getattr(loaded, "path", "")) + str(loaded.metadata.get("training_data", {}).get("digest", ""))
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    answers = _Answers(checkpoint, _digest(atoms, window, stride, refine, model_id), len(classes))
    grid = window_grid(atoms, stride)
    coarse = grid.centres()
    coarse_counts = windows.count(coarse)
    bar = tqdm(total=len(coarse), desc="windows", unit=" windows", disable=None if progress is None else not progress,
               mininterval=0.5)
    try:
        _classify_windows(windows, coarse, coarse_counts, 0, answers, loaded, codes, processes, bar)
        if refine:
            cells = np.flatnonzero(disputed(answers.label[:len(coarse)].reshape(grid.shape), grid.periodic))
        else:
            cells = np.zeros(0, dtype=int)
        fine = (coarse[cells][:, None, :] + (CHILD_OFFSETS @ grid.basis)[None]).reshape(-1, 3)
        fine_counts = windows.count(fine)
        bar.total = len(coarse) + len(fine)
        bar.refresh()
        _classify_windows(windows, fine, fine_counts, len(coarse), answers, loaded, codes, processes, bar)
    finally:
        bar.close()
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    centres = np.concatenate([coarse, fine])
    spacing = np.concatenate([np.full(len(coarse), float(stride)), np.full(len(fine), stride / 2)])
    voting = np.ones(len(centres), dtype=bool)
    voting[cells] = False                            # a refined cell votes through its eight children
    counts = np.concatenate([coarse_counts, fine_counts])
    label, probabilities, uncertainty = answers.label, answers.probabilities, answers.uncertainty
    per_atom = _vote(atoms, centres[voting], spacing[voting], label[voting], probabilities[voting],
                     uncertainty[voting], len(classes))
    names = np.array([*classes, UNKNOWN])
    return LocalResult(classes=classes, label=names[per_atom[0]], probability=per_atom[1], uncertainty=per_atom[2],
                       probabilities=per_atom[3], centres=centres, window_label=names[label],
                       window_uncertainty=uncertainty, window_probabilities=probabilities,
                       window_atoms=counts, window=float(window), stride=float(stride))


def _classify_windows(windows: _Windows, centres, counts, first: int, answers: _Answers, loaded, codes, processes,
                      bar):
    """Classify the windows around ``centres`` (holding ``counts`` atoms; numbered from ``first``)
    that ``answers`` does not hold yet, appending their answers in order."""
    from . import model as model_module

    start = len(answers) - first
    if start >= len(centres):
        bar.update(len(centres))
        return
    bar.update(max(start, 0))
    start = max(start, 0)

    def items():
        for j in range(start, len(centres)):
            if counts[j] < MIN_WINDOW_ATOMS:
                yield "window", first + j, ValueError(f"window {first + j} holds {counts[j]} atoms, "
                                                      f"fewer than {MIN_WINDOW_ATOMS}")
            else:
                yield "window", first + j, windows.cut(centres[j])

    n_classes = len(codes) - 1
    for result in model_module.classify_iter(items(), loaded, processes=processes):
        if result.label is None or not result.probabilities:     # too few atoms, no lattice, or a failure
            code = codes[UNKNOWN]
            probabilities = np.zeros(n_classes)
        else:
            code = codes[result.label]
            probabilities = [result.probabilities[c] for c in codes if c != UNKNOWN]
        uncertainty = np.nan if result.uncertainty is None else result.uncertainty
        answers.add(code, probabilities, uncertainty)
        bar.update(1)


def _vote(atoms: Atoms, centres, spacing, label, probabilities, uncertainty, n_classes, chunk: int = 50_000):
    """Per-atom (label code, probability, uncertainty, probabilities) from the windows within their
    own ``spacing`` (Angstrom) of each atom, Gaussian weights of sigma spacing / 2 (the nearest window
    when none is near): the module's docstring says how they are combined."""
    reach = float(spacing.max())
    if _periodic(atoms):
        points, owner = padded(centres, atoms.cell.array, reach)
    else:
        points, owner = centres, np.arange(len(centres))
    tree = cKDTree(points)
    k = int(min(len(points), 48))
    n = len(atoms)
    out_label = np.empty(n, dtype=int)
    out_p = np.empty(n, dtype=np.float32)
    out_u = np.empty(n, dtype=np.float32)
    out_probs = np.empty((n, n_classes), dtype=np.float32)
    missing_u = np.where(np.isnan(uncertainty), 1.0, uncertainty)     # no lattice: as uncertain as it gets
    for start in range(0, n, chunk):
        positions = atoms.positions[start:start + chunk]
        distance, index = tree.query(positions, k=k)
        distance, index = distance.reshape(len(positions), k), index.reshape(len(positions), k)
        window = owner[np.minimum(index, len(owner) - 1)]
        own = spacing[window]
        weight = np.exp(-0.5 * (distance / (own / 2)) ** 2) * (distance <= own)
        weight[:, 0] = np.where(weight.sum(axis=1) > 0, weight[:, 0], 1.0)   # the nearest window at least
        weight /= weight.sum(axis=1, keepdims=True)
        votes = np.zeros((len(positions), n_classes + 1))
        np.add.at(votes, (np.repeat(np.arange(len(positions)), k), label[window].ravel()), weight.ravel())
        known_weight = votes[:, :n_classes].sum(axis=1)
        winner = np.where(known_weight >= MIN_KNOWN_WEIGHT, votes[:, :n_classes].argmax(axis=1), n_classes)
        probs = np.einsum("nk,nkc->nc", weight, probabilities[window])
        rows = np.arange(len(positions))
        known = winner < n_classes
        out_label[start:start + chunk] = winner
        out_probs[start:start + chunk] = probs
        out_p[start:start + chunk] = np.where(known, probs[rows, np.minimum(winner, n_classes - 1)],
                                              votes[rows, n_classes])
        out_u[start:start + chunk] = np.einsum("nk,nk->n", weight, missing_u[window])
    return out_label, out_p, out_u, out_probs


def write_local(atoms: Atoms, result: LocalResult, path: str | Path) -> Path:
    """Write ``atoms`` with the per-atom arrays ``label``, ``probability`` and ``uncertainty`` as
    extended XYZ (OVITO and ASE read it), under a temporary name renamed when complete."""
    from ase.io import write

    from .io import atomic_path

    out = atoms.copy()
    out.arrays["label"] = result.label.astype("U16")
    out.arrays["probability"] = result.probability.astype(float)
    out.arrays["uncertainty"] = result.uncertainty.astype(float)
    out.info.update({"window": result.window, "stride": result.stride, "classes": " ".join(result.classes)})
    path = Path(path)
    with atomic_path(path) as tmp:
        write(tmp, out, format="extxyz")
    return path
