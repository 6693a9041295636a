"""Command line: ``paper-lib <step> ...`` or ``python -m paper_lib <step> ...`` (one sub-command per
stage of the data flow).

Each sub-command is a module of this package with a class ``CLICommand``: its docstring is the
command's one-line help, ``add_arguments(parser)`` declares its arguments and ``run(args)`` calls the
library and prints (it returns the exit status). :data:`COMMANDS` lists them in the order of the
help; :func:`main` assembles them.

Results go to stdout, messages, warnings and errors to stderr. Without ``--verbose``, TensorFlow's
C++ and absl log lines and Keras's own warnings are kept out (:mod:`paper_lib.quiet`). Long steps
show a progress bar on stderr (structures, fingerprints, train, evaluate, baselines, classify,
augment); off a terminal the bars update every 30 s, for log files (classify: only with
``--progress``), and training prints one line per epoch.
"""
from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

#: sub-command -> its module in this package, in the order of the help
COMMANDS = [
    ("structures", "structures"),
    ("merge-structures", "merge_structures"),
    ("fingerprints", "fingerprints"),
    ("merge-fingerprints", "merge_fingerprints"),
    ("render", "render"),
    ("train", "train"),
    ("augment", "augment"),
    ("evaluate", "evaluate"),
    ("baselines", "baselines"),
    ("score", "score"),
    ("real-crystals", "real_crystals"),
    ("provenance", "provenance"),
    ("classify", "classify"),
    ("classify-local", "classify_local"),
    ("local-maps", "local_maps"),
]

#: sub-commands that run TensorFlow (``fingerprints`` too with ``--backend tensorflow`` or ``auto``)
TENSORFLOW_COMMANDS = {"train", "evaluate", "classify", "real-crystals"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(),
                                     description="Crystal-structure classification from diffraction "
                                                 "fingerprints (Ziletti et al. 2018).")
    parser.add_argument("--version", action="version", version=f"paper-lib {version()}")
    verbose_help = "show TensorFlow's C++ and absl log lines and Keras's warnings (default: kept out)"
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    common = argparse.ArgumentParser(add_help=False)     # --verbose after the command works too
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS:
        command = import_module(f"{__name__}.{module}").CLICommand
        sub = subparsers.add_parser(name, parents=[common], help=command.__doc__)
        command.add_arguments(sub)
        sub.set_defaults(func=command.run)
    return parser


def version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("paper_lib")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


def _prog() -> str:
    return "paper-lib" if Path(sys.argv[0]).name == "paper-lib" else "python -m paper_lib"


def main(argv=None) -> int:
    from ..config import ConfigError
    from ..quiet import import_tensorflow

    args = build_parser().parse_args(argv)
    if args.command in TENSORFLOW_COMMANDS or getattr(args, "backend", "numba") != "numba":
        # now, before any command imports it: without --verbose its start-up log lines are kept out
        import_tensorflow(verbose=args.verbose)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
