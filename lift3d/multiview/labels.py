"""Epipolar 3D labels from synchronised views: calibrated triangulation and its per-joint confidence.

The labels are what self-supervised training learns from (MISSION.md, "Epipolar multi-view labels"): each
frame's 17 joints triangulated from the views' 2D, weighted by the 2D confidences, with views that disagree
dropped per joint (:func:`lift3d.geometry.triangulate_robust`). Each label joint gets a confidence in [0, 1]:

    conf = c2d * agreement * exp(-0.5 * (e / sigma)^2)

- ``c2d``: the mean 2D confidence of the views used;
- ``agreement``: views used / views that saw the joint (``conf2d > min_conf``), so a joint that needed
  outliers dropped counts less;
- ``e``: the RMS reprojection error of the used views, each divided by the person's size in that view (half
  the larger side of the 2D bounding box, median over the sequence), so the rule does not depend on image
  resolution or distance; ``sigma`` = ``LabelConfig.conf_sigma``.

A joint is not labelled (conf 0) when fewer than 2 views see it, when a kept view reprojects beyond
``max_reproj`` (same units as ``e``), when it lies behind a camera, or when the rays of the used views meet at
less than ``min_ray_angle_deg`` (cameras nearly in line with the joint: depth is unobservable there). Frames
with fewer than ``min_joints`` labelled joints are flagged (``frame_valid`` False).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from lift3d.codec import half_box_size
from lift3d.errors import InputError
from lift3d.geometry import CameraSet, triangulate_robust
from lift3d.multiview.views import MultiView2D

log = logging.getLogger(__name__)

OUTLIER_FLOOR = 0.015  # person sizes: a view is never dropped as an outlier below this error (4.5 px of 300)


@dataclass
class LabelConfig:
    """How labels are made (see the module docstring; the uncalibrated part in :mod:`lift3d.multiview.selfcal`).

    Attributes:
        min_conf: 2D with confidence at or below this is not used.
        max_reproj: largest reprojection error of a used view, in person sizes (0.08 of a 300 px half-height
            is 24 px).
        conf_sigma: reprojection error, in person sizes, at which the label confidence has fallen to 0.61.
        min_ray_angle_deg: smallest angle between the rays of the used views.
        min_joints: a frame needs this many labelled joints to be valid.
        focal_scale: uncalibrated, no intrinsics given: focal length guessed as ``focal_scale * max(w, h)``.
        pair_min_points: uncalibrated: fewest confident correspondences to estimate a camera pair.
        ransac: uncalibrated: RANSAC inlier threshold of the essential matrix, person sizes (at least 2 px).
        bone_sum_m: uncalibrated: the labels are scaled so that the median over frames of the sum of the 16
            bone lengths equals this (an adult's; see :data:`REFERENCE_BONE_SUM_M`).
    """

    min_conf: float = 0.2
    max_reproj: float = 0.08
    conf_sigma: float = 0.03
    min_ray_angle_deg: float = 5.0
    min_joints: int = 8
    focal_scale: float = 1.0
    pair_min_points: int = 50
    ransac: float = 0.03
    bone_sum_m: float | None = None


@dataclass
class Labels:
    """Labels of one sequence.

    Attributes:
        pose3d_world_m: ``(T, 17, 3)`` float64, world frame (the calibration's, or the reference camera's when
            uncalibrated); 0 where ``conf`` is 0.
        conf: ``(T, 17)`` label confidence in [0, 1].
        frame_valid: ``(T,)`` bool.
        reproj_px: ``(V, T, 17)`` reprojection error in each view, pixels (NaN where not labelled).
        views_used: ``(V, T, 17)`` bool, the views each joint was triangulated from.
        cameras: the cameras used (calibrated) or estimated (uncalibrated), in view order.
        calibrated: whether ``cameras`` came from a calibration.
        scale_m_per_unit: 1 when calibrated; else the factor applied to reach ``bone_sum_m``.
    """

    pose3d_world_m: np.ndarray
    conf: np.ndarray
    frame_valid: np.ndarray
    reproj_px: np.ndarray
    views_used: np.ndarray
    cameras: CameraSet
    calibrated: bool
    scale_m_per_unit: float = 1.0


def person_size_px(views: MultiView2D, min_conf: float = 0.2) -> np.ndarray:
    """``(V,)`` median over frames of half the larger side of the confident joints' bounding box, pixels."""
    size = half_box_size(views.kp2d_px, views.conf > min_conf, 4)  # (V, T), NaN where no person
    out = np.full(views.num_views, np.nan)
    for v in range(views.num_views):
        finite = size[v][np.isfinite(size[v])]
        if finite.size:
            out[v] = np.median(finite)
    if not np.isfinite(out).all():
        bad = [views.names[v] for v in range(views.num_views) if not np.isfinite(out[v])]
        raise InputError(f"no person found in view(s) {bad}: no frame has 4 or more joints with confidence > "
                         f"{min_conf}", views.sources[0] if views.sources else None)
    return out


def triangulate_views(views: MultiView2D, cameras: CameraSet, cfg: LabelConfig) -> Labels:
    """Labels from calibrated cameras (``cameras`` in view order, e.g. from :func:`match_cameras`)."""
    V, T, J = views.conf.shape
    if cameras.num_views != V:
        raise InputError(f"{cameras.num_views} cameras for {V} views")
    cams = cameras.to(dtype=torch.float64)
    size = person_size_px(views, cfg.min_conf)  # (V,)
    kp = torch.from_numpy(views.kp2d_px).reshape(V, T * J, 2)
    undist = cams.undistort(kp).reshape(V, T, J, 2).permute(1, 2, 0, 3)  # (T, J, V, 2)
    conf2d = torch.from_numpy(views.conf).permute(1, 2, 0)  # (T, J, V)
    # Each view's pixels and projection matrix divided by the person's size there: reprojection errors, outlier
    # tests and the DLT's weighting are then in person sizes, alike for near and far, small and large images.
    scale = torch.from_numpy(1.0 / size)  # (V,)
    S = torch.diag_embed(torch.stack([scale, scale, torch.ones_like(scale)], dim=-1))  # (V, 3, 3)
    res = triangulate_robust(undist * scale[:, None], S @ cams.projection_matrices(), conf2d, min_conf=cfg.min_conf,
                             max_reproj_px=cfg.max_reproj, min_outlier_px=OUTLIER_FLOOR)
    X = res.points.numpy()  # (T, J, 3)
    used = res.view_mask.numpy() & res.valid.numpy()[..., None]  # (T, J, V)
    e_norm = res.reproj_px.numpy()  # (T, J, V) in person sizes
    err = e_norm * size  # pixels
    c2d = conf2d.numpy()
    seen = c2d > cfg.min_conf
    rms = np.sqrt((np.where(used, e_norm, 0.0) ** 2).sum(-1) / np.maximum(used.sum(-1), 1))  # (T, J)
    within = np.where(used, e_norm <= cfg.max_reproj, True).all(-1)
    angle_ok = ray_angle_deg(X, cams.centers().numpy(), used) >= cfg.min_ray_angle_deg
    mean_c2d = (np.where(used, c2d, 0.0)).sum(-1) / np.maximum(used.sum(-1), 1)
    agreement = used.sum(-1) / np.maximum(seen.sum(-1), 1)
    ok = res.valid.numpy() & within & angle_ok & (used.sum(-1) >= 2)
    conf = np.where(ok, mean_c2d * agreement * np.exp(-0.5 * (rms / cfg.conf_sigma) ** 2), 0.0)
    frame_valid = (conf > 0).sum(-1) >= cfg.min_joints
    log.info("labels: %.1f%% of joint-frames labelled, %d/%d frames valid, median reprojection %.1f px",
             100 * (conf > 0).mean(), frame_valid.sum(), T, float(np.median(err[used])) if used.any() else np.nan)
    return Labels(
        pose3d_world_m=np.where(ok[..., None], X, 0.0), conf=conf, frame_valid=frame_valid,
        reproj_px=np.where(ok[..., None], err, np.nan).transpose(2, 0, 1), views_used=(used & ok[..., None]).transpose(2, 0, 1),
        cameras=cameras, calibrated=True,
    )


def ray_angle_deg(points: np.ndarray, centers: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Largest angle between the rays from the used cameras to each point: ``(..., 3)``, ``(V, 3)``, ``(..., V)``."""
    rays = points[..., None, :] - centers  # (..., V, 3)
    rays = rays / np.maximum(np.linalg.norm(rays, axis=-1, keepdims=True), 1e-12)
    cos = np.einsum("...ac,...bc->...ab", rays, rays)  # (..., V, V)
    pair = used[..., :, None] & used[..., None, :]
    cos = np.where(pair, cos, 1.0)
    return np.degrees(np.arccos(np.clip(cos.min(axis=(-2, -1)), -1.0, 1.0)))
