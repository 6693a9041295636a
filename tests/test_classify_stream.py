"""Streaming ``classify``: frame by frame from files, results in order as chunks finish, bad frames
reported and skipped, JSON lines and CSV written as they come (the CSV only appears when complete)."""
import csv
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read, write
from conftest import run_cli

from paper_lib.cli import build_parser, main
from paper_lib.io import iter_structure_file
from paper_lib.model import Classification, classify, classify_iter, load_model

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def crystals():
    """Four small periodic crystals: fcc, bcc, fcc, bcc (different lattice parameters)."""
    return [bulk("Cu", "fcc", a=3.61), bulk("Fe", "bcc", a=2.87), bulk("Al", "fcc", a=4.05),
            bulk("W", "bcc", a=3.16)]


def extxyz_lines(frames, tmp_path):
    path = tmp_path / "frames.extxyz"
    write(path, frames, format="extxyz")
    return path.read_text().splitlines(keepends=True)


def test_classify_iter_yields_in_input_order_as_chunks_finish(shipped):
    good = crystals()
    items = [("a.cif", 0, good[0]), ("b.xyz", 0, good[1]), ("b.xyz", 1, ValueError("b.xyz: frame 1 is bad")),
             ("b.xyz", 2, Atoms()), ("c.vasp", 0, good[2]), ("d.vasp", 7, good[3])]
    pulled = []

    def stream():
        for item in items:
            pulled.append(item)
            yield item

    results = classify_iter(stream(), shipped, processes=2, chunk_size=2)
    first = next(results)
    assert len(pulled) <= 4                    # one chunk being predicted, at most one read ahead
    out = [first, *results]
    assert [(r.source, r.index) for r in out] == [item[:2] for item in items]
    assert [r.label for r in out] == ["fcc", "bcc", None, None, "fcc", "bcc"]
    assert out[2].error == "b.xyz: frame 1 is bad"
    assert "b.xyz #2" in out[3].error and "atoms" in out[3].error
    # the same probabilities as the list API, one structure at a time
    single = classify(good[3], shipped)
    assert single.label == "bcc" and single.probabilities == pytest.approx(out[5].probabilities, abs=1e-5)
    plain = list(classify_iter(good, shipped, chunk_size=3))     # plain Atoms: source "", index = position
    assert [(r.source, r.index, r.label) for r in plain] == [("", 0, "fcc"), ("", 1, "bcc"), ("", 2, "fcc"),
                                                             ("", 3, "bcc")]


def test_extxyz_frames_go_on_after_a_bad_frame(tmp_path):
    frames = crystals()
    lines = extxyz_lines(frames, tmp_path)
    per_frame = len(lines) // len(frames)          # every frame has the same number of atoms (1)
    bad = list(lines)
    bad[per_frame + 2] = "Fe 0.0 zero 0.0\n"       # frame 1's atom line
    path = tmp_path / "bad.extxyz"
    path.write_text("".join(bad))
    found = list(iter_structure_file(path))
    assert [i for i, _ in found] == [0, 1, 2, 3]
    assert isinstance(found[1][1], ValueError) and f"{path}: frame 1 cannot be read" in str(found[1][1])
    expected = read(tmp_path / "frames.extxyz", index=":")
    for index in (0, 2, 3):
        atoms = found[index][1]
        assert np.allclose(atoms.positions, expected[index].positions)
        assert np.allclose(atoms.cell, expected[index].cell) and all(atoms.pbc)
        assert atoms.get_chemical_symbols() == expected[index].get_chemical_symbols()


def test_unreadable_files_keep_their_messages(tmp_path):
    (tmp_path / "empty.xyz").write_text("")
    (tmp_path / "folder.xyz").mkdir()
    (tmp_path / "what.abc").write_text("hello\n")
    (tmp_path / "binary.xyz").write_bytes(b"\xff\xfe\x00 not text")
    cases = {"absent.xyz": "no such file", "empty.xyz": "the file is empty", "folder.xyz": "is a folder",
             "what.abc": "does not recognise the file format", "binary.xyz": "frame 0 cannot be read"}
    for name, message in cases.items():
        [(index, error)] = list(iter_structure_file(tmp_path / name))
        assert index == 0 and isinstance(error, ValueError) and message in str(error) and name in str(error)
    write(tmp_path / "two.cif", crystals()[:2])
    assert [len(a) for _, a in iter_structure_file(tmp_path / "two.cif")] == [1, 1]


