"""Provenance of a run: commit, preset digest, package versions, machine, and time per stage.

Stage times come from Snakemake's ``benchmark:`` files (one TSV per job, ``s`` = wall seconds,
``cpu_time`` = CPU seconds, ``max_rss`` = peak resident memory in MB).
"""
from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess  # bandit B404 (low): only git, with literal arguments and no shell (git_state)
from pathlib import Path

import pandas as pd


def git_state(root: str | Path = ".") -> dict:
    """``commit`` (SHA-1) and ``dirty`` (uncommitted changes to tracked files) of the checkout."""
    def git(*args):
        # bandit B603/B607 (low): `git` from PATH with literal arguments, no shell, nothing from input files
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def stage_times(benchmarks: str | Path) -> pd.DataFrame:
    """One row per stage (rule) from a folder of benchmark TSVs named ``<rule>[-<shard>].tsv``:
    jobs, summed wall and CPU seconds, largest peak memory (MB)."""
    rows = []
    for path in sorted(Path(benchmarks).glob("*.tsv")):
        stage = re.sub(r"-\d+$", "", path.stem)
        table = pd.read_csv(path, sep="\t")
        for _, r in table.iterrows():
            rows.append({"stage": stage, "wall_s": float(r["s"]),
                         "cpu_s": pd.to_numeric(r.get("cpu_time"), errors="coerce"),
                         "max_rss_mb": pd.to_numeric(r.get("max_rss"), errors="coerce")})
    if not rows:
        return pd.DataFrame(columns=["stage", "jobs", "wall_s", "cpu_s", "max_rss_mb"])
    jobs = pd.DataFrame(rows)
    out = jobs.groupby("stage", sort=False).agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"),
                                                cpu_s=("cpu_s", "sum"), max_rss_mb=("max_rss_mb", "max"))
    return out.reset_index().round({"wall_s": 1, "cpu_s": 1, "max_rss_mb": 0})


def collect(preset, benchmarks: str | Path, cores: int | None = None, root: str | Path = ".") -> dict:
    """Everything needed to say how a preset's results were made (JSON-serialisable)."""
    from .model import package_versions

    stages = stage_times(benchmarks)
    return {
        "preset": preset.name,
        "preset_file": preset.source,
        "preset_digest": preset.digest(),
        **git_state(root),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores_used": cores, "cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "packages": package_versions(),
        "stages": stages.to_dict(orient="records"),
        "total_job_wall_s": round(float(stages["wall_s"].sum()), 1) if len(stages) else 0.0,
        "note": "wall_s sums the jobs of a stage; jobs of a stage may have run side by side on cores_used cores",
    }
