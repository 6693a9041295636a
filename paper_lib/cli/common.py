"""What several sub-commands share: argument types, the fingerprint options, output helpers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {value}")
    return value


def structure_format(text: str) -> str:
    from ..io import format_problem

    problem = format_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N (e.g. 0/8), got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= K < N")
    return k, n


def add_fingerprint_options(p) -> None:
    """--mask-inner-px, --mask-outer-px, --z-shift, --angle-deg, --preprocessing, --intensity,
    --target-atoms."""
    from ..diffraction import ANGLE_DEG, INTENSITY_SCALES, MASK_INNER_PX, Z_SHIFT
    from ..preprocessing import METHODS

    none_or_float = lambda t: None if t.lower() == "none" else float(t)  # noqa: E731
    p.add_argument("--mask-inner-px", type=none_or_float, default=MASK_INNER_PX,
                   help=f"radius (px) of the central disc zeroed (default {MASK_INNER_PX}; 'none')")
    p.add_argument("--mask-outer-px", type=none_or_float, default=None,
                   help="zero pixels at or beyond this radius (px) (default none; reference code: 30)")
    p.add_argument("--z-shift", type=int, default=Z_SHIFT, help=f"raise Z by this (default {Z_SHIFT})")
    p.add_argument("--angle-deg", type=float, default=ANGLE_DEG,
                   help=f"rotation about x, y, z per channel (default {ANGLE_DEG:g} deg)")
    p.add_argument("--preprocessing", choices=METHODS,
                   help="paper2018 (the paper's; database rows taken as given) or crystal_frame "
                        "(each row's own crystal frame and length scale, a sphere of --target-atoms); "
                        "default: what the database rows record, else paper2018")
    p.add_argument("--intensity", choices=INTENSITY_SCALES,
                   help="intensity scale before the min-max normalisation: linear (the paper's) or log; "
                        "default: what the database rows record, else linear")
    p.add_argument("--target-atoms", type=at_least_two,
                   help="atoms of the average crystal in the cluster (crystal_frame only; default: "
                        "what the rows record, else 250)")


def check_names(values, what: str, source) -> None:
    """Every distinct name of ``values`` (that becomes part of a file name) checked, naming ``source``."""
    from ..paths import safe_name

    for value in sorted(set(map(str, values))):
        safe_name(value, what, str(source))


def write_summary(summary, out, confusion: bool, recall_name: str) -> None:
    """accuracy table at ``out``, per-class recall and (optionally) confusion matrices beside it.
    Every file name is built (and checked) before anything is written."""
    from ..io import atomic_path
    from ..paths import child, safe_name

    out_dir = Path(out).parent
    tables = []
    if confusion:
        for (method, defect, level), table in summary.confusion.items():
            name = f"{safe_name(method, 'method name')}_{safe_name(defect, 'defect name')}_{level:g}.csv"
            tables.append((child(out_dir / "confusion", name, what="file name"), table))
    with atomic_path(out) as tmp:
        summary.accuracy.to_csv(tmp, index=False)
    with atomic_path(child(out_dir, recall_name, what="file name")) as tmp:
        summary.recall.to_csv(tmp, index=False)
    for path, table in tables:
        with atomic_path(path) as tmp:
            table.to_csv(tmp)


def write_csv(table, out) -> None:
    """A table as CSV at ``out`` (atomically), without its index."""
    from ..io import atomic_path

    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)


def print_now(line: str) -> None:
    """A line on stdout, flushed, without breaking a progress bar on the terminal."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()
