"""spglib and PTM baselines: right on pristine crystals, failing as the paper says on defects; the
baselines and score commands."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli

from paper_lib import config
from paper_lib.baselines import (METHODS, NOT_RECOGNISED, periodic_supercell, predict_all, ptm_prediction,
                                 sample_sids)
from paper_lib.defects import displacements, vacancies
from paper_lib.evaluation import summarise
from paper_lib.structures import CLASSES_7, mean_nn_distance, pristine_of

pytest.importorskip("ovito")


@pytest.fixture(scope="module")
def pristine():
    """One pristine structure of every class (7 classes), with its record."""
    raw = {"preset": "b", "seed": 3, "split_hex_rh": False,
           "pristine": {"counts": {c: 1 for c in CLASSES_7}, "elements": "all", "target_atoms": 250},
           "defects": {"displacements": [1], "vacancies": [1], "fraction_of_pristine": 1.0},
           "shards": 1, "baselines": {"pristine_sample": None}}
    preset = config.validate(raw)
    return {label: pristine_of(preset, sid) for sid, label in enumerate(CLASSES_7)}


def test_periodic_supercell_is_periodic_and_at_real_size(pristine):
    atoms, record = pristine["fcc"]
    crystal = periodic_supercell(atoms, record["nn_distance"])
    assert crystal.pbc.all() and not atoms.pbc.any()            # the stored cluster is untouched
    assert mean_nn_distance(crystal) == pytest.approx(record["nn_distance"], rel=1e-9)
    with pytest.raises(ValueError, match="positive length"):
        periodic_supercell(atoms, -1.0)


@pytest.mark.parametrize("label", CLASSES_7)
def test_spglib_names_every_pristine_class_at_every_tolerance(pristine, label):
    atoms, record = pristine[label]
    found = predict_all(atoms, CLASSES_7, record["nn_distance"], methods=[m for m in METHODS if m != "ptm"])
    assert [p for _, p, _ in found] == [label] * 4, found


@pytest.mark.parametrize("label, expected", [
    ("fcc", "fcc"), ("bcc", "bcc"), ("diam", "diam"), ("sc", "sc"),
    ("bct_141", NOT_RECOGNISED),        # no PTM template for bct: it cannot be right
])
def test_ptm_on_pristine_crystals(pristine, label, expected):
    atoms, record = pristine[label]
    predicted, share = ptm_prediction(periodic_supercell(atoms, record["nn_distance"]), CLASSES_7)
    if expected == NOT_RECOGNISED:
        assert predicted != label
    else:
        assert predicted == expected and share > 0.99


def test_ptm_hcp_is_hex_rh_and_hex_with_eight_classes(pristine):
    from ase.build import bulk

    hcp = bulk("Mg", "hcp", a=3.21, c=5.21) * (5, 5, 5)
    assert ptm_prediction(hcp, CLASSES_7)[0] == "hex/rh"
    from paper_lib.structures import CLASSES_8
    assert ptm_prediction(hcp, CLASSES_8)[0] == "hex"


def test_symmetry_finders_fail_on_defects_where_tight(pristine):
    atoms, record = pristine["bcc"]
    rng = np.random.default_rng(0)
    shaken = displacements(atoms, 2.0, rng)                     # sigma = 2 % of d_nn
    found = dict((m, p) for m, p, _ in predict_all(shaken, CLASSES_7, record["nn_distance"]))
    assert found["spglib_1e-4"] == found["spglib_1e-3"] == NOT_RECOGNISED
    holed = vacancies(atoms, 10.0, rng)
    found = dict((m, p) for m, p, _ in predict_all(holed, CLASSES_7, record["nn_distance"]))
    assert all(found[m] == NOT_RECOGNISED for m in METHODS if m.startswith("spglib"))
    assert found["ptm"] == "bcc"                              # PTM's vote survives 10 % vacancies


def test_unknown_method_is_named(pristine):
    atoms, record = pristine["sc"]
    with pytest.raises(ValueError, match="unknown baseline method 'spglib_1'"):
        predict_all(atoms, CLASSES_7, record["nn_distance"], methods=["spglib_1"])


def test_sample_is_stratified_seeded_and_keeps_rare_classes(tiny_preset_dict):
    raw = dict(tiny_preset_dict, pristine=dict(tiny_preset_dict["pristine"],
               counts={"bcc": 300, "fcc": 200, "sc": 4}), baselines={"pristine_sample": 50})
    preset = config.validate(raw)
    sids = sample_sids(preset)
    assert np.array_equal(sids, sample_sids(preset)) and np.all(np.diff(sids) > 0)
    labels = np.array(["bcc"] * 300 + ["fcc"] * 200 + ["sc"] * 4)[sids]
    assert (labels == "bcc").sum() == 30 and (labels == "fcc").sum() == 20 and (labels == "sc").sum() == 4
    everything = config.validate(dict(raw, baselines={"pristine_sample": None}))
    assert len(sample_sids(everything)) == 504


def test_summary_counts_none_as_a_miss():
    table = pd.DataFrame({"method": "spglib_1e-1", "label": ["fcc", "fcc", "bcc", "bcc"],
                          "defect": "vacancies", "level": 1.0, "predicted": ["fcc", "none", "none", "bcc"]})
    summary = summarise(table, CLASSES_7)
    assert summary.accuracy["accuracy"].tolist() == [50.0]
    matrix = summary.confusion[("spglib_1e-1", "vacancies", 1.0)]
    assert matrix.loc["fcc", "none"] == 1 and matrix.loc["bcc", "bcc"] == 1


def test_baselines_and_score_commands(tmp_path, tiny_preset_dict):
    preset = tmp_path / "tiny.yaml"
    preset.write_text(yaml.safe_dump(dict(tiny_preset_dict, baselines={"pristine_sample": 7})))
    db = tmp_path / "s.db"
    assert run_cli("structures", "--config", preset, "--out", db).returncode == 0
    out = tmp_path / "predictions" / "baselines.csv"
    done = run_cli("baselines", "--config", preset, "--db", db, "--out", out, "--processes", "2")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert set(table["method"]) == set(METHODS)
    assert table["sid"].nunique() == 14     # the floor of min(count, 10) per class keeps all 2 x 7
    pristine = table[table["defect"] == "pristine"]
    assert (pristine.loc[pristine["method"] == "spglib_1e-3", "predicted"]
            == pristine.loc[pristine["method"] == "spglib_1e-3", "label"]).all()
    accuracy = tmp_path / "accuracy.csv"
    done = run_cli("score", out, "--config", preset, "--out", accuracy, "--confusion", "--plot")
    assert done.returncode == 0, done.stderr
    for name in ("accuracy_vs_vacancies.png", "accuracy_vs_displacements.pdf"):
        assert (tmp_path / name).stat().st_size > 5000
    scored = pd.read_csv(accuracy)
    assert list(scored.columns) == ["method", "defect", "level", "n", "accuracy"]
    assert scored.query("method == 'spglib_1e-3' and defect == 'pristine'")["accuracy"].item() == 100.0
    assert (tmp_path / "recall.csv").exists() and (tmp_path / "confusion" / "ptm_pristine_0.csv").exists()
    missing = run_cli("score", tmp_path / "nope.csv", "--config", preset, "--out", accuracy)
    assert missing.returncode == 2 and "nope.csv: no such prediction table" in missing.stderr
    bad = run_cli("baselines", "--config", preset, "--db", db, "--out", out, "--methods", "ptm", "spglib")
    assert bad.returncode == 2 and "unknown baseline method(s) spglib" in bad.stderr
