"""The real-video lifter comparison measures thighs as the video plausibility check does."""

from __future__ import annotations

import numpy as np

from lift3d.skeletons import H36M17
from tool_scripts import load_tool

bench = load_tool("bench/bench_lifters_real")


def _clip(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """``(T, 17, 3)`` poses whose knees hang straight below the hips by the given per-frame thigh lengths."""
    pose = np.zeros((len(right), 17, 3))
    for (hip, knee), length in ((("r_hip", "r_knee"), right), (("l_hip", "l_knee"), left)):
        pose[:, H36M17.index(hip)] = [0.1, 0.0, 0.0]
        pose[:, H36M17.index(knee)] = np.stack([np.full_like(length, 0.1), length, np.zeros_like(length)], -1)
    return pose


def test_thighs_median_and_variation():
    right = np.array([0.40, 0.42, 0.38, 0.40, 0.40])
    left = np.array([0.35, 0.35, 0.35, 0.35, 0.35])
    (r_med, r_cv), (l_med, l_cv) = bench.thighs(_clip(right, left))
    assert np.isclose(r_med, 0.40) and np.isclose(r_cv, right.std() / right.mean())
    assert np.isclose(l_med, 0.35) and np.isclose(l_cv, 0.0)


def test_passes_needs_both_thighs_in_range_and_steady():
    steady = np.full(10, 0.4)
    assert bench.passes(bench.thighs(_clip(steady, steady)))
    assert not bench.passes(bench.thighs(_clip(steady, np.full(10, 0.29))))  # below the 0.3 m floor
    assert not bench.passes(bench.thighs(_clip(np.full(10, 0.61), steady)))  # above the ceiling
    shaky = np.tile([0.3, 0.5], 5)  # median 0.4 but varies by a quarter
    assert not bench.passes(bench.thighs(_clip(steady, shaky)))
