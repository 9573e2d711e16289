"""Uncalibrated labels: the cameras estimated from the body keypoints themselves, then triangulation.

Method (Hartley & Zisserman 2nd ed. Ch. 9-12, applied to a person instead of a calibration target):

1. Intrinsics are given (``K`` per view, e.g. from a calibration file used for its intrinsics only) or guessed
   from the image size: principal point at the centre, focal length ``focal_scale * max(w, h)`` (about a 53
   degree horizontal field of view for a landscape image; phone main cameras are 60-75 degrees, so the guess
   errs long, which costs depth accuracy but not stability). No lens distortion.
2. The world frame is view 0's camera frame (the *reference* view). For every other view, the relative pose to
   the reference comes from the essential matrix of the two views' confident keypoints pooled over all frames
   (:func:`lift3d.geometry.estimate_relative_pose`: 5-point RANSAC, Sampson refinement). Of the four poses an
   essential matrix admits, the one with the points in front of both cameras is kept (cheirality), which
   leaves no rotation ambiguity between views; what stays unknown is the world's orientation (gravity) and
   scale.
3. Scale between pairs: each pair's baseline is 1. The first pair (views 0, 1) fixes the unit; every other
   view's translation is multiplied by the median ratio of the depths, in the reference camera, of the joints
   triangulated by pair (0, 1) and by pair (0, v).
4. Refinement: three rounds of robust triangulation with all views, then each non-reference camera's pose
   re-estimated by PnP (Levenberg-Marquardt from the current pose) on the well-triangulated joints.
5. Scale: the reconstruction is multiplied so that the sum over the 16 bones of each bone's median length
   equals ``bone_sum_m`` (default :data:`REFERENCE_BONE_SUM_M`, an adult of the training data). The labels are
   then metric only as far as the person matches that size; self-supervised training uses a scale-invariant
   label loss on uncalibrated labels for that reason.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from lift3d.errors import InputError
from lift3d.geometry import CameraSet, estimate_relative_pose, triangulate_dlt
from lift3d.multiview.labels import LabelConfig, Labels, person_size_px, triangulate_views
from lift3d.multiview.views import MultiView2D
from lift3d.skeletons import H36M17

log = logging.getLogger(__name__)

# Median over the 25 train subjects (CMU, ACCAD, Daz-figure, UI-PRMD) of the sum of the 16 H36M-17 bone lengths
# (each bone's median over a take). Measured 2026-11-21 with load_take() on the first take of each subject.
REFERENCE_BONE_SUM_M = 3.87
MAX_PAIR_POINTS = 6000
REFINE_ROUNDS = 3
MIN_INLIERS = 0.2  # fraction of a pair's correspondences that must fit its essential matrix


def guess_intrinsics(image_size: np.ndarray, focal_scale: float = 1.0) -> np.ndarray:
    """``(V, 2)`` (width, height) -> ``(V, 3, 3)`` intrinsics with ``f = focal_scale * max(w, h)``."""
    size = np.asarray(image_size, dtype=np.float64).reshape(-1, 2)
    K = np.zeros((len(size), 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = focal_scale * size.max(axis=1)
    K[:, 0, 2], K[:, 1, 2] = (size[:, 0] - 1) / 2, (size[:, 1] - 1) / 2
    K[:, 2, 2] = 1.0
    return K


def bone_sum(pose3d: np.ndarray, conf: np.ndarray, skeleton=H36M17) -> float:
    """Sum over bones of each bone's median length over the frames where both its joints are labelled."""
    total, missing = 0.0, []
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            continue
        ok = (conf[:, j] > 0) & (conf[:, p] > 0)
        if not ok.any():
            missing.append(skeleton.joints[j])
            continue
        total += float(np.median(np.linalg.norm(pose3d[ok, j] - pose3d[ok, p], axis=-1)))
    if missing:
        raise InputError(f"cannot fix the scale: bones ending at {missing} are never labelled")
    return total


