"""How many threads one job may use, so that N jobs side by side never oversubscribe the cores.

Every library in a run starts its own pool sized to the whole machine: FFmpeg's decoder and x264
(``thread_count=0``), OpenCV, the BLAS under NumPy and SciPy, OpenMP under PyTorch. One run alone is
fine with that; ``pano-pan batch --jobs 4`` on 8 cores would then run 4 × 8 threads of each kind and
lose time to switching. A *thread budget* caps all of them per job. It travels as environment
variables, because the BLAS and OpenMP pools read theirs once at import (so a worker process must get
them before it imports NumPy), a spawned worker or a Ray task inherits them, and the decoder and
encoder read ``PANO_PAN_THREADS`` (:func:`codec_threads`) when they open a stream.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

BUDGET_VAR = "PANO_PAN_THREADS"
# The pools that read an environment variable when their library loads.
POOL_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (a Slurm or cgroup CPU set counts, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def per_job(jobs: int, cores: int | None = None) -> int:
    """Threads for each of ``jobs`` side-by-side jobs: an equal share of the cores, at least one."""
    return max(1, (cores or available_cores()) // max(1, jobs))


def budget_env(threads: int) -> dict[str, str]:
    """The environment that caps every pool of a job at ``threads``."""
    return {BUDGET_VAR: str(threads), **{name: str(threads) for name in POOL_VARS}}


@contextlib.contextmanager
def budget_environment(threads: int) -> Iterator[None]:
    """The budget's environment for the block only: a child process started inside inherits it, and
    the calling process (a library user, a test) keeps its own."""
    saved = {name: os.environ.get(name) for name in budget_env(threads)}
    os.environ.update(budget_env(threads))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def apply_budget(threads: int) -> None:
    """Cap this process at ``threads``: the environment (pools not yet loaded, children) and the
    pools already running (OpenCV, PyTorch if imported)."""
    os.environ.update(budget_env(threads))
    import cv2

    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def budget() -> int | None:
    """This process's thread budget, or None when none was set (a plain ``pano-pan run``)."""
    try:
        value = int(os.environ.get(BUDGET_VAR, ""))
    except ValueError:
        return None
    return value if value >= 1 else None


def codec_threads() -> int:
    """FFmpeg's ``thread_count`` for a decoder or encoder: the budget, else 0 (FFmpeg's own choice)."""
    return budget() or 0
