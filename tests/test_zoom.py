"""One field of view per shot (``pano.planning.zoom``): held through wobble, eased when what the shot
holds changes, switched at once at a cut, always inside the range."""

from __future__ import annotations

import numpy as np

from pano.planning.zoom import shot_fovs

FPS = 30.0


def test_a_wobbling_want_keeps_one_field_of_view():
    rng = np.random.default_rng(0)
    want = 70.0 + 3.0 * rng.standard_normal(300)  # ±3° is under the 10% that would change the shot
    out = shot_fovs(want, np.zeros(0, int), FPS, 65.5, 46.0, 104.0)
    assert np.ptp(out) == 0.0


def test_a_lasting_change_is_eased_and_a_cut_switches_at_once():
    want = np.r_[np.full(150, 60.0), np.full(150, 90.0), np.full(150, 50.0)]
    out = shot_fovs(want, np.array([300]), FPS, 65.5, 46.0, 104.0)
    assert np.all(out[:150] == 60.0) and abs(out[299] - 90.0) < 1e-9
    steps = np.abs(np.diff(out[140:300]))
    assert steps.max() < 30.0 / FPS * 1.6  # eased over about a second, no jump
    assert steps[:5].max() < 0.2 and steps[-5:].max() < 0.2  # starts and stops softly
    assert out[300] == 50.0  # the new shot starts at its own field of view


def test_wants_outside_the_range_are_clipped_and_nan_means_the_nominal_view():
    out = shot_fovs(np.r_[np.full(60, np.nan), np.full(60, 150.0)], np.array([60]), FPS, 65.5, 46.0, 104.0)
    assert np.all(out[:60] == 65.5) and np.all(out[60:] == 104.0)
