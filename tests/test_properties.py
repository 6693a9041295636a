"""Property-based tests: random cells, positions, species and sizes never break ``fingerprint`` or
``classify``: they give a result or a :class:`StructureError`, never another exception.

Examples per test: 200 by default (CI); the dedicated run uses 2,000 or more::

    PAPER_LIB_HYPOTHESIS_EXAMPLES=2000 python -m pytest -q tests/test_properties.py
"""
import math
import os
import warnings

import numpy as np
import pytest
from ase import Atoms

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from paper_lib.diffraction import fingerprint  # noqa: E402
from paper_lib.structures import StructureError  # noqa: E402

EXAMPLES = int(os.environ.get("PAPER_LIB_HYPOTHESIS_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

ODD_NUMBERS = [0.0, -0.0, 1e-300, 1e-12, 1e-6, 1e6, 1e12, 1e300, math.nan, math.inf, -math.inf]


def coordinates(scale: float):
    return st.one_of(st.floats(-scale, scale, allow_nan=False), st.sampled_from(ODD_NUMBERS))


@st.composite
def structures(draw):
    """An Atoms of 0-300 atoms, ordinary or not: rattled lattice blocks (crystals the frame search
    may find), random gases, odd coordinates (NaN, inf, huge, tiny) or coincident atoms; one
    element, two, or any integer from -3 to 120 as atomic numbers; any pbc; a cell that fits the
    block, a random one, or a flat, nearly flat, zero, huge or non-finite one."""
    kind = draw(st.sampled_from(["lattice"] * 3 + ["box"] * 2 + ["odd", "coincident"]))
    n = draw(st.integers(0, 12) if kind != "lattice" else st.integers(8, 300))
    if kind == "box":
        n = draw(st.one_of(st.integers(0, 12), st.integers(13, 300)))
    spacing = draw(st.sampled_from([1e-3, 1.0, 2.5, 30.0]) if kind != "lattice" else st.floats(0.5, 6.0))
    species = draw(st.sampled_from(["one"] * 3 + ["two", "any"]))
    common = draw(st.sampled_from([26, 29, 14, 79, 1, 94]))
    if species == "one":
        numbers = [common] * n
    elif species == "two":
        other = draw(st.integers(1, 96))
        numbers = draw(st.lists(st.sampled_from([common, other]), min_size=n, max_size=n))
    else:
        numbers = draw(st.lists(st.one_of(st.just(common), st.integers(-3, 120)), min_size=n, max_size=n))
    side = max(1, round(n ** (1 / 3)))
    if kind == "lattice":              # a rattled simple cubic block
        grid = np.array(np.meshgrid(*[np.arange(side + 1)] * 3, indexing="ij")).reshape(3, -1).T[:n].astype(float)
        noise = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
        seed = draw(st.integers(0, 2**32 - 1))
        positions = (grid + noise * np.random.default_rng(seed).standard_normal(grid.shape)) * spacing
    elif kind == "box":
        positions = np.array(draw(st.lists(st.tuples(*[st.floats(0, 5 * spacing)] * 3), min_size=n, max_size=n)),
                             dtype=float).reshape(n, 3)
    elif kind == "odd":
        positions = np.array(draw(st.lists(st.tuples(*[coordinates(spacing)] * 3), min_size=n, max_size=n)),
                             dtype=float).reshape(n, 3)
    else:
        positions = np.zeros((n, 3)) + draw(st.floats(-1, 1))
    cell_kind = draw(st.sampled_from(["fits"] * 3 + ["random", "flat", "nearly_flat", "zero", "huge", "odd"]))
    if cell_kind == "fits":
        cell = np.eye(3) * spacing * (side + (1 if kind == "lattice" else 0))
    elif cell_kind == "random":
        cell = np.array(draw(st.lists(st.floats(-30, 30), min_size=9, max_size=9))).reshape(3, 3)
    elif cell_kind == "flat":
        cell = np.array([[5.0, 0, 0], [0, 5.0, 0], [2.5, 2.5, 0.0]])
    elif cell_kind == "nearly_flat":
        cell = np.array([[5.0, 0, 0], [0, 5.0, 0], [2.5, 2.5, draw(st.sampled_from([1e-300, 1e-12, 1e-6]))]])
    elif cell_kind == "zero":
        cell = np.zeros((3, 3))
    elif cell_kind == "huge":
        cell = np.eye(3) * draw(st.sampled_from([1e6, 1e12, 1e300]))
    else:
        cell = np.array(draw(st.lists(st.sampled_from(ODD_NUMBERS + [1.0, 5.0]), min_size=9, max_size=9))).reshape(3, 3)
    pbc = draw(st.sampled_from([(True, True, True), (False, False, False)]) | st.tuples(*[st.booleans()] * 3))
    atoms = Atoms(numbers=np.array(numbers, dtype=int), positions=positions, pbc=pbc)
    atoms.cell.array[:] = cell              # any cell, even one ASE would not build
    return atoms


@pytest.fixture(scope="module")
def shipped():
    pytest.importorskip("tensorflow")
    from paper_lib.model import load_model

    return load_model()


@SETTINGS
@given(atoms=structures(), preprocessing=st.sampled_from(["paper2018", "crystal_frame"]),
       target_atoms=st.sampled_from([None, 2, 60, 250]))
def test_fingerprint_gives_a_fingerprint_or_a_structure_error(atoms, preprocessing, target_atoms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # slabs and odd cells warn; that is allowed
        try:
            fp = fingerprint(atoms, preprocessing=preprocessing, target_atoms=target_atoms, name="random")
        except StructureError as exc:
            assert str(exc).startswith("random"), str(exc)
            event(f"{preprocessing}: StructureError")
            return
    event(f"{preprocessing}: fingerprint")
    assert fp.shape == (64, 64, 3) and fp.dtype == np.float32
    assert np.isfinite(fp).all() and fp.min() >= 0 and fp.max() <= 1


@SETTINGS
@given(batch=st.lists(structures(), min_size=1, max_size=3))
def test_classify_gives_a_class_or_an_error_for_each_structure(shipped, batch):
    """Each structure gets a class, `unknown` with its reason, or an error; never an exception."""
    from paper_lib.model import classify

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = classify(batch, shipped)
    assert len(results) == len(batch)
    for result in results:
        event("error" if result.error is not None else "unknown" if result.label == "unknown" else "classified")
        if result.error is not None:
            assert result.label is None and result.error
            continue
        assert result.label in (*shipped.classes, "unknown")
        if result.label == "unknown":
            assert result.reason
        if result.probabilities:          # none when no lattice was found
            assert math.isclose(sum(result.probabilities.values()), 1.0, abs_tol=1e-4)
            assert result.best in shipped.classes and 0.0 <= result.uncertainty <= 1.0
        else:
            assert result.label == "unknown" and result.best is None and result.uncertainty is None