def estimate_cameras(views: MultiView2D, K: np.ndarray, cfg: LabelConfig) -> CameraSet:
    """Cameras of ``views`` up to scale (world = view 0's camera), see the module docstring, steps 2-4."""
    V, T, J = views.conf.shape
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (V, 3, 3):
        raise InputError(f"intrinsics must be ({V}, 3, 3) for {V} views, got {K.shape}")
    seen = views.conf > cfg.min_conf  # (V, T, J)
    size = person_size_px(views, cfg.min_conf)  # (V,)
    R = np.tile(np.eye(3), (V, 1, 1))
    t = np.zeros((V, 3))
    depth_ref = {}  # view -> (T, J) depth in the reference camera of pair (0, v)'s triangulation
    for v in range(1, V):
        both = seen[0] & seen[v]  # (T, J)
        n = int(both.sum())
        if n < cfg.pair_min_points:
            raise InputError(f"views {views.names[0]} and {views.names[v]} share only {n} confident joint "
                             f"detections (need {cfg.pair_min_points}) to estimate their relative pose; use a "
                             "calibration or longer, better-tracked videos")
        idx = np.flatnonzero(both.ravel())
        if len(idx) > MAX_PAIR_POINTS:
            idx = idx[np.linspace(0, len(idx) - 1, MAX_PAIR_POINTS).round().astype(int)]
        x0 = views.kp2d_px[0].reshape(-1, 2)[idx]
        xv = views.kp2d_px[v].reshape(-1, 2)[idx]
        w = (views.conf[0] * views.conf[v]).ravel()[idx]
        try:
            thr = max(2.0, cfg.ransac * float(np.sqrt(size[0] * size[v])))  # person sizes -> px
            Rv, tv, inliers = estimate_relative_pose(x0, xv, K[0], K[v], w, ransac_threshold_px=thr)
        except InputError as e:
            raise InputError(f"views {views.names[0]} and {views.names[v]}: {e.problem}") from None
        if inliers.float().mean() < MIN_INLIERS:
            raise InputError(f"views {views.names[0]} and {views.names[v]}: only {100 * float(inliers.float().mean()):.0f}% "
                             "of the shared detections fit one relative pose; the views may not be synchronised or "
                             "may show different people")
        R[v], t[v] = Rv.numpy(), tv.numpy()
        depth_ref[v] = _pair_depths(views, K, v, R[v], t[v], both)
        log.info("pose of %s from %s: %d correspondences, %.0f%% inliers", views.names[v], views.names[0], len(idx),
                 100 * float(inliers.float().mean()))
    for v in range(2, V):
        common = np.isfinite(depth_ref[1]) & np.isfinite(depth_ref[v])
        if common.sum() < cfg.pair_min_points:
            raise InputError(f"view {views.names[v]}: only {int(common.sum())} joints seen in {views.names[0]}, "
                             f"{views.names[1]} and {views.names[v]} together (need {cfg.pair_min_points}) to put "
                             "it on the same scale")
        t[v] *= float(np.median(depth_ref[1][common] / depth_ref[v][common]))
    cams = _camera_set(views, K, R, t)
    for _ in range(REFINE_ROUNDS):
        labels = triangulate_views(views, cams, cfg)
        R, t = _refine_pnp(views, K, R, t, labels, cfg)
        cams = _camera_set(views, K, R, t)
    return cams


def label_uncalibrated(views: MultiView2D, cfg: LabelConfig, K: np.ndarray | None = None) -> Labels:
    """Labels without extrinsics: cameras estimated, triangulated, scale normalised (module docstring)."""
    if K is None:
        if views.image_size is None:
            raise InputError("uncalibrated labels need the intrinsics or the image size of every view (videos "
                             "tracked by lift3d record it; for other 2D files pass --calib for intrinsics or "
                             "--image-size)")
        K = guess_intrinsics(views.image_size, cfg.focal_scale)
    cams = estimate_cameras(views, K, cfg)
    labels = triangulate_views(views, cams, cfg)
    target = cfg.bone_sum_m or REFERENCE_BONE_SUM_M
    scale = target / bone_sum(labels.pose3d_world_m, labels.conf)
    cams = replace(cams, t=cams.t * scale)
    log.info("uncalibrated: scale %.3f m per baseline unit (bone sum set to %.2f m)", scale, target)
    return replace(labels, pose3d_world_m=labels.pose3d_world_m * scale, cameras=cams, calibrated=False,
                   scale_m_per_unit=scale)


def _camera_set(views: MultiView2D, K, R, t) -> CameraSet:
    size = views.image_size if views.image_size is not None else 2 * K[:, :2, 2] + 1
    return CameraSet.from_numpy(K=K, R=R, t=t, image_size=size, names=views.names)


def _pair_depths(views: MultiView2D, K, v: int, Rv, tv, both) -> np.ndarray:
    """Depth in the reference camera of every joint triangulated from views (0, v); NaN where not seen or behind."""
    P0 = K[0] @ np.hstack([np.eye(3), np.zeros((3, 1))])
    Pv = K[v] @ np.hstack([Rv, tv[:, None]])
    kp = torch.from_numpy(np.stack([views.kp2d_px[0], views.kp2d_px[v]], axis=-2))  # (T, J, 2, 2)
    X = triangulate_dlt(kp, torch.from_numpy(np.stack([P0, Pv]))).numpy()  # (T, J, 3)
    zv = X @ Rv[2] + tv[2]
    ok = both & (X[..., 2] > 0) & (zv > 0)
    return np.where(ok, X[..., 2], np.nan)


def _refine_pnp(views: MultiView2D, K, R, t, labels: Labels, cfg: LabelConfig):
    import cv2  # edge code: OpenCV's PnP on NumPy arrays

    good = labels.conf > np.quantile(labels.conf[labels.conf > 0], 0.25) if (labels.conf > 0).any() else labels.conf > 0
    R, t = R.copy(), t.copy()
    for v in range(1, views.num_views):
        ok = good & (views.conf[v] > cfg.min_conf)  # (T, J)
        if ok.sum() < cfg.pair_min_points:
            continue
        obj = labels.pose3d_world_m[ok].astype(np.float64)
        img = views.kp2d_px[v][ok].astype(np.float64)
        rvec, _ = cv2.Rodrigues(R[v])
        found, rvec, tvec = cv2.solvePnP(obj, img, K[v], None, rvec, t[v].reshape(3, 1).copy(),
                                         useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        if found:
            R[v], t[v] = cv2.Rodrigues(rvec)[0], tvec.ravel()
    return R, t
