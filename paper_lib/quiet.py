"""TensorFlow without its start-up noise, for the command line and the explorer.

TensorFlow 2.21 writes C++ log lines to the process's standard error (file descriptor 2) while it is
imported: ``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR``
and ``I0000 ... port.cc:153] oneDNN custom operations are on ...``, once per shared library. Abseil
writes them before its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` does not stop them
(measured: levels 1, 2 and 3 all print them). :func:`import_tensorflow` sets ``TF_CPP_MIN_LOG_LEVEL``
to 3 unless the user has set it, imports Keras (and with it TensorFlow) with descriptor 2 sent to a
temporary file, then writes back every captured line except the log lines that level should have
hidden (so with the user's ``TF_CPP_MIN_LOG_LEVEL=0`` everything shows, and other output, a
traceback say, always does). It also turns absl's Python logging down to errors and ignores the
Python warnings that Keras and TensorFlow raise on their own (modules ``keras``, ``tensorflow``,
``absl``).

``import_tensorflow(verbose=True)`` changes nothing: TensorFlow logs as it would.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings

#: absl/glog-format log lines (``I0000 00:00:1795813762.459587   10514 port.cc:153] ...``): severity
#: I, W, E or F, then the message; absl's pre-initialisation notice; the continuation line of
#: TensorFlow's CPU-feature notice (an INFO message)
LOG_LINE = re.compile(r"(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+:\d+\] .*")
PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CPU_FEATURES = re.compile(r"To enable the following instructions: .*rebuild TensorFlow with the appropriate "
                          r"compiler flags\.")
#: TF_CPP_MIN_LOG_LEVEL's meaning: lines of a severity below the level are not shown
LEVEL = {"I": 0, "W": 1, "E": 2, "F": 3}

_NOISY_MODULES = r"(keras|tensorflow|absl|tf_keras)(\.|$)"


def is_noise(line: str, level: int = 3) -> bool:
    """Whether ``line`` (one line of standard error, without its newline) is a TensorFlow log line
    that ``TF_CPP_MIN_LOG_LEVEL=level`` should have hidden (0 shows all, 1 hides INFO, 2 also
    WARNING, 3 also ERROR; FATAL lines are always shown)."""
    line = line.rstrip("\r")
    found = LOG_LINE.fullmatch(line)
    if found:
        return LEVEL[found["severity"]] < min(level, 3)
    return level >= 1 and (line == PRE_INIT or CPU_FEATURES.fullmatch(line) is not None)


def _level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def import_tensorflow(verbose: bool = False) -> None:
    """Import Keras and TensorFlow; unless ``verbose``, without their start-up log lines (see the
    module's text). Does nothing to the output when they are imported already."""
    if verbose or "keras" in sys.modules:
        import keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", module=_NOISY_MODULES)
    captured = _import_capturing_fd2()
    level = _level()
    kept = [line for line in captured.splitlines() if line.strip() and not is_noise(line, level)]
    if kept:
        sys.stderr.write("\n".join(kept) + "\n")
        sys.stderr.flush()
    silence_absl()


def silence_absl() -> None:
    """absl's and TensorFlow's Python loggers: errors only."""
    import logging

    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:        # absl comes with TensorFlow; nothing to silence without it
        pass
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _import_capturing_fd2() -> str:
    """Import keras with file descriptor 2 sent to a temporary file; returns what was written there
    (decoded as UTF-8, bad bytes replaced). Without a usable descriptor 2 it imports plainly."""
    try:
        saved = os.dup(2)
    except OSError:
        import keras  # noqa: F401

        return ""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode("utf-8", errors="replace")
