"""The explorer's logic without a browser: every control changes what is shown; by default it opens
the shipped sample with the shipped model; its model control switches shipped model and sample."""
import json
import runpy
import shutil

import numpy as np
import pytest
from conftest import ROOT

pytest.importorskip("ipywidgets")
pytest.importorskip("nglview")

#: A run of the extended preset (results of scripts/train_extended_model.sh): fingerprints.h5,
#: structures.db and a 30-class model on crystal_frame_wide fingerprints; where the package's
#: extended model or sample is missing (an install without them), the model-picker tests write a
#: stand-in sample from it.
EXTENDED_RUN = ROOT / "results" / "extended_v1"
EXTENDED_MODEL = EXTENDED_RUN / "seeds" / "model-2027.keras"


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    from conftest import tiny_results as make

    return make(tmp_path_factory.mktemp("explore"))


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """The extended model and its sample folder: the shipped ones once the package has both, else
    the model of :data:`EXTENDED_RUN` with a stand-in sample that scripts/make_explorer_sample.py
    writes from that run (1 held-out structure per class, pristine, displaced and with vacancies)."""
    from paper_lib.model import SHIPPED_MODELS
    from paper_lib.widgets import SAMPLES

    model, sample = SHIPPED_MODELS.get("extended"), SAMPLES["extended"]
    if model is not None and model.is_file() and (sample / "fingerprints.h5").is_file():
        return model, sample
    if not (EXTENDED_RUN / "fingerprints.h5").is_file() or not EXTENDED_MODEL.is_file():
        pytest.skip(f"no shipped extended model and sample, and no run of the extended preset in {EXTENDED_RUN}")
    sample = tmp_path_factory.mktemp("explorer_extended")
    script = runpy.run_path(str(ROOT / "scripts" / "make_explorer_sample.py"))
    script["main"](["--results", str(EXTENDED_RUN), "--model", str(EXTENDED_MODEL), "--out", str(sample),
                    "--per-class", "1", "--no-check"])
    return EXTENDED_MODEL, sample


@pytest.fixture
def with_extended(monkeypatch, extended):
    """The extended model and its sample offered as shipped (``SHIPPED_MODELS``, ``SAMPLES``)."""
    from paper_lib import model, widgets

    monkeypatch.setitem(model.SHIPPED_MODELS, "extended", extended[0])
    monkeypatch.setitem(widgets.SAMPLES, "extended", extended[1])
    return extended


def test_every_control_changes_the_view(tiny_results):
    from paper_lib.widgets import CLASS_MAP, LAYER_SUM, Explorer

    explorer = Explorer("tiny", results=tiny_results)             # shipped model: no model.keras here
    first = explorer.state()
    assert first["class"] == "bcc" and first["defect"] == "pristine" and first["layer"] == "conv6"
    # a results folder: the model control names the one model shown and cannot change it
    assert first["model"] == "robust" and explorer.picker.options == ("robust",) and explorer.picker.disabled
    assert "model: the shipped model (robust)" in explorer.status.value and str(tiny_results) in explorer.status.value
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
    assert explorer.results == SAMPLE and explorer.model_name == "the shipped model (robust)"
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


def test_the_model_control_offers_the_shipped_models_that_have_a_sample(monkeypatch, tmp_path):
    from paper_lib import model, widgets

    # a package without the extended model; paper2018 has a model but no sample (its fingerprints are
    # made otherwise)
    monkeypatch.delitem(model.SHIPPED_MODELS, "extended", raising=False)
    assert widgets.shipped_samples() == {"robust": widgets.SAMPLE}
    with pytest.raises(ValueError, match="the shipped model 'paper2018' has no explorer sample"):
        widgets.Explorer(model="paper2018", viewer=False)
    # a sample without its model file, a model without its sample folder: neither is offered
    monkeypatch.setitem(model.SHIPPED_MODELS, "extended", tmp_path / "extended.keras")
    monkeypatch.setitem(widgets.SAMPLES, "extended", widgets.SAMPLE)
    monkeypatch.setitem(widgets.SAMPLES, "paper2018", tmp_path / "no-sample")
    assert list(widgets.shipped_samples()) == ["robust"]
    explorer = widgets.Explorer(viewer=False)
    assert explorer.picker.options == ("robust",) and explorer.state()["model"] == "robust"
    # a model file of one's own: shown on the robust sample, the only model in the control
    mine = tmp_path / "mine.keras"
    for suffix in (".keras", ".json"):
        shutil.copy(model.SHIPPED_MODEL.with_suffix(suffix), mine.with_suffix(suffix))
    explorer = widgets.Explorer(model=mine, viewer=False)
    assert explorer.picker.options == (str(mine),) and explorer.picker.disabled
    assert explorer.results == widgets.SAMPLE and explorer.model_name == str(mine)


