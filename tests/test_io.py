"""Files are written atomically: an interrupted write leaves nothing that looks finished."""
import numpy as np
import pytest
from ase import Atoms

from paper_lib.io import read_fingerprints, write_fingerprints, write_structures


def test_interrupted_database_write_leaves_nothing(tmp_path):
    def rows():
        yield Atoms("H2", positions=[[0, 0, 0], [0, 0, 1]]), {"label": "x"}
        raise KeyboardInterrupt

    out = tmp_path / "s.db"
    with pytest.raises(KeyboardInterrupt):
        write_structures(out, rows())
    assert list(tmp_path.iterdir()) == []


def test_fingerprint_file_round_trip(tmp_path):
    fps = np.random.default_rng(0).random((3, 64, 64, 3)).astype(np.float32)
    meta = {"row_id": [1, 2, 4], "label": ["fcc", "bcc", "hex/rh"], "level": [0.0, 1.0, 2.5]}
    write_fingerprints(tmp_path / "f.h5", fps, meta, [(3, "row 3: no atoms")], {"fingerprint": {"z_shift": 2}})
    data = read_fingerprints(tmp_path / "f.h5")
    assert np.array_equal(data["fingerprints"], fps)
    assert list(data["label"]) == meta["label"] and list(data["row_id"]) == [1, 2, 4]
    assert list(data["failed_error"]) == ["row 3: no atoms"]
    assert data["attrs"]["fingerprint"] == '{"z_shift": 2}'
    assert [p.name for p in tmp_path.iterdir()] == ["f.h5"]
