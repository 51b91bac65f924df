"""``--engine ray``: one Ray task per video, on a running Ray cluster or a local Ray instance.

Ray is the scheduler (placement, retries of lost nodes, the dashboard); pano-pan only asks for
``num_cpus`` = the thread budget per task and passes the budget's environment to the workers, so the
cluster's CPU accounting and the threads each task starts agree. The driver (the ``pano-pan batch``
process) keeps the manifest: it claims a video before submitting it and records the result, so
tasks never touch SQLite and a task lost with its node is redone by the next batch. Every node needs
pano-pan installed and OUTDIR and the inputs at the same paths (a shared file system).
"""

from __future__ import annotations

import time

from common.errors import OptionError
from common.threads import budget_env, per_job

DEFAULT_THREADS = 2


def _task(task: dict, threads: int) -> dict:
    from common.threads import apply_budget
    from pano.batch.job import run_video

    apply_budget(threads)
    return run_video(task)


class RayEngine:
    name = "ray"

    def __init__(self, jobs: int | None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise OptionError("--engine ray needs Ray: pip install 'pano-pan[ray]' (or pip install ray)") from None
        self.ray = ray
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"include_dashboard": False}
            ray.init(log_to_driver=False, **kwargs)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # --jobs N: N tasks at a time sharing the cluster's CPUs; else as many 2-thread tasks as fit (a
        # run keeps about two cores busy: decoding and rendering, and encoding on its writer thread).
        self.threads = per_job(jobs, cpus) if jobs else min(DEFAULT_THREADS, cpus)
        self.jobs = jobs or max(1, cpus // self.threads)
        self.env = budget_env(self.threads)
        self.remote = ray.remote(_task).options(num_cpus=self.threads, max_retries=0,
                                                runtime_env={"env_vars": self.env})
        self.refs: dict = {}  # ObjectRef -> key

    def free(self) -> int:
        return self.jobs - len(self.refs)

    def submit(self, task: dict) -> None:
        self.refs[self.remote.remote(task, self.threads)] = task["key"]

    def poll(self, timeout: float) -> list[tuple[str, str, object]]:
        if not self.refs:
            time.sleep(min(timeout, 0.05))
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=timeout)
        out = []
        for ref in ready:
            key = self.refs.pop(ref)
            try:
                result = self.ray.get(ref)
            except Exception as exc:  # the task's worker or node died: this video's failure only
                result = {"key": key, "ok": False,
                          "reason": " ".join(f"the Ray task failed ({type(exc).__name__}: {exc})".split())[:400]}
            out.append(("result", key, result))
        return out

    def close(self, interrupted: bool = False) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref, force=True)
        self.refs.clear()
