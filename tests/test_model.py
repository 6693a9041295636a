"""The network, deterministic training, saved models and their checks, evaluation."""
import json

import numpy as np
import pytest

from paper_lib import fingerprint
from paper_lib.evaluation import evaluate
from paper_lib.model import (ModelError, TrainingResult, build_model, classify, load_model, predict,
                             save_model, stratified_split, train)
from paper_lib.structures import pristine_structure

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    fps, labels = [], []
    for label in ("bcc", "fcc", "sc"):
        for _ in range(6):
            atoms, _ = pristine_structure(label, (26, 29, 84), 64, rng)
            fps.append(fingerprint(atoms, target_atoms=None))
            labels.append(label)
    return np.array(fps), np.array(labels)


@pytest.fixture(scope="module")
def tiny_model(tiny_data, tmp_path_factory):
    fps, labels = tiny_data
    result = train(fps, labels, ["bcc", "fcc", "sc"], seed=3, epochs=2, batch_size=4, verbose=0)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_model(result, path)
    return result, path


def test_the_papers_network():
    model = build_model(7)
    assert model.count_params() == 365_719            # "about 366 k parameters"
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 7)
    assert [layer.kernel_size for layer in model.layers if hasattr(layer, "kernel_size")] == [(7, 7)] * 6


def test_stratified_split_keeps_every_class():
    labels = np.array(["a"] * 50 + ["b"] * 20 + ["c"] * 4)
    train_idx, val_idx = stratified_split(labels, 0.1, seed=1)
    assert len(set(train_idx) | set(val_idx)) == 74 and not set(train_idx) & set(val_idx)
    assert [np.sum(labels[val_idx] == c) for c in "abc"] == [5, 2, 1]
    assert np.array_equal(val_idx, stratified_split(labels, 0.1, seed=1)[1])


def test_training_is_bit_identical_for_a_seed(tiny_data, tiny_model):
    fps, labels = tiny_data
    again = train(fps, labels, ["bcc", "fcc", "sc"], seed=3, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(tiny_model[0].model.get_weights(), again.model.get_weights()):
        assert np.array_equal(a, b)
    assert again.history == tiny_model[0].history
    assert set(again.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_saved_model_round_trip_and_metadata(tiny_data, tiny_model):
    result, path = tiny_model
    loaded = load_model(path)
    assert loaded.classes == ("bcc", "fcc", "sc")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["fingerprint"]["mask_inner_px"] == 5 and meta["seed"] == 3
    assert len(meta["training_data"]["digest"]) == 16 and "keras" in meta["versions"]
    assert path.stat().st_size < 2_000_000            # no optimizer state
    fps, _ = tiny_data
    assert np.allclose(predict(loaded, fps), result.model.predict(fps, verbose=0), atol=1e-6)


def test_model_file_problems_are_named(tiny_model, tmp_path):
    _, path = tiny_model
    with pytest.raises(ModelError, match="no such model"):
        load_model(tmp_path / "absent.keras")
    copy = tmp_path / "copy.keras"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(ModelError, match="metadata file copy.json is missing"):
        load_model(copy)
    meta = json.loads(path.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ModelError, match="another version"):
        load_model(copy)
    copy.with_suffix(".json").write_text(json.dumps({**meta, "classes": ["a", "b"]}))
    with pytest.raises(ModelError, match="3 outputs but copy.json names 2"):
        load_model(copy)
    copy.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="mask_outer_px: model None vs data 30"):
        load_model(copy, fingerprint_params={"mask_inner_px": 5, "mask_outer_px": 30})
    with pytest.raises(ModelError, match="intensity: model 'linear' vs data 'log'"):     # unsaid: linear
        load_model(copy, fingerprint_params={"mask_inner_px": 5, "intensity": "log"})
    copy.with_suffix(".json").write_text(json.dumps({**meta, "fingerprint": {**meta["fingerprint"], "intensity": "cube"}}))
    with pytest.raises(ModelError, match="cube"):
        load_model(copy)
    copy.with_suffix(".json").write_text(json.dumps(meta))
    copy.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="not a readable Keras model"):
        load_model(copy)


