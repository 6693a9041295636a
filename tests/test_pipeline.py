"""The quick preset end to end through Snakemake, and an interrupted run that resumes."""
import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from conftest import copy_workflow, small_local_maps
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home()), "TF_CPP_MIN_LOG_LEVEL": "2",
       "PYTHONPATH": str(ROOT)}     # this checkout's paper_lib, wherever the package is installed from

pytestmark = pytest.mark.skipif(not (BIN / "snakemake").exists(), reason="workflow extra not installed")


def workspace(tmp_path: Path) -> Path:
    """A scratch copy of what the workflow reads (the package itself is installed)."""
    copy_workflow(tmp_path)
    small_local_maps(tmp_path / "config" / "quick.yaml")
    return tmp_path


def pd_read(path):
    import pandas as pd

    return pd.read_csv(path)


def snakemake(cwd, *args, **kwargs):
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, capture_output=True, text=True, env=ENV,
                          **kwargs)


@pytest.mark.slow
def test_quick_preset_end_to_end(tmp_path):
    work = workspace(tmp_path)
    run = snakemake(work, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    figures = work / "figures" / "quick"
    for name in ("class_counts", "parameters", "fingerprints", "accuracy_vs_vacancies",
                 "accuracy_vs_displacements", "confusion", "class_maps", "peak_concentration",
                 "response_maps_fcc", "response_maps_hex-rh", "local_maps", "local_accuracy", "local_boundaries"):
        assert (figures / f"{name}.png").stat().st_size > 1000 and (figures / f"{name}.pdf").exists()
    assert (figures / "table1.csv").exists()
    local = pd_read(figures / "local_accuracy.csv")
    assert set(local["method"]) == {"cnn", "ptm", "acna"} and len(local) == 12
    import json

    import pandas as pd
    accuracy = pd.read_csv(figures / "accuracy.csv")
    assert {"cnn", "cnn_dcdft", "ptm", "spglib_1e-1", "spglib_1e-4"} <= set(accuracy["method"])
    spglib = accuracy.query("method == 'spglib_1e-3' and defect == 'pristine'")
    assert spglib["accuracy"].item() == 100.0                   # a symmetry finder is right on pristine
    peaks = pd.read_csv(figures / "peak_concentration.csv")
    assert (peaks["vs_random"] > 1).all()
    provenance = json.loads((figures / "provenance.json").read_text())
    stages = {s["stage"] for s in provenance["stages"]}
    assert {"structures", "fingerprints", "train", "evaluate", "baselines", "score"} <= stages
    assert provenance["preset_digest"] and provenance["machine"]["cores_used"] == 2
    dry = snakemake(work, "-n", "--cores", "2")
    assert "Nothing to be done" in dry.stdout, dry.stdout
    report = snakemake(work, "--cores", "2", "--report", "report.html")
    assert report.returncode == 0 and (work / "report.html").stat().st_size > 100_000
    # the executed notebooks run on their own, from notebooks/, as in JupyterLab
    import nbformat
    from nbclient import NotebookClient

    for name in ("01_dataset", "02_accuracy_vs_defects", "03_response_maps"):
        executed = nbformat.read(work / "executed" / "quick" / f"{name}.ipynb", as_version=4)
        assert any(cell.get("outputs") for cell in executed.cells)
        fresh = nbformat.read(work / "notebooks" / f"{name}.ipynb", as_version=4)
        NotebookClient(fresh, kernel_name="python3", timeout=300,
                       resources={"metadata": {"path": str(work / "notebooks")}}).execute()
    explorer = nbformat.read(work / "notebooks" / "04_explorer.ipynb", as_version=4)   # the shipped sample
    NotebookClient(explorer, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(work / "notebooks")}}).execute()
    assert "paperlib" not in str([o for c in explorer.cells for o in c.get("outputs", []) if o.get("ename")])


def recorded_as_finished(work: Path, fragment: str) -> list[str]:
    """Outputs Snakemake has recorded as finished (its metadata: one base64-named file each)."""
    folder = work / ".snakemake" / "metadata"
    names = [base64.urlsafe_b64decode(p.name).decode() for p in folder.iterdir()] if folder.exists() else []
    return [n for n in names if fragment in n]


@pytest.mark.slow
def test_killed_during_fingerprints_resumes_without_recomputing(tmp_path, tiny_preset_dict):
    work = workspace(tmp_path)
    preset = dict(tiny_preset_dict, preset="tiny", shards=3)
    preset["pristine"] = dict(preset["pristine"], counts={k: 6 for k in preset["pristine"]["counts"]})
    (work / "config" / "tiny.yaml").write_text(yaml.safe_dump(preset))
    shards = [work / "results" / "tiny" / "fingerprints" / f"shard-{k:03d}.h5" for k in range(3)]
    target = [str(p.relative_to(work)) for p in shards]
    # targets first: --configfile takes several values
    command = [str(BIN / "snakemake"), *target, "--cores", "2", "--configfile", "config/tiny.yaml"]
    first = subprocess.Popen(command, cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not recorded_as_finished(work, "fingerprints/shard-"):
        time.sleep(0.1)
    assert recorded_as_finished(work, "fingerprints/shard-"), "no shard finished in time"
    os.killpg(first.pid, signal.SIGINT)                  # Ctrl-C: Snakemake and its jobs, all at once
    first.wait(timeout=120)
    finished = {p: p.stat().st_mtime_ns for p in shards if p.exists()}
    assert len(finished) < 3, "the run ended before it could be interrupted"
    second = subprocess.run(command, cwd=work, env=ENV, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    for p in shards:
        with h5py.File(p, "r") as h5:                    # every shard complete and readable
            assert h5["fingerprints"].shape[0] == len(h5["row_id"]) > 0
    for p, mtime in finished.items():                    # finished shards were not recomputed
        assert p.stat().st_mtime_ns == mtime
    assert not list((work / "results").rglob("*.part"))
