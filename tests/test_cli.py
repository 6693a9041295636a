"""``python -m paper_lib structures | merge-structures | fingerprints | render`` end to end; the
command line's manners: --version, no TensorFlow log lines without --verbose, errors on stderr."""
import functools
import os
import re

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.db import connect
from conftest import run_cli

from paper_lib.io import read_fingerprints

run = functools.partial(run_cli, check=True)     # python -m paper_lib ARGS; a failure raises


@pytest.fixture
def preset_file(tmp_path, tiny_preset_dict):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_preset_dict))
    return path


def rows_of(db_path):
    return [(row.sid, row.defect, row.level, row.label, row.toatoms().positions.round(10).tobytes())
            for row in connect(db_path).select()]


def test_structures_sharded_and_merged_equal_the_whole(tmp_path, preset_file):
    whole = tmp_path / "whole.db"
    run("structures", "--config", preset_file, "--out", whole, "--processes", "2")
    rows = rows_of(whole)
    assert len(rows) == 14 + 7 + 7               # pristine + half of them at each of two levels
    keys = connect(whole).get(id=1).key_value_pairs
    for key in ("sid", "label", "spacegroup", "defect", "level", "element", "prototype"):
        assert key in keys
    assert {r[1] for r in rows} == {"pristine", "vacancies", "displacements"}
    shards = [tmp_path / f"s{k}.db" for k in range(2)]
    for k, shard in enumerate(shards):
        run("structures", "--config", preset_file, "--shard", f"{k}/2", "--out", shard)
    merged = tmp_path / "merged.db"
    run("merge-structures", *shards, "--out", merged)
    assert sorted(rows_of(merged)) == sorted(rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary left


def test_fingerprints_shards_record_failures(tmp_path, preset_file):
    db = tmp_path / "s.db"
    run("structures", "--config", preset_file, "--out", db)
    with connect(db) as con:                      # a bad row must not kill the batch
        con.write(Atoms("Cu", positions=[[0, 0, 0]]), label="fcc", defect="pristine", level=0.0, sid=99)
    n_rows = connect(db).count()
    outs = []
    for k in range(2):
        out = tmp_path / f"fp{k}.h5"
        result = run("fingerprints", "--db", db, "--shard", f"{k}/2", "--out", out, "--processes", "2")
        assert "fingerprints" in result.stdout
        outs.append(read_fingerprints(out))
    total = sum(len(o["fingerprints"]) for o in outs)
    failed = [m for o in outs for m in o["failed_error"]]
    assert total == n_rows - 1 and len(failed) == 1 and "1 atom" in failed[0]
    first = outs[0]
    assert first["fingerprints"].shape[1:] == (64, 64, 3) and first["fingerprints"].dtype == np.float32
    assert set(first) >= {"row_id", "sid", "label", "defect", "level", "attrs"}
    assert '"mask_inner_px": 5' in first["attrs"]["fingerprint"]
    run("merge-fingerprints", *(tmp_path / f"fp{k}.h5" for k in range(2)), "--out", tmp_path / "all.h5")
    merged = read_fingerprints(tmp_path / "all.h5")
    assert len(merged["fingerprints"]) == total and len(merged["failed_error"]) == 1
    run("render", tmp_path / "all.h5", "--out", tmp_path / "png")
    pngs = sorted(p.name for p in (tmp_path / "png").glob("*.png"))
    assert len(pngs) == 7 and pngs[0].startswith("bcc_pristine")


def test_reference_code_variant_from_the_command_line(tmp_path, preset_file):
    db = tmp_path / "s.db"
    run("structures", "--config", preset_file, "--out", db)
    out = tmp_path / "ref.h5"
    run("fingerprints", "--db", db, "--out", out, "--mask-inner-px", "10", "--mask-outer-px", "30")
    fps = read_fingerprints(out)["fingerprints"]
    r = np.hypot(*np.meshgrid(np.arange(64) - 31.5, np.arange(64) - 31.5))
    assert np.all(fps[:, r >= 30] == 0) and np.all(fps[:, r <= 10] == 0)


def test_config_typo_stops_before_any_work(tmp_path, tiny_preset_dict):
    bad = dict(tiny_preset_dict, seeds=1)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = tmp_path / "never.db"
    result = run("structures", "--config", path, "--out", out, check=False)
    assert result.returncode == 2
    assert "unknown key 'seeds'" in result.stderr and "bad.yaml" in result.stderr
    assert not out.exists()


def test_missing_database_is_a_clear_error(tmp_path):
    result = run("fingerprints", "--db", tmp_path / "absent.db", "--out", tmp_path / "x.h5", check=False)
    assert result.returncode == 2 and "absent.db: no such structure database" in result.stderr
    result = run("structures", "--config", "x.yaml", "--shard", "3/2", check=False)
    assert result.returncode == 2 and "K < N" in result.stderr


def test_version():
    import importlib.metadata

    import paper_lib

    result = run("--version")
    assert re.fullmatch(r"paper-lib \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout
    try:
        expected = importlib.metadata.version("paper_lib")
    except importlib.metadata.PackageNotFoundError:
        expected = paper_lib.__version__
    assert result.stdout == f"paper-lib {expected}\n" and not result.stderr


#: what TensorFlow's C++ (absl) logging writes while it starts: "WARNING: All log messages before
#: absl::InitializeLog() ...", "I0000 00:00:1795813762.459587   10514 port.cc:153] oneDNN custom
#: operations are on ...", "... cpu_feature_guard.cc ...", CUDA probing on machines without a GPU
TF_NOISE = re.compile(r"oneDNN|absl|cuda|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS|^[IWE]\d{4} ", re.I | re.M)


def _no_tf_level():
    """This environment without TF_CPP_MIN_LOG_LEVEL: the command line's default is tested."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def test_no_tensorflow_log_lines_without_verbose(tmp_path):
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / "two.extxyz"
    write(path, [bulk("Cu", "fcc", a=3.61, cubic=True), bulk("Fe", "bcc", a=2.87, cubic=True)], format="extxyz")
    quiet = run("classify", path, env=_no_tf_level())
    assert [line.split()[1] for line in quiet.stdout.splitlines()[1:]] == ["fcc", "bcc"]
    assert not TF_NOISE.search(quiet.stderr), quiet.stderr
    loud = run("--verbose", "classify", path, env=_no_tf_level())      # the same run shows them with --verbose
    assert TF_NOISE.search(loud.stderr), loud.stderr
    assert loud.stdout == quiet.stdout


def test_evaluate_shows_progress_and_no_tensorflow_log_lines(tmp_path):
    """evaluate on the explorer's shipped sample with the shipped model: a progress bar on stderr
    (off a terminal: its first and last state), no TensorFlow log lines, every pristine one right."""
    from paper_lib.model import SHIPPED_MODEL
    from paper_lib.widgets import SAMPLE

    out = tmp_path / "accuracy.csv"
    result = run("evaluate", "--model", SHIPPED_MODEL, "--fingerprints", SAMPLE / "fingerprints.h5", "--out", out,
                 env=_no_tf_level())
    assert not TF_NOISE.search(result.stderr), result.stderr
    assert re.search(r"evaluate: 100%.* 63/63", result.stderr), result.stderr
    import pandas as pd

    accuracy = pd.read_csv(out).set_index("defect")
    assert accuracy.loc["pristine", "n"] == 21 and accuracy.loc["pristine", "accuracy"] == 100


def test_errors_go_to_stderr(tmp_path):
    for args in (["evaluate", "--model", tmp_path / "absent.keras", "--fingerprints", tmp_path / "absent.h5",
                  "--out", tmp_path / "a.csv"],
                 ["structures", "--config", tmp_path / "absent.yaml"],
                 ["train", "--config", tmp_path / "absent.yaml", "--fingerprints", tmp_path / "a.h5",
                  "--out", tmp_path / "m.keras"],
                 ["classify"]):
        result = run(*args, check=False, env=_no_tf_level())
        assert result.returncode == 2 and result.stdout == "", (args, result.stdout)
        assert "error: " in result.stderr, result.stderr
        assert not TF_NOISE.search(result.stderr), result.stderr
