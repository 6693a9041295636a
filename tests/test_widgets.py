"""The explorer's logic without a browser: every control changes what is shown; by default it opens
the shipped sample with the shipped model."""
import json

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("nglview")


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    from conftest import tiny_results as make

    return make(tmp_path_factory.mktemp("explore"))


def test_every_control_changes_the_view(tiny_results):
    from paper_lib.widgets import CLASS_MAP, LAYER_SUM, Explorer

    explorer = Explorer("tiny", results=tiny_results)             # shipped model: no model.keras here
    first = explorer.state()
    assert first["class"] == "bcc" and first["defect"] == "pristine" and first["layer"] == "conv6"
    assert first["prediction"] == "bcc"
    assert len(list(explorer.viewer)) == 1          # the structure is in the 3D view
    picture, response = explorer.fingerprint_image.value, explorer.map_image.value
    explorer.cls.value = "fcc"
    assert explorer.state()["class"] == "fcc" and explorer.fingerprint_image.value != picture
    assert len(list(explorer.viewer)) == 1          # replaced, not added
    explorer.structure.value = explorer.structure.max
    assert explorer.state()["structure"] == 1
    for kind in explorer.defect.options:                          # every defect the structure has
        explorer.defect.value = kind
        assert explorer.state()["defect"] == kind and explorer.level.value in explorer.level.options
    explorer.layer.value = "conv2"
    assert explorer.filter.options[0] == LAYER_SUM and len(explorer.filter.options) == 1 + explorer.top_k
    summed = explorer.map_image.value
    explorer.filter.value = explorer.filter.options[1]
    assert explorer.map_image.value != summed
    explorer.layer.value = CLASS_MAP
    assert explorer.filter.options == (CLASS_MAP,) and explorer.map_image.value not in (summed, response)
    assert "<b>fcc</b>" in explorer.probabilities.value


def test_the_explorer_shows_the_uncertainty_and_unknown(tiny_results):
    import dataclasses

    from paper_lib.uncertainty import Decision
    from paper_lib.widgets import Explorer

    explorer = Explorer("tiny", results=tiny_results)
    state = explorer.state()
    assert state["prediction"] == state["best"] == "bcc" and 0.0 <= state["uncertainty"] <= 1.0
    assert f"uncertainty {state['uncertainty']:.3f}" in explorer.status.value
    # a decision that trusts nothing: the label turns unknown, the best guess and the reason are shown
    explorer.model = dataclasses.replace(explorer.model, decision=Decision(method=explorer.model.decision.method,
                                                                           threshold=0.0))
    explorer.structure.value = explorer.structure.max
    state = explorer.state()
    assert state["prediction"] == "unknown" and state["best"] in explorer.model.classes
    assert "<b>unknown</b>" in explorer.status.value and "best guess" in explorer.status.value


def test_missing_results_are_named(tmp_path):
    from paper_lib.widgets import Explorer

    with pytest.raises(FileNotFoundError, match="no fingerprint shards"):
        Explorer("none", results=tmp_path)


def test_the_default_explorer_opens_the_shipped_sample_with_the_shipped_model():
    from paper_lib.model import SHIPPED_MODEL
    from paper_lib.widgets import SAMPLE, Explorer

    explorer = Explorer()                                         # as notebook 04 and Binder open it
    assert explorer.results == SAMPLE and explorer.model_name == "the shipped model"
    shipped = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert explorer.model.metadata["training_data"]["digest"] == shipped["training_data"]["digest"]
    assert list(explorer.cls.options) == shipped["classes"]       # every class has structures
    state = explorer.state()
    row = explorer.index.table.iloc[state["entry"]]
    assert (state["class"], state["defect"], row["label"]) == ("bcc", "pristine", "bcc")
    assert state["prediction"] == state["best"] == row["label"]   # the shipped model's class is the true one
    assert f"structure {row['sid']} (bcc)" in explorer.status.value and "predicted <b>bcc</b>" in explorer.status.value
    assert "the shipped sample" in explorer.status.value
    assert len(list(explorer.viewer)) == 1           # its structure, from the sample's database
    assert len(explorer.index.atoms(state["entry"])) > 100
    for kind in ("displacements", "vacancies"):                   # every structure has both defect kinds
        explorer.defect.value = kind
        assert explorer.state()["defect"] == kind


def test_the_shipped_sample_is_held_out_small_and_classified_by_the_shipped_model():
    """The sample is what scripts/make_explorer_sample.py promises: 3 held-out structures per class,
    each pristine, displaced and with vacancies, fingerprinted as the model expects; the shipped
    model names the class of each pristine one (21 of 21 when the sample was made)."""
    from paper_lib.io import load_fingerprint_set
    from paper_lib.model import check_fingerprint_params, load_model, predict
    from paper_lib.widgets import SAMPLE

    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 3.5e6, f"{SAMPLE}: {size / 1e6:.2f} MB"
    data = load_fingerprint_set([SAMPLE / "fingerprints.h5"])
    loaded = load_model()
    check_fingerprint_params({k: v for k, v in loaded.fingerprint.items() if k != "target_atoms"},
                             data["fingerprint_params"], "the shipped model")
    held_out = set(loaded.metadata["training_data"]["validation_sids"])
    assert set(data["sid"].tolist()) <= held_out
    for label in loaded.classes:
        sids = set(data["sid"][data["label"] == label].tolist())
        assert len(sids) == 3, label
        for sid in sids:
            assert sorted(data["defect"][data["sid"] == sid]) == ["displacements", "pristine", "vacancies"]
    pristine = data["defect"] == "pristine"
    predicted = np.array(loaded.classes)[predict(loaded, data["fingerprints"][pristine]).argmax(axis=1)]
    assert (predicted == data["label"][pristine]).all(), list(zip(data["label"][pristine], predicted))