def test_classify_returns_typed_results_and_per_item_errors(tiny_model):
    from ase import Atoms
    from ase.build import bulk

    _, path = tiny_model
    results = classify([bulk("Fe", "bcc", a=2.87), Atoms()], path)
    assert results[0].error is None and results[0].label in ("bcc", "fcc", "sc")
    assert sum(results[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert results[1].label is None and "no atoms" in results[1].error
    single = classify(bulk("Cu", "fcc", a=3.6), path)
    assert single.label in ("bcc", "fcc", "sc") and 0 < single.confidence <= 1


def test_evaluation_counts():
    result = evaluate(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b", "c"])
    assert result.accuracy == 75.0 and result.n == 4
    assert result.recall["a"] == 50.0 and result.recall["b"] == 100.0 and np.isnan(result.recall["c"])
    assert result.confusion.loc["a", "b"] == 1 and result.confusion.values.sum() == 4


def test_a_model_is_never_scored_on_the_structures_it_trained_on(tiny_data, tmp_path):
    """From the library, not the command line: evaluation.model_predictions with a model on its own
    training structures refuses; with its held-out structures among them it scores those alone; on a
    file that cannot tell (no dataset digest) it warns."""
    from paper_lib.evaluation import TrainingDataWarning, model_predictions
    from paper_lib.io import write_fingerprints
    from paper_lib.model import DEFAULT_FINGERPRINT

    fps, labels = tiny_data
    sids = np.arange(len(labels)) + 100
    result = train(fps, labels, ["bcc", "fcc", "sc"], seed=3, epochs=1, batch_size=4, verbose=0, sids=sids,
                   dataset_digest="d" * 16)
    model = save_model(result, tmp_path / "m.keras")
    held_out = result.metadata["training_data"]["validation_sids"]
    assert len(held_out) == 3 and set(held_out) < set(sids.tolist())    # one of each class
    assert result.metadata["training_data"]["pristine_sids"] == [[100, 100 + len(labels)]]

    def fingerprint_file(name, chosen, digest="d" * 16):
        rows = np.flatnonzero(np.isin(sids, chosen))
        attrs = {"fingerprint": DEFAULT_FINGERPRINT, "source": "tiny.db"}
        if digest:
            attrs["dataset_digest"] = digest
        meta = {"row_id": rows + 1, "sid": sids[rows], "label": labels[rows], "defect": ["pristine"] * len(rows),
                "level": np.zeros(len(rows))}
        write_fingerprints(tmp_path / name, fps[rows], meta, [], attrs)
        return tmp_path / name

    trained = [s for s in sids.tolist() if s not in held_out]
    with pytest.raises(ValueError, match="trained on"):
        model_predictions(model, [fingerprint_file("trained.h5", trained)])
    table = model_predictions(model, [fingerprint_file("all.h5", sids)])
    assert sorted(table["sid"]) == held_out and set(table["predicted"]) <= {"bcc", "fcc", "sc"}
    with pytest.warns(TrainingDataWarning, match="cannot tell"):
        table = model_predictions(model, [fingerprint_file("unknown.h5", trained, digest=None)])
    assert sorted(table["sid"]) == trained


def test_training_rejects_unknown_labels(tiny_data):
    fps, labels = tiny_data
    with pytest.raises(ValueError, match="not among the classes"):
        train(fps, labels, ["bcc", "fcc"], epochs=1, verbose=0)


def test_train_evaluate_classify_from_the_command_line(tmp_path, tiny_preset_dict, tiny_model):
    import pandas as pd
    import yaml
    from ase.build import bulk
    from ase.io import write
    from conftest import run_cli as run

    preset = tmp_path / "tiny.yaml"
    preset.write_text(yaml.safe_dump(tiny_preset_dict))
    db, fps, model = tmp_path / "s.db", tmp_path / "f.h5", tmp_path / "m.keras"
    assert run("structures", "--config", preset, "--out", db).returncode == 0
    assert run("fingerprints", "--db", db, "--out", fps).returncode == 0
    trained = run("train", "--config", preset, "--fingerprints", fps, "--out", model, "--epochs", "1")
    assert trained.returncode == 0, trained.stderr
    history = pd.read_csv(tmp_path / "m.history.csv")          # named after its model
    assert list(history.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["training_data"]["preset"] == "tiny" and len(meta["training_data"]["validation_sids"]) == 7
    evaluated = run("evaluate", "--model", model, "--fingerprints", fps, "--out", tmp_path / "acc.csv",
                    "--confusion")
    assert evaluated.returncode == 0, evaluated.stderr
    table = pd.read_csv(tmp_path / "acc.csv")
    assert list(table.columns) == ["method", "defect", "level", "n", "accuracy"]
    assert set(table["defect"]) == {"pristine", "vacancies", "displacements"}
    assert table.loc[table.defect == "pristine", "n"].item() == 7          # held-out pristine only
    assert (tmp_path / "confusion" / "cnn_vacancies_25.csv").exists()

    # augmentation: displaced copies of the pristine structures join training, but not the copies of
    # validation structures
    aug_db, aug_fps, aug_model = tmp_path / "aug.db", tmp_path / "aug.h5", tmp_path / "aug.keras"
    made = run("augment", "--config", preset, "--db", db, "--out", aug_db, "--copies", "2")
    assert made.returncode == 0, made.stderr
    assert run("fingerprints", "--db", aug_db, "--out", aug_fps).returncode == 0
    trained = run("train", "--config", preset, "--fingerprints", fps, "--augment", aug_fps, "--out", aug_model,
                  "--epochs", "1", "--history", tmp_path / "aug_history.csv")
    assert trained.returncode == 0, trained.stderr
    aug_meta = json.loads(aug_model.with_suffix(".json").read_text())["training_data"]
    n_pristine = sum(tiny_preset_dict["pristine"]["counts"].values())
    assert aug_meta["augmented"]["n"] == 2 * (n_pristine - 7)
    assert aug_meta["augmented"]["n_dropped_validation_copies"] == 14
    assert aug_meta["n_train"] == 3 * (n_pristine - 7)
    assert aug_meta["validation_sids"] == meta["training_data"]["validation_sids"]
    empty = run("augment", "--config", preset, "--db", aug_db, "--out", tmp_path / "none.db")
    assert empty.returncode != 0 and "no pristine structure" in empty.stderr
    assert not (tmp_path / "none.db").exists()

    # classify: good files, a multi-frame file, and bad ones; JSON lines; exit 1
    write(tmp_path / "Cu.cif", bulk("Cu", "fcc", a=3.61))
    write(tmp_path / "frames.extxyz", [bulk("Fe", "bcc", a=2.87), bulk("Po", "sc", a=3.35)])
    (tmp_path / "empty.xyz").write_text("")
    (tmp_path / "junk.cif").write_text("not a cif\n")
    _, tiny_path = tiny_model
    out = run("classify", tmp_path / "Cu.cif", tmp_path / "frames.extxyz", tmp_path / "empty.xyz",
              tmp_path / "junk.cif", tmp_path / "absent.vasp", "--model", tiny_path, "--json")
    assert out.returncode == 1
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(d["source"].split("/")[-1], d["index"]) for d in lines] == [
        ("Cu.cif", 0), ("frames.extxyz", 0), ("frames.extxyz", 1), ("empty.xyz", 0), ("junk.cif", 0),
        ("absent.vasp", 0)]
    assert all("label" in d and set(d["probabilities"]) == {"bcc", "fcc", "sc"} for d in lines[:3])
    assert "empty" in lines[3]["error"] and "cannot be read" in lines[4]["error"]
    assert "no such file" in lines[5]["error"]
    write(tmp_path / "cu.lmp", bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), format="lammps-data",
          masses=True)
    lammps = run("classify", tmp_path / "cu.lmp", "--format", "lammps-data", "--model", tiny_path, "--json")
    assert lammps.returncode == 0 and json.loads(lammps.stdout)["label"] in ("bcc", "fcc", "sc")
    table_out = run("classify", tmp_path / "Cu.cif", "--model", tiny_path)
    assert table_out.returncode == 0 and "Cu.cif#0" in table_out.stdout
    wrong = run("evaluate", "--model", tiny_path, "--fingerprints", fps, "--out", tmp_path / "x.csv")
    assert wrong.returncode == 2 and "classes the model does not know (bct_139" in wrong.stderr
