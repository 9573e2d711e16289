"""Frames where the tracked person is missing: fill short gaps by interpolation, flag them, leave long ones out."""

from __future__ import annotations

import numpy as np

INTERPOLATED_CONF_SCALE = 0.5
"""An interpolated joint's confidence is this times the lower of its confidences on the two sides of the gap."""


def fill_gaps(kp2d_px: np.ndarray, conf: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate runs of at most ``max_gap`` frames without the person (every joint at confidence 0).

    Args:
        kp2d_px: ``(T, J, 2)`` pixels; conf: ``(T, J)``.
        max_gap: longest run (frames) to fill; longer runs, and runs at either end, keep confidence 0.

    Returns:
        ``kp2d_px``, ``conf`` (copies) and ``interpolated (T,)`` bool flags. A filled joint is linear between
        the frames on both sides, with confidence :data:`INTERPOLATED_CONF_SCALE` times the lower of the two.
    """
    kp = np.array(kp2d_px, dtype=np.float32, copy=True)
    c = np.array(conf, dtype=np.float32, copy=True)
    T = c.shape[0]
    flags = np.zeros(T, dtype=bool)
    present = (c > 0).any(axis=1)  # (T,)
    t = 0
    while t < T:
        if present[t]:
            t += 1
            continue
        end = t
        while end < T and not present[end]:
            end += 1
        before, after = t - 1, end  # frames with the person on both sides (if in range)
        if before >= 0 and after < T and end - t <= max_gap:
            w = ((np.arange(t, end) - before) / (after - before))[:, None]  # (gap, 1)
            both = (c[before] > 0) & (c[after] > 0)  # (J,)
            kp[t:end] = (1 - w[..., None]) * kp[before] + w[..., None] * kp[after]
            kp[t:end, ~both] = 0.0
            c[t:end] = np.where(both, INTERPOLATED_CONF_SCALE * np.minimum(c[before], c[after]), 0.0)
            flags[t:end] = True
        t = end
    return kp, c, flags
