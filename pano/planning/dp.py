"""The AutoCam path search: per-block candidate scores and a streaming Viterbi over them.

* **coarse time** — a 10° grid at 30 fps with a 60°/s limit means 2° per frame, less than one grid
  step, so a per-frame DP could never move. The DP runs on blocks of ``k`` frames with
  ``k · max_step ≥`` grid spacing; block scores are sums over the block, and transitions go only to
  candidates within ``max_speed · k / fps`` degrees (great circle, so the ±180° seam is not special).
* **motion cost** — a small penalty per degree keeps the camera still when nothing is gained by moving
  (silence, ties) and makes it take the short way round.
* **cuts** — a transition further than ``max_speed · max_pan_time`` may jump, at a fixed cost, instead
  of panning for longer than that.

Memory: the path is decided at the end of the video, and the decisions read any block's scores, so
every block's C scores + 3·C moments (float32) and C back-pointers (int16) are kept, about 4.5 KB per
block of ``k`` frames (a third of a gigabyte for two hours). They are kept in :class:`SpilledRows`, a
temporary file read back a chunk at a time, so resident memory stays a few chunks whatever the duration.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator, Mapping

import numpy as np

SPILL_ROWS = 512  # rows per chunk held in memory (about 2 MB of score + moment rows)


class SpilledRows:
    """An append-only sequence of equal-shaped arrays kept in a temporary file, ``rows[i]`` read back.

    Rows are buffered ``chunk`` at a time and written out when a chunk is full; reads load the whole
    chunk (seek + read, not a memmap: mapped pages would count as resident memory and grow with the
    video) and keep the last few, because the planner reads blocks in runs. The file has no name and
    disappears when closed or when the process ends, however it ends.
    """

    def __init__(self, shape: tuple[int, ...], dtype: type | np.dtype, chunk: int | None = None,
                 cached: int = 2) -> None:
        chunk = chunk or SPILL_ROWS
        self.shape, self.dtype, self.chunk, self.cached = tuple(shape), np.dtype(dtype), chunk, cached
        self._row_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self._buf = np.empty((chunk, *self.shape), self.dtype)
        self._fill = 0
        self._flushed = 0  # rows in the file (whole chunks)
        self._fh = None
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self._flushed + self._fill

    def append(self, row: np.ndarray) -> None:
        self._buf[self._fill] = row
        self._fill += 1
        if self._fill == self.chunk:
            if self._fh is None:
                self._fh = tempfile.TemporaryFile(prefix="pano-pan-dp-")  # noqa: SIM115 (closed in close())
            self._fh.seek(self._flushed * self._row_bytes)
            self._fh.write(self._buf.tobytes())
            self._flushed += self.chunk
            self._fill = 0

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i >= self._flushed:
            return self._buf[i - self._flushed]
        c = i // self.chunk
        rows = self._cache.get(c)
        if rows is None:
            self._fh.seek(c * self.chunk * self._row_bytes)
            data = self._fh.read(self.chunk * self._row_bytes)
            rows = np.frombuffer(data, self.dtype).reshape(self.chunk, *self.shape)
            if len(self._cache) >= self.cached:
                self._cache.pop(next(iter(self._cache)))
            self._cache[c] = rows
        return rows[i - c * self.chunk]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._cache.clear()


def block_frames(spacing: float, max_speed: float, fps: float) -> int:
    """Frames per DP block: enough that one block's reach at ``max_speed`` spans the grid ``spacing``."""
    return max(1, int(np.ceil(spacing / (max_speed / fps) - 1e-9)))


class BlockScores:
    """Per-block sums of what each candidate view captured (scores, saliency moments, vote weight).

    Frames arrive in batches; ``add`` fills the open block and returns the scores of the blocks it
    closed (each the sum over its ``k`` frames), so the DP can step once per closed block.
    """

    def __init__(self, n_cand: int, k: int, chunk: int | None = None) -> None:
        self.k = k
        self.score = SpilledRows((n_cand,), np.float32, chunk)  # per closed block: (C,)
        self.mom = SpilledRows((n_cand, 3), np.float32, chunk)  # (C, 3)
        self.w = array("d")  # the block's total vote
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
        score = self._score.astype(np.float32)
        self.score.append(score)
        self.mom.append(self._mom.astype(np.float32))
        self.w.append(self._w)
        self._score = np.zeros_like(self._score)
        self._mom = np.zeros_like(self._mom)
        self._w, self.open_frames = 0.0, 0
        return score.astype(np.float64)

    def close_files(self) -> None:
        """Drop the spilled scores (the plan is made)."""
        self.score.close()
        self.mom.close()


class Viterbi:
    """Streaming Viterbi over candidate views, one ``forward`` step per block.

    ``dist`` (C, C) great-circle degrees between candidates; a step may go to any candidate within
    ``reach`` at ``motion_cost`` per degree, or (``cut_dist`` given) jump further than ``cut_dist`` at
    ``cut_cost``. ``prior`` is added to the first block's scores only (a tie-break).
    """

    def __init__(
        self, dist: np.ndarray, reach: float, motion_cost: float, prior: np.ndarray,
        cut_dist: float | None = None, cut_cost: float = 0.0, chunk: int | None = None,
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
        self._bp_dtype = np.int16 if len(dist) < 2**15 else np.int32
        self.bp = SpilledRows((len(dist),), self._bp_dtype, chunk)  # per block: each state's predecessor

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
        for i in range(n - 1, n_decided - 1, -1):  # backwards: each spilled chunk is read once
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
