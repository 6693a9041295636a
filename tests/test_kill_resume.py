"""The quick preset through Snakemake, killed with SIGKILL at three random points and resumed.

A kill point is random in progress and in time: once a random number of the run's outputs is
finished (three distinct numbers, rising, each reached at least a third of the run's time, and at
least 60 s, before the end of the uninterrupted run), a random 0-4 s later.

After each kill: every output Snakemake recorded as finished is complete (it opens and reads), the
resumed run plans no job whose output was finished and rewrites no finished file, and no temporary
(``.part``, SQLite ``-journal``) is left once the run is over. The figures' data (CSV) equal those
of an uninterrupted run. The kill points are random; the seed is in every failure message
(``PAPER_LIB_KILL_SEED`` repeats a run).
"""
import base64
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_workflow, small_local_maps

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home()), "TF_CPP_MIN_LOG_LEVEL": "2",
       "PYTHONPATH": str(ROOT)}
KILLS = 3

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (BIN / "snakemake").exists(), reason="workflow extra not installed")]


def workspace(folder: Path) -> Path:
    folder.mkdir(parents=True)
    copy_workflow(folder)
    small_local_maps(folder / "config" / "quick.yaml")
    return folder


def snakemake(work: Path, *args, **kwargs):
    return subprocess.run([str(BIN / "snakemake"), "--cores", "2", *args], cwd=work, capture_output=True, text=True,
                          env=ENV, **kwargs)


def finished_outputs(work: Path) -> dict[Path, tuple[int, int]]:
    """Outputs Snakemake recorded as finished (metadata, not marked incomplete) that exist: their
    (inode, mtime)."""
    def names(folder):
        folder = work / ".snakemake" / folder
        return {base64.urlsafe_b64decode(p.name).decode() for p in folder.iterdir()} if folder.exists() else set()

    out = {}
    for name in names("metadata") - names("incomplete"):
        path = work / name
        if path.is_file():
            out[path] = (path.stat().st_ino, path.stat().st_mtime_ns)
    return out


def planned_outputs(dry_run: str) -> set[Path]:
    """The outputs of the jobs a dry run lists."""
    found = set()
    for line in dry_run.splitlines():
        match = re.match(r"\s+output: (.*)", line)
        if match:
            found.update(Path(p.strip()) for p in match.group(1).split(","))
    return found


def check_complete(path: Path) -> None:
    """Raise if a finished output does not read as a complete file of its kind."""
    import pandas as pd

    from paper_lib.io import open_database, read_fingerprints

    if path.suffix == ".db":
        open_database(path)
    elif path.suffix == ".h5":
        read_fingerprints(path)
    elif path.suffix == ".csv":
        pd.read_csv(path)
    elif path.suffix in (".png", ".pdf", ".keras", ".json", ".yaml"):
        assert path.stat().st_size > 0, path


def figure_data(work: Path) -> dict[str, "object"]:
    import pandas as pd

    tables = sorted((work / "figures" / "quick").rglob("*.csv")) + [work / "results" / "quick" / n
                                                                  for n in ("accuracy.csv", "recall.csv")]
    return {str(p.relative_to(work)): pd.read_csv(p) for p in tables}


def test_sigkill_three_times_then_resume_gives_the_uninterrupted_result(tmp_path):
    seed = int(os.environ.get("PAPER_LIB_KILL_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    reference = workspace(tmp_path / "reference")
    start = time.perf_counter()
    whole = snakemake(reference)
    duration = time.perf_counter() - start
    assert whole.returncode == 0, whole.stderr[-3000:]

    # kill points: k finished outputs, for a k after which the uninterrupted run still had a third
    # of its time (at least 60 s) to go: a resumed run can reach the end faster than the whole one
    times = sorted(stamp[1] / 1e9 for stamp in finished_outputs(reference).values())
    n_outputs = len(times)
    margin = max(60.0, duration / 3)
    eligible = [k for k in range(1, n_outputs) if times[k - 1] < times[-1] - margin]
    targets = sorted(rng.sample(eligible, KILLS))
    work = workspace(tmp_path / "killed")
    kills, finished, jobs = 0, {}, []
    for attempt in range(KILLS):
        if attempt:        # resume: unlock (a killed Snakemake leaves its lock), then nothing finished is planned
            assert snakemake(work, "--unlock").returncode == 0
            for path, stamp in finished.items():      # what was finished before the last kill stayed
                assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, f"seed {seed}: {path} rewritten"
            finished = finished_outputs(work)
            for path in finished:
                check_complete(path)
            dry = snakemake(work, "-n")
            assert dry.returncode == 0, dry.stderr[-3000:]
            again = {work / p for p in planned_outputs(dry.stdout)} & set(finished)
            assert not again, f"seed {seed}: finished outputs planned again: {sorted(map(str, again))}"
            jobs.append(len(re.findall(r"^\s*(?:local)?rule \w+:", dry.stdout, re.M)))
        # a random point: once a random number of outputs is finished, a random moment later
        extra = rng.uniform(0, 4)
        process = subprocess.Popen([str(BIN / "snakemake"), "--cores", "2"], cwd=work, env=ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 3 * duration + 120
        while process.poll() is None and len(finished_outputs(work)) < targets[attempt] and time.time() < deadline:
            time.sleep(0.2)
        try:
            process.wait(timeout=extra)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)        # Snakemake and every job, without warning
            process.wait()
            kills += 1
        print(f"seed {seed}: attempt {attempt} killed {extra:.1f} s after {targets[attempt]} of {n_outputs} "
              f"outputs were finished ({len(finished_outputs(work))} then)")
    assert kills == KILLS, f"seed {seed}: the run finished before it could be killed {KILLS} times"

    assert snakemake(work, "--unlock").returncode == 0
    for path, stamp in finished.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, f"seed {seed}: {path} rewritten"
    finished = finished_outputs(work)
    for path in finished:
        check_complete(path)
    dry = snakemake(work, "-n")
    planned = {work / p for p in planned_outputs(dry.stdout)}
    assert not planned & set(finished), f"seed {seed}"
    jobs.append(len(re.findall(r"^\s*(?:local)?rule \w+:", dry.stdout, re.M)))
    total = len(re.findall(r"^\s*(?:local)?rule \w+:", snakemake(reference, "-n", "--forceall").stdout, re.M))
    resumed = snakemake(work)
    assert resumed.returncode == 0, f"seed {seed}: " + resumed.stderr[-3000:]
    print(f"seed {seed}: jobs planned by each resume {jobs} of {total}; {len(finished)} finished output(s) kept")
    assert all(0 < n < total for n in jobs) and jobs == sorted(jobs, reverse=True), f"seed {seed}: {jobs}"
    assert jobs[0] > jobs[-1], f"seed {seed}: the kills did not fall at different stages: {jobs}"
    for path, stamp in finished.items():              # nothing finished was recomputed
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, f"seed {seed}: {path} was rewritten"
    for path in finished_outputs(work):
        check_complete(path)
    leftovers = [p for p in work.rglob("*") if p.name.endswith((".part", "-journal")) or ".part." in p.name]
    assert not leftovers, f"seed {seed}: {leftovers}"
    assert "Nothing to be done" in snakemake(work, "-n").stdout

    expected, got = figure_data(reference), figure_data(work)
    assert sorted(got) == sorted(expected) and len(got) >= 4
    for name, table in expected.items():
        assert got[name].equals(table), f"seed {seed}: {name} differs from the uninterrupted run"