def test_a_sample_of_other_fingerprints_than_the_models_is_refused(monkeypatch):
    """paper2018's fingerprints are not the robust sample's: offered with it, it is refused by name,
    when opened and when picked (the control then goes back to the model still shown)."""
    from paper_lib import model, widgets

    monkeypatch.setitem(widgets.SAMPLES, "paper2018", widgets.SAMPLE)
    both = f"sample {widgets.SAMPLE / 'fingerprints.h5'} does not fit the model {model.SHIPPED_MODELS['paper2018']}"
    with pytest.raises(model.ModelError, match="preprocessing: model 'paper2018' vs data 'crystal_frame'") as error:
        widgets.Explorer(model="paper2018", viewer=False)
    assert both in str(error.value)
    explorer = widgets.Explorer(viewer=False)
    assert "paper2018" in explorer.picker.options and not explorer.picker.disabled
    before = explorer.state()
    with pytest.raises(model.ModelError) as error:
        explorer.picker.value = "paper2018"
    assert both in str(error.value)
    assert explorer.state() == before and explorer.model.path == model.SHIPPED_MODEL


def test_picking_a_model_switches_its_sample_classes_and_layers(with_extended):
    from paper_lib.interpret import conv_layers
    from paper_lib.model import SHIPPED_MODEL
    from paper_lib.widgets import CLASS_MAP, SAMPLE, Explorer

    model_file, sample = with_extended
    extended = json.loads(model_file.with_suffix(".json").read_text())
    explorer = Explorer()
    assert explorer.picker.options == ("robust", "extended") and not explorer.picker.disabled
    robust = explorer.state()
    assert robust["model"] == "robust" and len(explorer.cls.options) == 7
    picture = explorer.fingerprint_image.value
    explorer.layer.value = CLASS_MAP
    explorer.picker.value = "extended"
    state = explorer.state()
    assert state["model"] == "extended" and explorer.results == sample and explorer.model.path == model_file
    assert explorer.index.table["label"].isin(extended["classes"]).all()
    assert list(explorer.cls.options) == extended["classes"]        # every class has a structure
    assert explorer.layers == conv_layers(explorer.model)
    assert explorer.layer.options == (*explorer.layers, CLASS_MAP) and state["layer"] == CLASS_MAP
    row = explorer.index.table.iloc[state["entry"]]
    assert state["class"] == row["label"] == extended["classes"][0] and state["defect"] == "pristine"
    assert state["best"] in extended["classes"] and explorer.fingerprint_image.value != picture
    assert explorer.probabilities.value.count("paperlib-class") == len(extended["classes"])
    assert "the shipped model (extended)" in explorer.status.value
    assert f"the shipped sample ({extended['training_data']['preset']} preset, held out)" in explorer.status.value
    assert len(list(explorer.viewer)) == 1
    explorer.cls.value = extended["classes"][-1]                   # the controls work on the new sample
    assert explorer.state()["class"] == extended["classes"][-1]
    explorer.picker.value = "robust"                               # and back
    assert explorer.state() == {**robust, "layer": CLASS_MAP, "filter": CLASS_MAP}
    assert explorer.results == SAMPLE and explorer.model.path == SHIPPED_MODEL
    assert "the shipped model (robust)" in explorer.status.value
    # opened by name (or by its file), the extended model comes with its sample
    for name in ("extended", model_file):
        opened = Explorer(model=name, viewer=False)
        assert opened.state()["model"] == "extended" and opened.results == sample
        assert opened.picker.options == ("robust", "extended")
