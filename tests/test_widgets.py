"""The explorer's logic without a browser: every control changes what is shown."""
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
    assert len(explorer.viewer._ngl_component_ids) == 1          # the structure is in the 3D view
    picture, response = explorer.fingerprint_image.value, explorer.map_image.value
    explorer.cls.value = "fcc"
    assert explorer.state()["class"] == "fcc" and explorer.fingerprint_image.value != picture
    assert len(explorer.viewer._ngl_component_ids) == 1          # replaced, not added
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
