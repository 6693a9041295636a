"""The model shipped in the package, on real crystals no one here generated (ASE's dcdft set)."""
import json

import numpy as np
import pytest

from paper_lib.model import SHIPPED_MODEL, classify, load_model
from paper_lib.evaluation import OTHER_STRUCTURE_TYPES, dcdft_crystals, real_crystal_predictions
from paper_lib.structures import CLASSES_7

pytest.importorskip("tensorflow")

def dcdft_in_classes():
    """(inside, outside): dcdft crystals of the seven classes (name, atoms, label), and the others."""
    from ase.collections import dcdft

    inside = dcdft_crystals(CLASSES_7)
    names = {name for name, _, _ in inside}
    return inside, [(name, dcdft[name], None) for name in dcdft.names if name not in names]


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_the_shipped_model_is_small_and_described(shipped):
    assert SHIPPED_MODEL.stat().st_size <= 5_000_000
    assert shipped.classes == CLASSES_7
    assert shipped.fingerprint == {"mask_inner_px": 5, "mask_outer_px": None, "z_shift": 2,
                                   "angle_deg": 45.0, "target_atoms": 250}
    meta = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert meta["training_data"]["preset"] == "paper"
    assert meta["training_data"]["n_train"] + meta["training_data"]["n_validation"] == 10517


def test_dcdft_crystals_of_the_seven_classes(shipped):
    inside, outside = dcdft_in_classes()
    assert len(inside) == 61 and len(outside) == 10
    results = classify([atoms for _, atoms, _ in inside], shipped)
    wrong = {name: (label, r.label) for (name, _, label), r in zip(inside, results) if r.label != label}
    fair = {name: v for name, v in wrong.items() if name not in OTHER_STRUCTURE_TYPES}
    assert not fair, f"misclassified crystals of the trained structure types: {fair}"
    assert len(wrong) <= len(OTHER_STRUCTURE_TYPES)


def test_dcdft_crystals_outside_the_classes_do_not_crash(shipped):
    _, outside = dcdft_in_classes()
    results = classify([atoms for _, atoms, _ in outside], shipped)
    assert all(r.error is None and r.label in CLASSES_7 for r in results)
    assert all(abs(sum(r.probabilities.values()) - 1) < 1e-4 for r in results)


def test_shipped_model_through_the_default_api():
    from ase.build import bulk

    import paper_lib

    result = paper_lib.classify(bulk("W", "bcc", a=3.16))
    assert result.label == "bcc" and result.confidence > 0.5
    noisy = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    noisy.positions += np.random.default_rng(0).normal(0, 0.02 * 2.55, noisy.positions.shape)
    noisy.pbc = False
    assert paper_lib.classify(noisy).label == "fcc"


def test_real_crystals_with_defects(shipped):
    table = real_crystal_predictions(shipped, displacements=[2], vacancies=[25], copies=1, seed=1)
    assert len(table) == 61 * 3 and set(table["defect"]) == {"pristine", "displacements", "vacancies"}
    assert (table["predicted"] != "error").all() and table["detail"].between(0, 1).all()
    fair = table[table["fair"]]
    inside = {name for name, _, _ in dcdft_crystals(CLASSES_7)}
    assert set(fair["structure"]) == inside - set(OTHER_STRUCTURE_TYPES)
    assert (fair["predicted"] == fair["label"]).mean() >= 0.98
