"""Realistic 2D detector noise, outliers and dropouts for projected mocap joints.

Noise model (per view, per take):
- Each COCO keypoint gets Gaussian noise with standard deviation ``level * sigma_k * s`` per image axis,
  where ``sigma_k`` is COCO's per-keypoint constant (the spread of human annotators relative to object
  scale, Ronchi & Perona ICCV 2017; cocoapi ``COCOeval``) and ``s`` is the person's scale in that frame
  (square root of the area of the joints' bounding box). Half of the variance is white (frame-to-frame
  jitter) and half is temporally smooth (a Gaussian-filtered random walk of ``smooth_frames`` frames),
  as detector errors are correlated over time.
- The lifting skeleton's joints take the noise of their COCO sources through the same recipe that maps
  detector output to the lifting skeleton (:data:`lift3d.skeletons.mapping.COCO17_TO_H36M`): pelvis noise is
  the mean of the two hips' noise, and so on. So synthesised joints are exactly as noisy as in real use.
- Outliers: with probability ``outlier_prob`` a joint in a frame is off by ``outlier_scale`` times its
  sigma in a random direction, with a random, often still high, confidence.
- Confidence falls with the drawn error: ``clip(0.95 - 0.15 * err / std + N(0, 0.05), 0.05, 1)``.
- Dropouts (occlusions): runs of frames with mean length ``dropout_run_frames`` per (view, joint), covering
  about ``dropout_prob`` of all joint-frames, get confidence 0.

Guide to ``level``: 1.0 is COCO annotator spread; about 0.2 matches a good modern detector (2D error of
roughly 1-2% of the person's height); 0 gives exact projections with confidence 1.
Everything with confidence 0 has its coordinates set to 0: nothing downstream may use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from lift3d.skeletons.mapping import COCO17_TO_H36M

# cocoapi COCOeval.computeOks sigmas, COCO-17 order.
COCO_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0


@dataclass
class NoiseConfig:
    level: float = 0.0
    smooth_frames: float = 4.0
    outlier_prob: float = 0.005
    outlier_scale: float = 6.0
    dropout_prob: float = 0.0
    dropout_run_frames: float = 8.0


def person_scale(kp2d_px: np.ndarray) -> np.ndarray:
    """``(..., T, J, 2)`` -> ``(..., T)``: sqrt of the joints' bounding-box area, px (at least 1)."""
    span = kp2d_px.max(axis=-2) - kp2d_px.min(axis=-2)  # (..., T, 2)
    return np.sqrt(np.maximum(span[..., 0] * span[..., 1], 1.0))


def _unit_noise(shape: tuple[int, ...], smooth_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise over axis -3 (time) of ``shape = (..., T, J, 2)``: half white, half smooth."""
    white = rng.standard_normal(shape)
    smooth = rng.standard_normal(shape)
    if smooth_frames > 0 and shape[-3] > 1:
        smooth = gaussian_filter1d(smooth, smooth_frames, axis=-3, mode="reflect")
        smooth /= np.maximum(smooth.std(axis=-3, keepdims=True), 1e-8)
    return np.sqrt(0.5) * white + np.sqrt(0.5) * smooth


def dropout_mask(shape: tuple[int, int], prob: float, run_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean ``(T, J)`` mask of dropped joint-frames in runs of mean length ``run_frames``."""
    T, J = shape
    mask = np.zeros((T, J), dtype=bool)
    if prob <= 0:
        return mask
    run_frames = max(run_frames, 1.0)
    for j in range(J):
        for _ in range(rng.poisson(T * prob / run_frames)):
            length = rng.geometric(1.0 / run_frames)
            start = rng.integers(0, T)
            mask[start : start + length, j] = True
    return mask


def corrupt_2d(kp2d_px: np.ndarray, cfg: NoiseConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Add detector-like noise to clean lifting-skeleton 2D of one view.

    Args:
        kp2d_px: ``(T, 17, 2)`` exact projections, px.
    Returns:
        ``(kp2d_px (T, 17, 2), conf (T, 17))``, float32.
    """
    T, J, _ = kp2d_px.shape
    assert J == COCO17_TO_H36M.target.num_joints
    kp = kp2d_px.astype(np.float64).copy()
    conf = np.ones((T, J))
    if cfg.level > 0:
        s = person_scale(kp2d_px)  # (T,)
        unit = _unit_noise((T, len(COCO_SIGMAS), 2), cfg.smooth_frames, rng)  # (T, 17 coco, 2)
        std_coco = cfg.level * COCO_SIGMAS[None, :] * s[:, None]  # (T, 17 coco)
        noise_coco = unit * std_coco[..., None]
        outlier = rng.random((T, len(COCO_SIGMAS))) < cfg.outlier_prob
        direction = rng.standard_normal((T, len(COCO_SIGMAS), 2))
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        noise_coco = np.where(outlier[..., None], direction * cfg.outlier_scale * std_coco[..., None], noise_coco)
        noise, _ = COCO17_TO_H36M.apply(noise_coco)  # (T, 17, 2): synthesised joints inherit their sources' noise
        # Per-joint std of the mapped noise: a weighted sum of independent sources has variance sum(w^2 s^2).
        std = np.sqrt(np.einsum("ts,ks->kt", COCO17_TO_H36M.matrix**2, std_coco**2))  # (T, 17)
        kp += noise
        err = np.linalg.norm(noise, axis=-1)
        conf = np.clip(0.95 - 0.15 * err / std + rng.normal(0, 0.05, (T, J)), 0.05, 1.0)
        is_outlier, _ = COCO17_TO_H36M.apply(outlier[..., None].astype(float))
        hit = is_outlier[..., 0] > 0
        conf[hit] = rng.uniform(0.1, 0.9, hit.sum())
    drop = dropout_mask((T, J), cfg.dropout_prob, cfg.dropout_run_frames, rng)
    conf[drop] = 0.0
    kp[conf == 0] = 0.0
    return kp.astype(np.float32), conf.astype(np.float32)
