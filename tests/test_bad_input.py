"""Bad, hostile and interrupted input, through the command line and through the library.

Every case is a small file made here. Each test asserts the exit status (CLI), that the message
names the file (and the key or frame), that the good items of the same batch are kept, and that
nothing was written outside the output folder: every command runs inside ``sandbox/a/b/work``
with its outputs in ``work/out``, and the whole sandbox is compared before and after.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from conftest import BIN, ROOT, run_cli, snakemake, workflow_copy

from paper_lib import config
from paper_lib.cli import main
from paper_lib.io import (iter_structure_file, load_fingerprint_set, merge_structures, read_fingerprints,
                          read_structures, write_fingerprints, write_structures)
from paper_lib.structures import StructureError, nearest_neighbour_distances

HOSTILE_NAMES = ["../../../../pwned", "/tmp/pwned-abs", "x; touch pwned", "$(touch pwned)", "..", ".hidden",
                 "-rf", "a/b", ""]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """``sandbox/a/b/work`` as the working folder (so ``../../..`` still lands in the sandbox)."""
    work = tmp_path / "sandbox" / "a" / "b" / "work"
    (work / "out").mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


def snapshot(root: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def changed(before: dict, root: Path) -> set:
    after = snapshot(root)
    return {p for p, stamp in after.items() if before.get(p) != stamp}


def cli(capsys, *args):
    """``python -m paper_lib ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:          # argparse
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run(*args, cwd=None):
    """``python -m paper_lib ARGS`` in a new process (for warnings on the real stderr)."""
    return run_cli(*args, cwd=cwd, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def cluster(symbol="Cu", reps=2) -> Atoms:
    atoms = bulk(symbol, "fcc", a=3.6, cubic=True).repeat(reps)
    atoms.pbc = False
    return atoms


def small_db(path, defects=("pristine", "vacancies"), n=3) -> Path:
    rows = [(cluster(), {"sid": sid, "label": "fcc", "defect": defect, "level": 0.0 if defect == "pristine" else 25.0})
            for sid in range(n) for defect in defects]
    write_structures(path, rows)
    from ase.db import connect

    connect(path).metadata = {"dataset_digest": "d" * 16}
    return Path(path)


def small_fingerprints(path, defects=("pristine",), n=4, labels=("fcc", "bcc"), sids=None, digest="d" * 16,
                       value=None) -> Path:
    rng = np.random.default_rng(0)
    rows = [(sid, label, defect) for sid, label in zip(sids if sids is not None else range(n),
                                                        [labels[i % len(labels)] for i in range(n)])
            for defect in defects]
    fps = rng.random((len(rows), 64, 64, 3)).astype(np.float32)
    if value is not None:
        fps[1, 3, 3, 0] = value
    meta = {"row_id": np.arange(1, len(rows) + 1), "sid": [r[0] for r in rows], "label": [r[1] for r in rows],
            "defect": [r[2] for r in rows], "level": np.array([0.0 if r[2] == "pristine" else 25.0 for r in rows])}
    attrs = {"fingerprint": {"mask_inner_px": 5, "mask_outer_px": None, "z_shift": 2, "angle_deg": 45.0,
                             "preprocessing": "crystal_frame", "target_atoms": 250}, "source": "whatever.db"}
    if digest:
        attrs["dataset_digest"] = digest
    write_fingerprints(path, fps, meta, [], attrs)
    return Path(path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A copy of the shipped model (7 classes, crystal_frame) that tests may spoil."""
    from paper_lib.model import SHIPPED_MODEL

    folder = tmp_path_factory.mktemp("models")
    shutil.copy(SHIPPED_MODEL, folder / "good.keras")
    shutil.copy(SHIPPED_MODEL.with_suffix(".json"), folder / "good.json")
    return folder


def spoiled_model(model_dir, name, change) -> Path:
    meta = json.loads((model_dir / "good.json").read_text())
    change(meta)
    shutil.copy(model_dir / "good.keras", model_dir / f"{name}.keras")
    (model_dir / f"{name}.json").write_text(json.dumps(meta))
    return model_dir / f"{name}.keras"


# --------------------------------------------------------------------------------------------
# names that become paths
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_refuses_what_could_leave_the_folder(name):
    from paper_lib.paths import UnsafeName, child, safe_name

    with pytest.raises(UnsafeName, match="cannot be used in a file name"):
        safe_name(name, "defect name", "x.db")
    with pytest.raises(UnsafeName):
        child("out", name)
    assert safe_name("hex-rh_0.5", "x") == "hex-rh_0.5"


@pytest.mark.parametrize("name", ["../../../../pwned", "/tmp/pwned-abs", "x; touch pwned", "$(touch pwned)"])
def test_hostile_preset_name_is_refused_and_nothing_written(sandbox, capsys, tiny_preset_dict, name):
    root = sandbox.parents[2]
    preset = sandbox / "bad.yaml"
    preset.write_text(yaml.safe_dump(dict(tiny_preset_dict, preset=name)))
    with pytest.raises(config.ConfigError, match=r"bad\.yaml: 'preset'.*preset name"):
        config.load(preset)
    before = snapshot(root)
    status, out, err = cli(capsys, "structures", "--config", preset)     # default out: results/<name>/
    assert status == 2 and "bad.yaml" in err and "preset name" in err, err
    assert changed(before, root) == set() and not Path("/tmp/pwned-abs").exists()


@pytest.mark.skipif(not (BIN / "snakemake").exists(), reason="workflow extra not installed")
def test_hostile_preset_name_runs_no_command_in_snakemake(tmp_path, tiny_preset_dict):
    workflow_copy(tmp_path)
    (tmp_path / "config" / "bad.yaml").write_text(yaml.safe_dump(dict(tiny_preset_dict, preset="$(touch PWNED)")))
    result = snakemake(tmp_path, "--cores", "1", "--until", "preset", "--configfile", "config/bad.yaml")
    assert result.returncode != 0
    assert "preset name" in result.stdout + result.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "results").exists()


def test_every_snakefile_shell_placeholder_is_quoted():
    text = "".join(p.read_text() for p in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))])
    # the strings of every shell: block and the PAPERMILL command
    blocks = re.findall(r"shell:\n((?:\s+\".*\"\n)+)", text) + re.findall(r"PAPERMILL = (\".*\")", text)
    assert len(blocks) >= 14
    placeholders = [p for block in blocks for p in re.findall(r"\{([^{}]+)\}", block)]
    unquoted = [p for p in placeholders if p != "threads" and not p.endswith(":q")]
    assert placeholders and not unquoted, unquoted
    assert "'{" not in "".join(blocks)        # no hand-made quotes around a placeholder


def test_hostile_defect_name_in_a_database_writes_nothing(sandbox, capsys):
    """A structure database whose defect name is a path: fingerprints are made (names are data), but
    evaluate and render refuse before writing anything."""
    root = sandbox.parents[2]
    db = small_db(sandbox / "hostile.db", defects=("pristine", "../../../../pwned"))
    status, _, err = cli(capsys, "fingerprints", "--db", db, "--out", "out/f.h5")
    assert status == 0, err
    before = snapshot(root)
    model = Path(__file__).resolve().parents[1] / "paper_lib" / "data" / "model.keras"
    status, out, err = cli(capsys, "evaluate", "--model", model, "--fingerprints", "out/f.h5",
                           "--out", "out/acc.csv", "--confusion")
    assert status == 2, err
    assert "out/f.h5" in err and "'defect'" in err and "pwned" in err
    status, _, err = cli(capsys, "render", "out/f.h5", "--out", "out/png", "--defect", "../../../../pwned")
    assert status == 2 and "--defect" in err
    assert changed(before, root) == set()
    assert not list(root.rglob("*pwned*"))


@pytest.mark.parametrize("key, value", [("target_atoms", "250; rm -rf"), ("target_atoms", 10**9),
                                        ("preprocessing", "../../pwned")])
def test_hostile_parameters_in_a_database_are_refused(sandbox, capsys, key, value):
    from ase.db import connect

    db = small_db(sandbox / "hostile.db")
    with connect(db) as con:
        for row in con.select():
            con.update(row.id, **{key: value, **({"preprocessing": "crystal_frame"} if key != "preprocessing" else {})})
    root = sandbox.parents[2]
    before = snapshot(root)
    status, _, err = cli(capsys, "fingerprints", "--db", db, "--out", "out/f.h5")
    assert status == 2 and "hostile.db" in err and key in err and "Traceback" not in err, err
    assert changed(before, root) == set()


@pytest.mark.parametrize("column, value", [("defect", "../../../../pwned"), ("method", "/tmp/pwned-abs")])
def test_hostile_prediction_table_writes_nothing(sandbox, capsys, tiny_preset_dict, column, value):
    import pandas as pd

    root = sandbox.parents[2]
    preset = sandbox / "tiny.yaml"
    preset.write_text(yaml.safe_dump(tiny_preset_dict))
    table = pd.DataFrame({"method": ["cnn", "cnn"], "row_id": [1, 2], "sid": [0, 1], "label": ["fcc", "bcc"],
                          "defect": ["pristine", "vacancies"], "level": [0.0, 25.0], "predicted": ["fcc", "bcc"],
                          "detail": [0.9, 0.8]})
    table.loc[1, column] = value
    table.to_csv(sandbox / "pred.csv", index=False)
    before = snapshot(root)
    status, _, err = cli(capsys, "score", "pred.csv", "--config", preset, "--out", "out/acc.csv", "--confusion")
    assert status == 2 and "pred.csv" in err and f"'{column}'" in err, err
    assert changed(before, root) == set() and not Path("/tmp/pwned-abs").exists()


HOSTILE_MODELS = {
    "class_path": (lambda m: m.update(classes=["../../pwned"] + m["classes"][1:]), "classes.0"),
    "classes_string": (lambda m: m.update(classes="bcc,fcc"), "classes"),
    "wrong_length": (lambda m: m.update(classes=m["classes"][:5]), "outputs"),
    "missing_key": (lambda m: m["fingerprint"].pop("z_shift"), "fingerprint.z_shift"),
    "foreign_key": (lambda m: m["fingerprint"].update(name="x"), "fingerprint"),
    "bad_type": (lambda m: m["fingerprint"].update(target_atoms="250"), "fingerprint.target_atoms"),
    "huge": (lambda m: m["fingerprint"].update(target_atoms=10**9), "fingerprint.target_atoms"),
    "format": (lambda m: m.update(format=2), "format"),
    "no_fingerprint": (lambda m: m.pop("fingerprint"), "fingerprint"),
    "not_an_object": (lambda m: m.clear(), "format"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MODELS))
def test_hostile_model_json_is_refused_naming_file_and_key(sandbox, capsys, model_dir, case):
    from paper_lib.model import ModelError, load_model

    change, key = HOSTILE_MODELS[case]
    model = spoiled_model(model_dir, case, change)
    with pytest.raises(ModelError) as info:
        load_model(model)
    assert f"{case}.json" in str(info.value) or f"{case}.keras" in str(info.value)
    assert key in str(info.value), str(info.value)
    (sandbox / "a.xyz").write_text("2\n\nCu 0 0 0\nCu 0 0 2.5\n")
    root = sandbox.parents[2]
    before = snapshot(root)
    status, out, err = cli(capsys, "classify", "a.xyz", "--model", model, "--csv", "out/c.csv")
    assert status == 1 and case in err and key in err and out == "", (out, err)
    assert changed(before, root) == set()


def test_nan_in_model_json_is_refused(model_dir):
    from paper_lib.model import ModelError, load_model

    model = spoiled_model(model_dir, "nan", lambda m: None)
    (model_dir / "nan.json").write_text((model_dir / "nan.json").read_text().replace('"angle_deg": 45.0',
                                                                                     '"angle_deg": NaN'))
    with pytest.raises(ModelError, match=r"nan\.json: not valid JSON"):
        load_model(model)


def test_keys_of_other_versions_are_accepted_unknown_ones_reported(model_dir):
    from paper_lib.model import load_model

    model = spoiled_model(model_dir, "newer", lambda m: m.update(uncertainty={"method": "ensemble"}, split_seed=4,
                                                                 ensemble=["a.keras"], colour="blue"))
    with pytest.warns(UserWarning, match=r"newer\.json: unknown key\(s\) 'colour'"):
        loaded = load_model(model)
    assert loaded.metadata["split_seed"] == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(model_dir / "good.keras")          # the shipped model.json follows the schema


# --------------------------------------------------------------------------------------------
# corrupt and foreign files
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spoil", ["random", "truncated", "empty", "text"])
def test_corrupt_fingerprint_file_is_named(sandbox, capsys, tiny_preset_dict, spoil):
    path = small_fingerprints(sandbox / "f.h5", n=6)
    data = path.read_bytes()
    path.write_bytes({"random": np.random.default_rng(1).bytes(len(data)), "truncated": data[: len(data) // 2],
                      "empty": b"", "text": b"label,defect\nfcc,pristine\n"}[spoil])
    with pytest.raises(ValueError, match=r"f\.h5: .*(fingerprint file|empty)"):
        read_fingerprints(path)
    with pytest.raises(ValueError, match=r"f\.h5"):
        load_fingerprint_set([path])
    preset = sandbox / "tiny.yaml"
    preset.write_text(yaml.safe_dump(tiny_preset_dict))
    root = sandbox.parents[2]
    before = snapshot(root)
    for args in (["evaluate", "--model", model_path(), "--fingerprints", path, "--out", "out/a.csv"],
                 ["train", "--config", preset, "--fingerprints", path, "--out", "out/m.keras"],
                 ["render", path, "--out", "out/png"]):
        status, _, err = cli(capsys, *args)
        assert status == 2 and "f.h5" in err and "Traceback" not in err, (args[0], err)
    assert changed(before, root) == set()


def model_path():
    return Path(__file__).resolve().parents[1] / "paper_lib" / "data" / "model.keras"


def test_nan_fingerprints_are_refused_not_classified(sandbox, capsys):
    path = small_fingerprints(sandbox / "nan.h5", n=6, value=np.nan)
    with pytest.raises(ValueError, match=r"nan\.h5: 1 fingerprint\(s\) hold NaN.*row_id 2"):
        read_fingerprints(path)
    with pytest.raises(ValueError, match=r"nan\.h5: 1 fingerprint"):
        load_fingerprint_set([path])
    small_fingerprints(sandbox / "big.h5", n=6, value=7.0)
    root = sandbox.parents[2]
    before = snapshot(root)
    for name in ("nan.h5", "big.h5"):
        status, out, err = cli(capsys, "evaluate", "--model", model_path(), "--fingerprints", name,
                               "--out", "out/a.csv")
        assert status == 2 and name in err and "row_id 2" in err, err
    assert changed(before, root) == set()


def damaged_db(folder, how) -> Path:
    """A structure database spoiled in one way; the good one is ``good.db``."""
    good = small_db(folder / "good.db")
    path = folder / f"{how}.db"
    if how == "missing":
        return path
    shutil.copy(good, path)
    if how == "empty":
        path.write_bytes(b"")
    elif how == "header":
        with open(path, "r+b") as handle:
            handle.write(b"this is not SQLite")
    elif how == "nan_row":              # a few damaged bytes inside one row's coordinates
        with sqlite3.connect(path) as con:
            blob = con.execute("SELECT positions FROM systems WHERE id = 2").fetchone()[0]
            con.execute("UPDATE systems SET positions = ? WHERE id = 2",
                        (blob[:8] + np.array([np.nan]).tobytes() + blob[16:],))
        con.close()
    elif how == "journal":
        (folder / f"{how}.db-journal").write_bytes(b"\0" * 512)
    elif how == "pages":                # damaged pages in the middle of the file
        data = bytearray(path.read_bytes())
        data[4096:4096 + 64] = np.random.default_rng(3).bytes(64)
        path.write_bytes(bytes(data))
    elif how == "foreign":
        path.unlink()
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE t (x)")
        con.close()
    return path


@pytest.mark.parametrize("how", ["missing", "empty", "header", "nan_row", "journal", "pages", "foreign"])
def test_damaged_shard_never_merges_and_no_input_is_written(sandbox, capsys, how):
    bad = damaged_db(sandbox, how)
    good = sandbox / "good.db"
    root = sandbox.parents[2]
    before = snapshot(root)
    status, out, err = cli(capsys, "merge-structures", good, bad, "--out", "out/merged.db")
    assert status == 2 and f"{how}.db" in err, err
    assert not (sandbox / "out" / "merged.db").exists()
    assert changed(before, root) == set()             # the shards untouched, nothing created
    assert bad.exists() == (how != "missing")
    with pytest.raises((ValueError, FileNotFoundError), match=f"{how}.db"):
        merge_structures(sandbox / "out" / "api.db", [good, bad])
    assert changed(before, root) == set()


@pytest.mark.parametrize("how", ["missing", "empty", "header", "journal", "foreign"])
def test_damaged_database_is_named_by_every_reader(sandbox, capsys, how):
    bad = damaged_db(sandbox, how)
    root = sandbox.parents[2]
    before = snapshot(root)
    with pytest.raises((ValueError, FileNotFoundError), match=f"{how}.db"):
        list(read_structures(bad))
    status, _, err = cli(capsys, "fingerprints", "--db", bad, "--out", "out/f.h5")
    assert status == 2 and f"{how}.db" in err and "Traceback" not in err, err
    assert changed(before, root) == set()
    from paper_lib.io import open_database

    with pytest.raises((ValueError, FileNotFoundError), match=f"{how}.db"):
        open_database(bad)


def test_merge_refuses_to_write_one_of_its_inputs(sandbox, capsys):
    good = small_db(sandbox / "good.db")
    other = small_db(sandbox / "other.db")
    before = snapshot(sandbox)
    status, _, err = cli(capsys, "merge-structures", good, other, "--out", good)
    assert status == 2 and "never written" in err
    assert changed(before, sandbox) == set()


def test_damaged_row_fails_alone_in_the_fingerprint_step(sandbox, capsys):
    bad = damaged_db(sandbox, "nan_row")
    status, out, err = cli(capsys, "fingerprints", "--db", bad, "--out", "out/f.h5")
    assert status == 0 and "NaN" in err and "row 2" in err, err
    data = read_fingerprints(sandbox / "out" / "f.h5")
    assert sorted(data["row_id"]) == [1, 3, 4, 5, 6]           # the good rows kept
    assert list(data["failed_row_id"]) == [2]


def test_truncated_and_bad_frames_keep_the_good_ones(sandbox, capsys):
    frame = ('4\nLattice="3.6 0 0 0 3.6 0 0 0 3.6" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
             "Cu 0 0 0\nCu 1.8 1.8 0\nCu 1.8 0 1.8\nCu 0 1.8 1.8\n")
    bad = frame.replace("Cu 1.8 0 1.8", "Cu 1.8 zero 1.8")
    (sandbox / "t.extxyz").write_text(frame + bad + frame + frame[:60])
    status, out, err = cli(capsys, "classify", "t.extxyz", "--csv", "out/t.csv")
    assert status == 1
    rows = (sandbox / "out" / "t.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1] for r in rows] == ["0", "1", "2", "3"]
    assert [bool(r.split(",")[2]) for r in rows] == [True, False, True, False]     # frames 0 and 2 classified
    assert "t.extxyz: frame 1" in err and "t.extxyz: frame 3 is truncated" in err
    frames = list(iter_structure_file(sandbox / "t.extxyz"))
    assert [type(f).__name__ for _, f in frames] == ["Atoms", "ValueError", "Atoms", "ValueError"]
    # the plain XYZ reader (ASE's iread) stops at a truncated frame, keeping every frame before it
    plain = "2\nplain\nCu 0 0 0\nCu 0 0 2.5\n"
    (sandbox / "p.txt").write_text(plain * 3 + "2\nplain\nCu 0 0")
    frames = list(iter_structure_file(sandbox / "p.txt", format="xyz"))
    assert [type(f).__name__ for _, f in frames] == ["Atoms"] * 3 + ["ValueError"]
    assert "p.txt: frame 3" in str(frames[-1][1])


def test_zero_and_negative_atomic_numbers_are_refused_before_the_shift(sandbox, capsys):
    from paper_lib import fingerprint
    from paper_lib.model import classify

    for z in (0, -1, -2):
        atoms = Atoms(numbers=[z, 29, 29, 29], positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [0, 0, 2.5]])
        for preprocessing in ("paper2018", "crystal_frame"):
            with pytest.raises(StructureError, match=f"Z = {z}"):
                fingerprint(atoms, preprocessing=preprocessing, target_atoms=None)
    good = bulk("Cu", "fcc", a=3.6, cubic=True)
    results = classify([Atoms(numbers=[0, 29], positions=[[0, 0, 0], [0, 0, 2.5]]), good])
    assert "Z = 0" in results[0].error and results[1].label is not None      # the good one kept
    (sandbox / "x.extxyz").write_text("2\nProperties=species:S:1:pos:R:3\nX 0 0 0\nCu 0 0 2.5\n")
    status, out, err = cli(capsys, "classify", "x.extxyz")
    assert status == 1 and "x.extxyz" in err and "Z = 0" in err


def test_nearly_flat_cells_are_refused_cleanly():
    from paper_lib import fingerprint
    from paper_lib.model import classify

    good = bulk("Cu", "fcc", a=3.6, cubic=True)
    for height in (1e-6, 1e-12, 1e-300):
        flat = Atoms("Cu2", positions=[[0, 0, 0], [0.5, 0.5, 0]], cell=[[1, 0, 0], [0, 1, 0], [0.5, 0.5, height]],
                     pbc=True)
        with pytest.raises(StructureError, match="nearly flat|no volume"):
            nearest_neighbour_distances(flat)
        for preprocessing in ("paper2018", "crystal_frame"):
            with pytest.raises(StructureError):
                fingerprint(flat, preprocessing=preprocessing)
        results = classify([flat, good])
        assert results[0].error and results[1].label is not None


def test_large_cells_are_refused_by_paper2018_with_a_message():
    import time

    from paper_lib import fingerprint

    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((11, 11, 11))          # 5,324 atoms
    big.rattle(0.01, seed=1)
    start = time.perf_counter()
    with pytest.raises(StructureError, match="5324 atoms.*crystal_frame"):
        fingerprint(big, preprocessing="paper2018", name="big.cif")
    assert time.perf_counter() - start < 5


def test_unknown_format_says_so(sandbox, capsys):
    (sandbox / "a.extxyz").write_text("2\n\nCu 0 0 0\nCu 0 0 2.5\n")
    status, out, err = cli(capsys, "classify", "a.extxyz", "--format", "bad")
    assert status == 2 and "'bad' is not a format ASE knows" in err and "ase info --formats" in err
    status, out, err = cli(capsys, "classify", "a.extxyz", "--format", "png")
    assert status == 2 and "can write but not read" in err
    (index, error), = iter_structure_file(sandbox / "a.extxyz", format="bad")
    assert "a.extxyz: 'bad' is not a format ASE knows" in str(error)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_missing_model_goes_to_stderr_only(sandbox, capsys, json_flag):
    (sandbox / "a.xyz").write_text("2\n\nCu 0 0 0\nCu 0 0 2.5\n")
    status, out, err = cli(capsys, "classify", "a.xyz", "--model", "nosuch.keras", *json_flag)
    assert status == 1 and out == "" and "nosuch.keras: no such model file" in err


def test_extxyz_read_as_plain_xyz_and_slabs_warn_on_stderr(sandbox):
    from paper_lib.structures import StructureWarning

    crystal = ('4\nLattice="3.6 0 0 0 3.6 0 0 0 3.6" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
               "Cu 0 0 0\nCu 1.8 1.8 0\nCu 1.8 0 1.8\nCu 0 1.8 1.8\n")
    (sandbox / "c.extxyz").write_text(crystal)
    result = run("classify", "c.extxyz", "--format", "xyz", cwd=sandbox)
    assert "c.extxyz: read as plain XYZ" in result.stderr and "extxyz" in result.stderr, result.stderr
    with pytest.warns(StructureWarning, match="ignores the cell"):
        list(iter_structure_file(sandbox / "c.extxyz", format="xyz"))
    slab = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 2))
    slab.pbc = (True, True, False)
    slab.write(sandbox / "slab.extxyz")
    result = run("classify", "slab.extxyz", cwd=sandbox)
    assert "slab.extxyz #0: periodic along 2 axis/axes only (a slab or a wire)" in result.stderr, result.stderr
    from paper_lib.model import classify

    with pytest.warns(StructureWarning, match="a slab or a wire"):
        classify(slab)


# --------------------------------------------------------------------------------------------
# the held-out rule, leftovers, overwrites
# --------------------------------------------------------------------------------------------

def test_evaluate_excludes_training_structures_by_identity_not_file_name(sandbox, capsys):
    """A model trained on sids 0-19 (validation 3, 8, 14) of dataset D, evaluated on one shard of
    D: only the held-out pristine structures of that shard count; a file of another dataset with the
    same sids counts every one."""
    import pandas as pd

    meta = json.loads((model_path().with_suffix(".json")).read_text())
    meta["training_data"].update(dataset_digest="d" * 16, pristine_sids=[[0, 20]],
                                 validation_sids=[3, 8, 14], source="elsewhere/a.db;elsewhere/b.db")
    shutil.copy(model_path(), sandbox / "m.keras")
    (sandbox / "m.json").write_text(json.dumps(meta))
    labels = ("bcc", "fcc")
    small_fingerprints(sandbox / "shard0.h5", defects=("pristine", "vacancies"), n=10, sids=range(0, 20, 2),
                       labels=labels)
    small_fingerprints(sandbox / "other.h5", defects=("pristine",), n=10, sids=range(0, 20, 2), labels=labels,
                       digest="e" * 16)
    status, _, err = cli(capsys, "evaluate", "--model", "m.keras", "--fingerprints", "shard0.h5",
                         "--out", "out/a.csv")
    assert status == 0, err
    table = pd.read_csv(sandbox / "out" / "a.csv").set_index("defect")
    assert table.loc["pristine", "n"] == 2          # sids 8 and 14: the held-out ones among 0, 2, ..., 18
    assert table.loc["vacancies", "n"] == 10
    status, _, err = cli(capsys, "evaluate", "--model", "m.keras", "--fingerprints", "other.h5",
                         "--out", "out/b.csv")
    assert pd.read_csv(sandbox / "out" / "b.csv").set_index("defect").loc["pristine", "n"] == 10
    from paper_lib.evaluation import sid_runs, trained_on

    assert sid_runs([5, 0, 1, 2, 7, 6]) == [[0, 3], [5, 8]]
    mask, known = trained_on(np.array(["pristine"] * 4), np.array([3, 4, 20, 8]), "d" * 16,
                             meta["training_data"])
    assert known and mask.tolist() == [False, True, False, False]


def test_leftovers_of_a_killed_writer_are_removed_and_never_read(sandbox):
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1       # no such process can exist
    out = sandbox / "out"
    for name in (f".s.db.{dead}.part", f".s.db.{dead}.part-journal", f".s.db.{dead}.part.lock",
                 f".m.keras.{dead}.part.keras"):
        (out / name).write_bytes(b"half written")
    write_structures(out / "s.db", [(cluster(), {"sid": 0})])
    # the leftovers of s.db are gone; m.keras's wait for the next write of m.keras
    assert sorted(p.name for p in out.iterdir()) == [f".m.keras.{dead}.part.keras", "s.db"]
    assert len(list(read_structures(out / "s.db"))) == 1


def test_train_refuses_to_overwrite_and_names_the_history_after_its_model(sandbox, capsys, tiny_preset_dict):
    import pandas as pd

    preset = sandbox / "tiny.yaml"
    preset.write_text(yaml.safe_dump(dict(tiny_preset_dict, preprocessing="crystal_frame")))
    fps = small_fingerprints(sandbox / "f.h5", n=16, labels=("bcc", "fcc", "sc", "diam"))
    out = sandbox / "out"
    for name in ("a.keras", "a.json", "a.history.csv"):
        (out / name).write_text("first model")
    before = snapshot(out)
    for target in ("a.keras", "a.json", "a.history.csv"):   # any one of the three is enough to refuse
        keep = {n: (out / n).read_text() for n in ("a.keras", "a.json", "a.history.csv")}
        (out / target).rename(out / "moved")
        status, _, err = cli(capsys, "train", "--config", preset, "--fingerprints", fps, "--out", "out/a.keras",
                             "--epochs", "1")
        (out / "moved").rename(out / target)
        assert status == 2 and "already exists" in err and "--force" in err, err
        assert {n: (out / n).read_text() for n in keep} == keep
    assert changed(before, out) == set()
    status, _, err = cli(capsys, "train", "--config", preset, "--fingerprints", fps, "--out", "out/b.keras",
                         "--epochs", "1")
    assert status == 0, err
    assert changed(before, out) == {out / "b.keras", out / "b.json", out / "b.history.csv"}
    assert list(pd.read_csv(out / "b.history.csv").columns)[0] == "epoch"
    status, _, err = cli(capsys, "train", "--config", preset, "--fingerprints", fps, "--out", "out/a.keras",
                         "--epochs", "1", "--force", "--history", "out/explicit.csv")
    assert status == 0, err
    assert json.loads((out / "a.json").read_text())["format"] == 1 and (out / "explicit.csv").exists()


@pytest.mark.skipif(shutil.which("bandit", path=str(BIN)) is None, reason="bandit not installed")
def test_bandit_finds_nothing_at_medium_or_higher():
    result = subprocess.run([str(BIN / "bandit"), "-r", str(ROOT / "paper_lib"), "-ll", "-q", "-f", "json"],
                            capture_output=True, text=True)
    report = json.loads(result.stdout)
    assert report["results"] == [], [(r["filename"], r["line_number"], r["issue_text"]) for r in report["results"]]
