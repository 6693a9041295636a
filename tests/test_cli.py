"""``python -m paper_lib structures | merge-structures | fingerprints | render`` end to end."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.db import connect

from paper_lib.io import read_fingerprints


def run(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "paper_lib", *map(str, args)],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


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
