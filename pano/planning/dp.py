"""The AutoCam path search: per-block candidate scores and a streaming Viterbi over them.

* **coarse time** — a 10° grid at 30 fps with a 60°/s limit means 2° per frame, less than one grid
  step, so a per-frame DP could never move. The DP runs on blocks of ``k`` frames with
  ``k · max_step ≥`` grid spacing; block scores are sums over the block, and transitions go only to
  candidates within ``max_speed · k / fps`` degrees (great circle, so the ±180° seam is not special).
* **motion cost** — a small penalty per degree keeps the camera still when nothing is gained by moving
  (silence, ties) and makes it take the short way round.
* **cuts** — a transition further than ``max_speed · max_pan_time`` may jump, at a fixed cost, instead
  of panning for longer than that.

Memory per block of ``k`` frames: C scores + 3·C moments (float32), C back-pointers (int16).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


def block_frames(spacing: float, max_speed: float, fps: float) -> int:
    """Frames per DP block: enough that one block's reach at ``max_speed`` spans the grid ``spacing``."""
    return max(1, int(np.ceil(spacing / (max_speed / fps) - 1e-9)))


class BlockScores:
    """Per-block sums of what each candidate view captured (scores, saliency moments, vote weight).

    Frames arrive in batches; ``add`` fills the open block and returns the scores of the blocks it
    closed (each the sum over its ``k`` frames), so the DP can step once per closed block.
    """

    def __init__(self, n_cand: int, k: int) -> None:
        self.k = k
        self.score: list[np.ndarray] = []  # per closed block: (C,) float32
        self.mom: list[np.ndarray] = []  # (C, 3) float32
        self.w: list[float] = []  # the block's total vote
        self._score = np.zeros(n_cand, np.float64)
        self._mom = np.zeros((n_cand, 3), np.float64)
        self._w = 0.0
        self.open_frames = 0

    def __len__(self) -> int:
        return len(self.w)

    def add(self, scores: np.ndarray, moms: np.ndarray, vote: np.ndarray) -> list[np.ndarray]:
        """Add frames: ``scores`` (C, B), ``moms`` (3, C, B), ``vote`` (B,); the closed blocks' scores."""
        closed = []
        b, i = len(vote), 0
        while i < b:  # fill the open block, closing it whenever k frames are in
            m = min(self.k - self.open_frames, b - i)
            self._score += scores[:, i : i + m].sum(axis=1)
            self._mom += moms[:, :, i : i + m].sum(axis=2).T
            self._w += float(vote[i : i + m].sum())
            self.open_frames += m
            i += m
            if self.open_frames == self.k:
                closed.append(self.close())
        return closed

    def close(self) -> np.ndarray:
        """Close the open block (also a partial one at the end); its scores as float64."""
        self.score.append(self._score.astype(np.float32))
        self.mom.append(self._mom.astype(np.float32))
        self.w.append(self._w)
        self._score = np.zeros_like(self._score)
        self._mom = np.zeros_like(self._mom)
        self._w, self.open_frames = 0.0, 0
        return self.score[-1].astype(np.float64)


class Viterbi:
    """Streaming Viterbi over candidate views, one ``forward`` step per block.

    ``dist`` (C, C) great-circle degrees between candidates; a step may go to any candidate within
    ``reach`` at ``motion_cost`` per degree, or (``cut_dist`` given) jump further than ``cut_dist`` at
    ``cut_cost``. ``prior`` is added to the first block's scores only (a tie-break).
    """

    def __init__(
        self, dist: np.ndarray, reach: float, motion_cost: float, prior: np.ndarray,
        cut_dist: float | None = None, cut_cost: float = 0.0,
    ) -> None:
        self.dist, self.reach, self.prior, self.cut_cost = dist, reach, prior, cut_cost
        allowed = dist <= reach + 1e-6
        width = int(allowed.sum(axis=1).max())
        order = np.argsort(~allowed, axis=1, kind="stable")[:, :width]
        self._nbr = order.astype(np.int64)
        ok = np.take_along_axis(allowed, order, axis=1)
        self._nbr_cost = np.where(ok, motion_cost * np.take_along_axis(dist, order, axis=1), np.inf)
        self._far = dist > cut_dist if cut_dist is not None else None
        self.value: np.ndarray | None = None
        self.bp: list[np.ndarray] = []
        self._bp_dtype = np.int16 if len(dist) < 2**15 else np.int32

    def __len__(self) -> int:
        return len(self.bp)

    def forward(self, score: np.ndarray) -> None:
        """One Viterbi step: best predecessor within reach (or a cut), plus this block's score."""
        if self.value is None:
            self.value = score + self.prior
            self.bp.append(np.full(len(score), -1, self._bp_dtype))
            return
        if not score.any():  # silence: nothing to gain, so nobody moves (no drift, no pre-panning)
            self.bp.append(np.arange(len(score), dtype=self._bp_dtype))
            return
        cand = self.value[self._nbr] - self._nbr_cost
        best = np.argmax(cand, axis=1)
        val = cand[np.arange(len(score)), best]
        bp = self._nbr[np.arange(len(score)), best]
        if self._far is not None:
            far_val = np.where(self._far, self.value[None, :], -np.inf)
            far_best = np.argmax(far_val, axis=1)
            fv = far_val[np.arange(len(score)), far_best] - self.cut_cost
            use = fv > val
            val = np.where(use, fv, val)
            bp = np.where(use, far_best, bp)
        v = val + score
        self.value = v - v.max()
        self.bp.append(bp.astype(self._bp_dtype))

    def backtrack(self, n_decided: int, upto: int) -> list[int]:
        """Candidates of blocks [n_decided, upto) traced back from the current best end state."""
        n = len(self.bp)
        path = [0] * n
        c = int(np.argmax(self.value))
        for i in range(n - 1, n_decided - 1, -1):
            path[i] = c
            if i > 0:
                c = int(self.bp[i][c])
        return path[n_decided:upto] if upto <= n else path[n_decided:]


class BlockPath(Mapping):
    """Candidate per block: the decided ones, then ``cands`` from ``first`` on (they override from there).

    A view, not a copy: a streaming plan looks up a few blocks around its window on every step, and
    copying every decided block each time made that quadratic in the video's length.
    """

    def __init__(self, decided: list[int], cands: list[int], first: int) -> None:
        self.decided, self.cands, self.first = decided, cands, first

    def __getitem__(self, b: int) -> int:
        if self.first <= b < self.first + len(self.cands):
            return self.cands[b - self.first]
        if 0 <= b < len(self.decided):
            return self.decided[b]
        raise KeyError(b)

    def __iter__(self) -> Iterator[int]:
        return (b for b in range(max(len(self.decided), self.first + len(self.cands))) if b in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)
