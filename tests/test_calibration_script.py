"""scripts/calibrate_shipped_model.py for other models than the shipped one: members, methods, site counts,
held-out prototypes (the steps that need no network)."""
import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paper_lib.prototypes import EXTENDED_CLASSES, HELD_OUT

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ["bcc", "bct_139", "bct_141", "diam", "fcc", "hex/rh", "sc"]


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(ROOT / "scripts" / "calibrate_shipped_model.py"))


def test_methods_and_member_paths_follow_the_seeds(script):
    methods_for, member_path = script["methods_for"], script["member_path"]
    robust = (2026, 2027, 2028, 2029, 2030)
    assert methods_for(robust) == {"mc_dropout": ("mc_dropout", (2026,)), "ensemble3": ("ensemble", robust[:3]),
                                   "ensemble5": ("ensemble", robust)}
    assert methods_for((2027, 2028, 2029)) == {"mc_dropout": ("mc_dropout", (2027,)),
                                               "ensemble3": ("ensemble", (2027, 2028, 2029))}
    assert methods_for((2027, 2028)) == {"mc_dropout": ("mc_dropout", (2027,)), "ensemble2": ("ensemble", (2027, 2028))}
    assert methods_for((2027,)) == {"mc_dropout": ("mc_dropout", (2027,))}
    results = Path("results/robust")
    assert member_path(results, 2026, robust) == results / "model.keras"
    assert member_path(results, 2028, robust) == results / "seeds" / "model-2028.keras"
    assert member_path(results, 2027, (2027, 2028), "seeds/model-{seed}.keras") == results / "seeds/model-2027.keras"


def test_members_must_share_classes_data_and_split(script, tmp_path):
    check_members = script["check_members"]

    def member(seed, **change):
        meta = {"seed": seed, "classes": ["a", "b"], "fingerprint": {"preprocessing": "crystal_frame_wide"},
                "training_data": {"digest": "d", "validation_sids": [1, 4]}}
        meta.update(change)
        (tmp_path / f"model-{seed}.json").write_text(json.dumps(meta))
        return tmp_path / f"model-{seed}.keras"

    paths = {2027: member(2027), 2028: member(2028)}
    assert check_members(paths)["seed"] == 2027
    with pytest.raises(SystemExit, match="seed"):
        check_members({2029: member(2028)})
    for change in ({"classes": ["a", "c"]}, {"training_data": {"digest": "d", "validation_sids": [1, 5]}},
                   {"training_data": {"digest": "e", "validation_sids": [1, 4]}}):
        with pytest.raises(SystemExit):
            check_members({2027: member(2027), 2029: member(2029, **change)})


def test_site_counts_come_from_the_prototypes_or_from_the_calibration_half(script):
    from paper_lib.structures import class_site_counts

    decision_sites = script["decision_sites"]
    rows = pd.DataFrame({
        "label": ["B2_CsCl", "B2_CsCl", "A7_alpha-As", "A7_alpha-As", "A7_alpha-As", "A9_graphite", "A9_graphite",
                  "B2_CsCl"],
        "defect": ["pristine", "displacements", "pristine", "vacancies", "displacements", "pristine", "vacancies",
                   "pristine"],
        "level": [0.0, 5.0, 0.0, 25.0, 10.0, 0.0, 50.0, 0.0],
        "sites": [1, 1, 2, 1, 3, 4, 7, 2],
        "half": ["calibration"] * 7 + ["test"]})
    sites, table = decision_sites(rows, list(EXTENDED_CLASSES))
    # the 10 % displaced A7 (3 sites), the 50 % vacancies of graphite and the test half count for nothing
    assert sites == {"A7_alpha-As": [1, 2], "A9_graphite": [4], "B2_CsCl": [1]}
    assert table.loc["A7_alpha-As", 1] == 1 and table.loc["B2_CsCl", 1] == 2
    assert decision_sites(rows, SEVEN) == (class_site_counts(SEVEN), None)


def test_held_out_structures_are_the_held_out_prototypes_with_their_defects(script):
    params = {"target_atoms": 250, "preprocessing": "crystal_frame_wide"}
    info, structures = script["held_out_structures"](1, params)
    assert list(info.prototype) == [name for name in HELD_OUT for _ in range(3)]
    assert list(zip(info.defect, info.level)) == list(script["HELD_OUT_DEFECTS"]) * len(HELD_OUT)
    for k in range(len(HELD_OUT)):
        pristine, displaced, vacant = structures[3 * k: 3 * k + 3]
        assert len(set(pristine.numbers)) == 2 and len(displaced) == len(pristine)
        shift = np.linalg.norm(displaced.positions - pristine.positions, axis=1)
        assert 0.005 < np.sqrt(np.mean(shift ** 2) / 3) < 0.04     # 2 % of the unit nearest-neighbour distance
        assert len(vacant) == len(pristine) - round(0.1 * len(pristine))
    again, same = script["held_out_structures"](1, params)
    assert again.equals(info) and all(np.array_equal(a.positions, b.positions) for a, b in zip(structures, same))


def test_a_cache_made_with_other_fingerprint_parameters_is_refused(script, tmp_path):
    check_cache = script["check_cache"]
    linear = {"mask_inner_px": 5, "preprocessing": "crystal_frame_wide", "target_atoms": 250}
    check_cache(tmp_path, linear)                       # the first run records the parameters
    check_cache(tmp_path, dict(linear))                 # the same ones: fine
    with pytest.raises(SystemExit, match="intensity"):
        check_cache(tmp_path, {**linear, "intensity": "log"})
