"""An editor's rules on the DP's path: which block changes are cuts, and which cuts to take back.

The DP may jump (cut) instead of panning for longer than ``max_pan_time``. An editor then applies: no
shot shorter than ``min_shot`` seconds and no cut to a view whose sound lasts less than ``min_sound``
seconds; such a shot is given back to the one before it, which also rules out cutting back and forth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pano.planning.dp import BlockScores


@dataclass(frozen=True)
class EditRules:
    """What the editor needs: candidate distances, one block's reach, and the rules' thresholds."""

    dist: np.ndarray  # (C, C) degrees between candidates
    reach: float  # degrees a pan covers in one block; further is a cut
    block_seconds: float
    min_shot: float
    min_sound: float
    cut_reach: float  # max_speed · max_pan_time: the shortest cut

    def is_jump(self, a: int, b: int) -> bool:
        """Whether going from candidate ``a`` to ``b`` between two blocks is further than a pan can go."""
        return bool(self.dist[a, b] > self.reach + 1e-6)


def is_cut(
    rules: EditRules, cands: Mapping[int, int], blocks: BlockScores, b: int, framed: dict[int, tuple] | None = None
) -> bool:
    """Whether the move from block b to b+1 is a cut (further than one block's reach); never inside a
    two-shot (``framed``), where the DP's jump from one talker to the other leaves the aim in place."""
    if b < 0 or b not in cands or b + 1 not in cands:
        return False
    if not rules.is_jump(cands[b], cands[b + 1]):
        return False
    if framed and b + 1 in framed:
        a = b
        while a > 0 and a not in framed and blocks.w[a] <= 0:  # silence holds the aim before it
            a -= 1
        if a in framed and float(framed[a][0] @ framed[b + 1][0]) > np.cos(np.radians(1.0)):
            return False
    return True


def edit_shots(rules: EditRules, decided: list[int], cands: list[int], blocks: BlockScores) -> list[int]:
    """The editor's rules on the DP's cuts, for the undecided blocks ``cands`` after ``decided``.

    A shot that starts with a cut and is shorter than ``min_shot``, or whose view holds its sound for
    less than ``min_sound``, is given back to the shot before it (the camera holds instead of
    cutting away and back). Repeated until no such shot is left.
    """
    if not cands:
        return cands
    first = len(decided)
    path = decided + list(cands)
    sec = rules.block_seconds
    min_blocks = int(np.ceil(rules.min_shot / sec - 1e-9))

    def heard(b0: int, b1: int) -> float:
        """Seconds of blocks in [b0, b1) in which the shot's view holds confident sound."""
        n = 0
        for b in range(b0, b1):
            w = blocks.w[b] if b < len(blocks.w) else 0.0
            if w > 0 and float(blocks.score[b][path[b]]) / w >= 0.3:
                n += 1
        return n * sec

    changed = True
    while changed:
        changed = False
        starts = [b for b in range(max(first, 1), len(path)) if rules.is_jump(path[b - 1], path[b])]
        for i, b in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(path)
            if end - b < min_blocks or heard(b, end) < rules.min_sound:
                # Only where the camera can then go on from the held view without a jump cut: to the
                # next shot by a pan within reach, or by a cut that is itself far enough.
                gap = rules.dist[path[b - 1], path[end]] if end < len(path) else 0.0
                if end < len(path) and rules.reach + 1e-6 < gap <= rules.cut_reach:
                    continue
                path[b:end] = [path[b - 1]] * (end - b)
                changed = True
                break
    return path[first:]
