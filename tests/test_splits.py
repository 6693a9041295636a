"""Held-out splits whose test structures are no near-copy of a training structure
(paper_lib.structures.grouped_folds), the random folds they are compared with, and the Wilson interval."""
import numpy as np
import pandas as pd
import pytest

from paper_lib.evaluation import wilson_interval
from paper_lib.structures import (GEOMETRY_TOLERANCE, SPLIT_PARAMETER, grouped_folds, pristine_structure,
                                  random_folds)


def records(n_per_prototype=40, seed=1):
    """Pristine records as the structure database holds them: four prototypes, elements drawn
    from a few symbols, c/a drawn as the dataset draws it."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in ("fcc", "bct_139", "bct_141", "sc"):
        for _ in range(n_per_prototype):
            _, record = pristine_structure(label, (13, 26, 29, 47, 79), 40, rng)
            rows.append(record)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table():
    return records()


def test_every_structure_is_tested_once_and_never_trained_on_in_its_fold(table):
    folds = grouped_folds(table, n_folds=4)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(table)))
    for f in folds:
        assert not set(f.train) & set(f.test)
        assert not set(f.excluded) & (set(f.train) | set(f.test))
        assert len(f.train) + len(f.test) + len(f.excluded) == len(table)
        assert len(f.kind) == len(f.test)


def test_no_training_geometry_is_within_the_tolerance_of_a_test_one(table):
    for f in grouped_folds(table, n_folds=4, tolerance=0.02):
        for prototype in set(table["prototype"]) & set(SPLIT_PARAMETER):
            column = SPLIT_PARAMETER[prototype]
            test = table.iloc[f.test]
            train = table.iloc[f.train]
            t = test.loc[test["prototype"] == prototype, column].to_numpy()
            r = train.loc[train["prototype"] == prototype, column].to_numpy()
            if len(t) and len(r):
                gap = np.abs(t[:, None] - r[None, :]) / t[:, None]
                assert gap.min() > 0.02, prototype


def test_random_folds_do_put_near_copies_on_both_sides(table):
    """The contrast the grouped split exists for: a random split tests c/a values a training
    structure nearly shares."""
    closest = []
    for f in random_folds(table["label"], n_folds=4, seed=0):
        test, train = table.iloc[f.test], table.iloc[f.train]
        t = test.loc[test["prototype"] == "A6_bct", "c_over_a"].to_numpy()
        r = train.loc[train["prototype"] == "A6_bct", "c_over_a"].to_numpy()
        closest.append((np.abs(t[:, None] - r[None, :]) / t[:, None]).min(axis=1))
    assert np.median(np.concatenate(closest)) < GEOMETRY_TOLERANCE


def test_cubic_prototypes_are_held_out_by_element(table):
    for f in grouped_folds(table, n_folds=4):
        test, train = table.iloc[f.test], table.iloc[f.train]
        for prototype in ("A1_Cu", "Ah_alpha-Po"):
            assert not set(test.loc[test["prototype"] == prototype, "element"]) & \
                set(train.loc[train["prototype"] == prototype, "element"])
        kinds = dict(zip(test.index, f.kind))
        assert {kinds[i] for i in test.index[test["prototype"].isin(["A1_Cu", "Ah_alpha-Po"])]} <= {"element"}
        assert {kinds[i] for i in test.index[test["prototype"] == "A6_bct"]} == {"geometry"}


def test_random_folds_are_stratified():
    labels = np.array(["a"] * 10 + ["b"] * 5)
    folds = random_folds(labels, n_folds=5, seed=3)
    assert sorted(np.concatenate([f.test for f in folds])) == list(range(15))
    for f in folds:
        assert list(labels[f.test]).count("a") == 2 and list(labels[f.test]).count("b") == 1


def test_bad_arguments_are_refused(table):
    with pytest.raises(ValueError, match="two folds"):
        grouped_folds(table, n_folds=1)
    with pytest.raises(ValueError, match="tolerance"):
        grouped_folds(table, tolerance=1.5)
    with pytest.raises(ValueError, match="element"):
        grouped_folds(table.drop(columns="element"))


def test_wilson_interval_known_values():
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)
    assert low == 0 and round(high, 4) == 0.2775            # not empty at 0 %
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and round(low, 4) == 0.7225          # and ends exactly at 100 %
    low, high = wilson_interval(np.array([100, 4]), np.array([100, 4]))
    assert (high <= 1).all() and low[0] > low[1]             # fewer structures, wider interval
    assert np.isnan(wilson_interval([1], [0])[0]).all()
