"""Uncertainty measures, calibration tools, the decision, MC dropout and ensembles."""
import json
import math

import numpy as np
import pytest

from paper_lib import uncertainty as unc

CLASSES = ("bcc", "fcc", "sc")


def test_measures_of_agreeing_and_disagreeing_samples():
    sure = np.array([[[1.0, 0.0, 0.0]] * 4])                  # (1 structure, 4 samples, 3 classes)
    flat = np.full((1, 4, 3), 1 / 3)
    split = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0]]])
    s = unc.summarise(np.concatenate([sure, flat, split]))
    assert s["best"].tolist() == [0, 0, 0]
    assert s["entropy"][0] == pytest.approx(0) and s["entropy"][1] == pytest.approx(1)
    # the flat samples agree with each other (no mutual information); the split ones do not
    assert s["mutual_information"][1] == pytest.approx(0, abs=1e-12)
    assert s["mutual_information"][2] == pytest.approx(s["entropy"][2]) and s["mutual_information"][2] > 0.9
    assert s["margin"].tolist() == pytest.approx([0, 2 / 3, 0.5])
    assert np.allclose(s["probabilities"].sum(axis=1), 1)


def test_temperature_softens_and_one_is_the_identity():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([0.3] * 3, size=(20, 5))
    assert np.allclose(unc.summarise(p, 1.0)["probabilities"], p.mean(axis=1))
    one = p[:, :1]                                            # a single sample: entropy grows with T
    assert np.all(unc.summarise(one, 3.0)["entropy"] >= unc.summarise(one, 1.0)["entropy"] - 1e-12)
    # an overconfident model (always p = 0.99, right 70 % of the time) gets a temperature above 1
    labels = (rng.random(400) < 0.7).astype(int)             # class 1 right 70 %, else class 0
    samples = np.tile([[0.005, 0.99, 0.005]], (400, 1, 1))
    assert unc.fit_temperature(samples, np.where(labels == 1, 1, 0)) > 1.5


def test_reliability_by_hand():
    confidence = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 1, 1, 0, 1, 0], bool)
    ece, table = unc.reliability(confidence, correct, bins=10)
    # bin 0.9-1.0: 4 structures, accuracy 0.75 vs 0.95; bin 0.5-0.6: 2, accuracy 0.5 vs 0.55
    assert ece == pytest.approx(4 / 6 * 0.20 + 2 / 6 * 0.05)
    assert [row["n"] for row in table] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 4]
    assert math.isnan(table[0]["accuracy"])
    with pytest.raises(ValueError, match="no predictions"):
        unc.reliability([], [])


def test_threshold_flags_at_most_the_share_asked():
    values = np.linspace(0, 1, 101)
    for share in (0.0, 0.03, 0.1, 0.5):
        t = unc.threshold_for(values, share)
        assert np.mean(values > t) <= share + 1e-12
        assert np.mean(values > t) > share - 0.02


def test_decide_by_sites_and_by_threshold():
    samples = np.array([[[0.98, 0.01, 0.01]], [[0.5, 0.3, 0.2]], [[0.01, 0.98, 0.01]]])
    summary = unc.summarise(samples)
    decision = unc.Decision(method="ensemble", samples=1, measure="entropy", threshold=0.5,
                            sites={"bcc": [1], "fcc": [1]})
    out = unc.decide(summary, CLASSES, decision, sites=[1, 1, 4])
    assert out[0] == ("bcc", None)
    assert out[1][0] == unc.UNKNOWN and "uncertainty entropy" in out[1][1]
    assert out[2][0] == unc.UNKNOWN and "4 sites per primitive cell; fcc has 1" in out[2][1]
    with pytest.raises(ValueError, match="2 site counts for 3 predictions"):
        unc.decide(summary, CLASSES, decision, sites=[1, 1])
    # sites 0 (not known) skip the site check; no threshold: never unknown by uncertainty
    lenient = unc.Decision(method="ensemble", samples=1, sites={"fcc": [1]})
    assert [label for label, _ in unc.decide(summary, CLASSES, lenient, sites=[0, 0, 0])] == ["bcc", "bcc", "fcc"]