def test_truncated_last_frame_loses_only_itself(tmp_path):
    lines = extxyz_lines(crystals(), tmp_path)
    path = tmp_path / "run.extxyz"
    path.write_text("".join(lines[:-1]))            # the last frame ends before its atom line
    result = run_cli("classify", path, "--json", "--jobs", "2")
    assert result.returncode == 1, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["index"], row.get("label")) for row in rows] == [(0, "fcc"), (1, "bcc"), (2, "fcc"), (3, None)]
    assert "frame 3 is truncated" in rows[3]["error"]
    assert f"error: {path}: frame 3 is truncated" in result.stderr and "1 of 4 item(s) failed" in result.stderr


def test_json_and_csv_outputs(tmp_path, capsys, shipped):
    write(tmp_path / "good.extxyz", crystals()[:3], format="extxyz")
    out = tmp_path / "out.csv"
    code = main(["classify", str(tmp_path / "good.extxyz"), str(tmp_path / "absent.vasp"), "--json",
                 "--csv", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and f"{tmp_path / 'absent.vasp'}: no such file" in captured.err
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [set(row) for row in rows] == [{"source", "index", "label", "best", "probabilities", "uncertainty",
                                           "reason"}] * 3 + [{"source", "index", "error"}]
    assert set(rows[0]["probabilities"]) == set(shipped.classes)
    for row in rows[:3]:
        assert row["best"] == max(row["probabilities"], key=row["probabilities"].get)
        assert 0.0 <= row["uncertainty"] <= 1.0
    with open(out, newline="") as handle:
        table = list(csv.DictReader(handle))
        handle.seek(0)
        header = next(csv.reader(handle))
    assert header == ["source", "index", "label", "best", "probability", "uncertainty", *shipped.classes, "reason",
                      "error"]
    assert [(r["index"], r["label"]) for r in table] == [("0", "fcc"), ("1", "bcc"), ("2", "fcc"), ("0", "")]
    for row in table[:3]:
        assert float(row["probability"]) == max(float(row[c]) for c in shipped.classes)
        assert row["error"] == "" and row["best"] == row["label"] and 0 <= float(row["uncertainty"]) <= 1
    assert "no such file" in table[3]["error"] and table[3]["probability"] == "" and table[3]["uncertainty"] == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    assert main(["classify", str(tmp_path / "good.extxyz")]) == 0           # the table: header, then rows
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["structure", "class", "prob.", "unc.", "second", "choice,", "or", "why", "unknown"]
    assert [line.split()[:2] for line in lines[1:]] == [[f"{tmp_path / 'good.extxyz'}#{i}", label]
                                                       for i, label in enumerate(["fcc", "bcc", "fcc"])]


def test_interrupted_csv_leaves_no_finished_looking_file(tmp_path, monkeypatch, capsys):
    import paper_lib.model

    def interrupted(structures, model=None, **kwargs):
        yield Classification(label="fcc", probabilities={c: 0.0 for c in model.classes}, source="x", index=0)
        raise KeyboardInterrupt

    monkeypatch.setattr(paper_lib.model, "classify_iter", interrupted)
    write(tmp_path / "good.extxyz", crystals()[:2], format="extxyz")
    out = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        main(["classify", str(tmp_path / "good.extxyz"), "--csv", str(out)])
    assert "x#0" in capsys.readouterr().out                  # the row came out before the interruption
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.extxyz"]


def test_jobs_and_its_alias():
    parser = build_parser()
    assert parser.parse_args(["classify", "a.cif", "--jobs", "3"]).jobs == 3
    assert parser.parse_args(["classify", "a.cif", "--processes", "2"]).jobs == 2
    assert parser.parse_args(["classify", "a.cif"]).jobs == 1
