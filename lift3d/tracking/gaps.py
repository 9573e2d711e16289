"""Missing 2D (confidence 0): fill short gaps by interpolation, flag frames without the person, leave long gaps out.

A gap is a run of frames in which one joint has confidence 0: the whole person lost by the tracker (every
joint at once), or one joint a detector dropped. The lifters see a missing joint as coordinates 0 with
confidence 0 and were trained to infer it, but they do that badly from scattered single-frame drops: on the
held-out test set, noisy 2D with 30% of the joints of every frame dropped cost the single-stride lifter
``cf942f458912`` 12.1 mm MPJPE (93.8 against 81.7), and filling the gaps first took 10.2 mm of that back (83.6;
BENCHMARKS.md, ``gap_filling``). The shipped multi-stride lifter fills masked joints itself from nearby frames
(``TCNConfig.fill``) and gains less from it (79.0 to 78.6 mm).
"""

from __future__ import annotations

import numpy as np

INTERPOLATED_CONF_SCALE = 0.5
"""An interpolated joint's confidence is this times the lower of its confidences on the two sides of the gap."""

MAX_GAP_S = 1.0
"""Default longest gap (seconds) that ``lift3d infer`` interpolates: the best on average on the val split over
joints dropped in single frames and in runs of 8 and 30 frames (tools/bench/bench_gaps.py)."""


def fill_gaps(kp2d_px: np.ndarray, conf: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate each joint across its runs of at most ``max_gap`` frames at confidence 0.

    Args:
        kp2d_px: ``(T, J, 2)`` pixels; conf: ``(T, J)``.
        max_gap: longest run (frames) to fill, per joint; longer runs, and runs at either end of the sequence,
            keep confidence 0 (0 fills nothing).

    Returns:
        ``kp2d_px``, ``conf`` (copies) and ``interpolated (T,)``: frames without the person (every joint at
        confidence 0) that were filled. A filled joint is linear between the frames on both sides of its
        gap, with confidence :data:`INTERPOLATED_CONF_SCALE` times the lower of the two.
    """
    kp = np.array(kp2d_px, dtype=np.float32, copy=True)
    c = np.array(conf, dtype=np.float32, copy=True)
    T, J = c.shape
    absent = ~(c > 0).any(axis=1)  # (T,) frames without the person, before filling
    if max_gap < 1 or T < 3:
        return kp, c, np.zeros(T, dtype=bool)
    for j in range(J):
        missing = ~(c[:, j] > 0)
        if not missing[1:-1].any():
            continue
        # Runs of missing frames: starts where missing begins, ends one past where it stops.
        edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            before, after = start - 1, end  # observed frames on both sides (if in range)
            if before < 0 or after >= T or end - start > max_gap:
                continue
            w = ((np.arange(start, end) - before) / (after - before))[:, None]  # (gap, 1)
            kp[start:end, j] = (1 - w) * kp[before, j] + w * kp[after, j]
            c[start:end, j] = INTERPOLATED_CONF_SCALE * min(c[before, j], c[after, j])
    return kp, c, absent & (c > 0).any(axis=1)