def test_decision_records_are_checked():
    d = unc.Decision(method="ensemble", samples=5, threshold=0.2, sites={"fcc": [1]})
    assert unc.Decision.from_dict(json.loads(json.dumps(d.as_dict()))) == d
    assert unc.Decision.from_dict(None).threshold is None
    for bad, message in (({"method": "bayes"}, "unknown uncertainty method"),
                         ({"measure": "variance"}, "unknown uncertainty measure"),
                         ({"threshold": 1.5}, r"must lie in \[0, 1\]"),
                         ({"temperature": 0}, "positive"),
                         ({"colour": 1}, "unknown key"),
                         ({"threshold": "0.2"}, "must be a number or null"),
                         ({"threshold": True}, "must be a number or null"),
                         ({"samples": "5"}, "samples must be an integer"),
                         ({"samples": 2.5}, "samples must be an integer"),
                         ({"temperature": "1"}, "temperature must be a number"),
                         ({"sites": {"fcc": ["1"]}}, "list of site counts"),
                         ({"sites": {"fcc": 1}}, "list of site counts")):
        with pytest.raises(ValueError, match=message):
            unc.Decision.from_dict(bad, "m.json")


@pytest.fixture(scope="module")
def networks():
    import keras

    from paper_lib.model import build_model

    out = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        out.append(build_model(3))
    return out


def test_mc_dropout_is_the_same_in_any_batch_and_varies_across_samples(networks):
    rng = np.random.default_rng(0)
    x = rng.random((5, 64, 64, 3), dtype=np.float32)
    alone = unc.sample_probabilities(networks[0], x[2:3], "mc_dropout", samples=8)
    together = unc.sample_probabilities(networks[0], x, "mc_dropout", samples=8)
    assert alone.shape == (1, 8, 3) and together.shape == (5, 8, 3)
    assert np.allclose(alone[0], together[2], atol=1e-6)             # batch-independent, reproducible
    assert np.ptp(together[:, :, 0], axis=1).max() > 1e-4             # the masks differ between samples
    plain = unc.sample_probabilities(networks[0], x, "ensemble")
    assert plain.shape == (5, 1, 3)
    assert np.allclose(plain[:, 0], networks[0](x, training=False).numpy(), atol=1e-5)


def test_an_ensemble_stacks_its_members_and_round_trips(networks, tmp_path):
    from paper_lib.model import DEFAULT_FINGERPRINT, MODEL_FORMAT, LoadedModel, ensemble, load_model, predict, write_model

    rng = np.random.default_rng(1)
    x = rng.random((3, 64, 64, 3), dtype=np.float32)
    members = [LoadedModel(model=n, classes=CLASSES, fingerprint=dict(DEFAULT_FINGERPRINT),
                           metadata={"format": MODEL_FORMAT, "classes": list(CLASSES),
                                     "fingerprint": dict(DEFAULT_FINGERPRINT), "seed": k,
                                     "training_data": {"digest": "d"}, "training": {"seconds": 1.0}},
                           path=tmp_path / f"m{k}.keras") for k, n in enumerate(networks)]
    keras_model, metadata = ensemble(members)
    s = unc.sample_probabilities(keras_model, x, "ensemble")
    assert s.shape == (3, 2, 3)
    for k, n in enumerate(networks):
        assert np.allclose(s[:, k], n(x, training=False).numpy(), atol=1e-5)
    assert [m["seed"] for m in metadata["ensemble"]] == [0, 1]
    metadata["uncertainty"] = unc.Decision(method="ensemble", samples=2, threshold=0.3).as_dict()
    write_model(keras_model, metadata, tmp_path / "ens.keras")
    loaded = load_model(tmp_path / "ens.keras")
    assert loaded.decision.method == "ensemble" and loaded.decision.threshold == 0.3
    assert np.allclose(predict(loaded, x), s.mean(axis=1), atol=1e-5)
    # an ensemble cannot be asked for MC dropout; other data cannot join an ensemble
    metadata["uncertainty"] = {"method": "mc_dropout"}
    (tmp_path / "ens.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="MC dropout"):
        load_model(tmp_path / "ens.keras")
    metadata["uncertainty"] = {"method": "ensemble", "threshold": "0.2"}      # a string: refused, file named
    (tmp_path / "ens.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=r"ens\.json.*must be a number or null"):
        load_model(tmp_path / "ens.keras")
    members[1].metadata["training_data"]["digest"] = "other"
    with pytest.raises(ValueError, match="trained on other data"):
        ensemble(members)
