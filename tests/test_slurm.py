"""A real SLURM run: a one-node cluster on this machine runs the quick preset's heavy rules.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (.ci/run installs them); skipped
elsewhere, except in CI (CI=true), where a missing SLURM is a failure.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_workflow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HAVE_SLURM = all(shutil.which(t) for t in ("slurmctld", "slurmd", "sbatch", "munged")) and os.geteuid() == 0

if not HAVE_SLURM and os.environ.get("CI") != "true":
    pytest.skip("SLURM (and root) not available here", allow_module_level=True)


@pytest.mark.slow
def test_quick_preset_through_slurm(tmp_path):
    assert HAVE_SLURM, "CI must install SLURM (see .ci/run)"
    work = tmp_path / "work"
    work.mkdir()
    copy_workflow(work)
    state = tmp_path / "slurm"
    cluster = ROOT / "scripts" / "slurm_cluster.sh"
    up = subprocess.run(["bash", str(cluster), "up", str(state)], capture_output=True, text=True)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        env = {"PATH": f"{BIN}:/usr/bin:/bin:/usr/sbin", "HOME": str(Path.home()), "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": str(ROOT)}      # this checkout's paper_lib, wherever the package is installed from
        cores = str(os.cpu_count())
        run = subprocess.run(
            [str(BIN / "snakemake"), "--workflow-profile", "profiles/slurm",
             "--set-threads", f"fingerprints={cores}", f"train={cores}", f"evaluate={cores}",
             "--set-resources", "train:mem_mb=6000", "evaluate:mem_mb=6000", "fingerprints:mem_mb=4000",
             "--configfile", "config/quick.yaml"],
            cwd=work, env=env, capture_output=True, text=True, timeout=1800)
        log = run.stdout + run.stderr
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "slurm_snakemake.log").write_text(log)
        assert run.returncode == 0, log[-4000:]
        job_ids = sorted({int(j) for j in re.findall(r"SLURM jobid (\d+)", log)})
        completed = (state / "log" / "jobcomp.txt").read_text()
        (ROOT / "test-artifacts" / "slurm_jobcomp.txt").write_text(completed)
        done = {int(j) for j in re.findall(r"JobId=(\d+) .*?JobState=COMPLETED", completed)}
        # 2 structure shards, 2 fingerprint shards, merge, train, evaluate: heavy rules as SLURM jobs
        assert len(job_ids) >= 7 and set(job_ids) <= done, (job_ids, done)
        assert (work / "figures" / "quick" / "table1.csv").exists()
        assert (work / "results" / "quick" / "model.keras").exists()
    finally:
        down = subprocess.run(["bash", str(cluster), "down", str(state)], capture_output=True, text=True)
        assert down.returncode == 0, down.stderr
    for pid_file in (state / "slurmctld.pid", state / "slurmd.pid", Path("/run/munge/munged.pid")):
        assert not pid_file.exists()              # every daemon stopped by its pid
