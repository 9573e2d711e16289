"""The lifter's codec: how 2D detections become network input and how network output becomes 3D.

All normalisation lives here (STYLE: MMPose's codec idea), not in models or losses.

Input (:meth:`Pose2DCodec.encode`): lifting-skeleton 2D in pixels with confidence, ``(..., T, 17, 2)`` and
``(..., T, 17)``, becomes ``(..., T, 17, 3)`` features ``(x, y, conf)``:
- centre: the pelvis (mid-hips) of each frame; where the pelvis is missing (confidence 0), the mean of the
  frame's confident joints; where no joint is confident, the nearest frame's centre.
- scale: half the larger side of the bounding box of the frame's confident joints, smoothed by a running
  median over ``scale_window`` frames (missing frames ignored), so that masking a few joints or a noisy
  detection does not rescale the whole pose. Only frames with at least ``min_joints_for_scale`` confident
  joints count. The same running median is used in training windows and on whole videos.
- joints with confidence 0 get coordinates 0 (the network must not see where a missing joint was).
A frame-level normalisation keeps the lifter independent of image size, focal length and the person's place
in the image; it predicts metric 3D from shape alone, as VideoPose3D-style lifters do.

Output (:meth:`Pose2DCodec.decode`): the network predicts root-relative 3D in the camera frame, in metres
(OpenCV axes); decode forces the root (pelvis) to exactly 0.

Horizontal flip (:func:`flip_features`, :func:`flip_pose3d`) negates x and swaps left and right joints.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from lift3d.errors import InputError
from lift3d.skeletons import H36M17, Skeleton

ROOT = 0  # pelvis in H36M17


@dataclass(frozen=True)
class Pose2DCodec:
    scale_window: int = 31
    min_joints_for_scale: int = 4

    def to_dict(self) -> dict:
        return asdict(self)

    def encode(self, kp2d_px: np.ndarray, conf: np.ndarray) -> np.ndarray:
        """``(..., T, J, 2)`` px and ``(..., T, J)`` -> ``(..., T, J, 3)`` float32 features (NumPy)."""
        kp2d_px = np.asarray(kp2d_px, dtype=np.float64)
        conf = np.asarray(conf, dtype=np.float64)
        if kp2d_px.ndim < 3 or kp2d_px.shape[-1] != 2 or conf.shape != kp2d_px.shape[:-1]:
            raise InputError(f"expected kp2d (..., T, J, 2) and conf (..., T, J), got {kp2d_px.shape} and {conf.shape}")
        if not (np.isfinite(kp2d_px[conf > 0]).all() and np.isfinite(conf).all()):
            raise InputError("2D keypoints or confidences contain NaN/inf where the confidence is > 0")
        lead = kp2d_px.shape[:-3]
        T, J = kp2d_px.shape[-3:-1]
        kp = kp2d_px.reshape(-1, T, J, 2)  # (N, T, J, 2)
        c = np.clip(conf.reshape(-1, T, J), 0.0, 1.0)  # (N, T, J)
        centre = self._centres(kp, c)  # (N, T, 2)
        scale = self._scales(kp, c)  # (N, T)
        xy = (kp - centre[:, :, None]) / scale[:, :, None, None]
        xy = np.where(c[..., None] > 0, xy, 0.0)
        feats = np.concatenate([xy, c[..., None]], axis=-1).astype(np.float32)  # (N, T, J, 3)
        return feats.reshape(*lead, T, J, 3)

    @staticmethod
    def _centres(kp: np.ndarray, c: np.ndarray) -> np.ndarray:
        ok = c > 0
        any_ok = ok.any(axis=-1)  # (N, T)
        mean = (kp * ok[..., None]).sum(axis=-2) / np.maximum(ok.sum(axis=-1), 1)[..., None]
        centre = np.where(ok[..., ROOT, None], kp[..., ROOT, :], mean)  # (N, T, 2)
        for n in range(kp.shape[0]):  # frames without any joint: take the nearest frame's centre
            if not any_ok[n].all() and any_ok[n].any():
                idx = np.flatnonzero(any_ok[n])
                nearest = idx[np.abs(np.arange(kp.shape[1])[:, None] - idx[None]).argmin(axis=1)]
                centre[n] = centre[n, nearest]
        return centre

    def _scales(self, kp: np.ndarray, c: np.ndarray) -> np.ndarray:
        size = half_box_size(kp, c > 0, self.min_joints_for_scale)  # (N, T)
        half = self.scale_window // 2
        padded = np.pad(size, ((0, 0), (half, half)), mode="edge")
        windows = sliding_window_view(padded, self.scale_window, axis=1)  # (N, T, window)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows are handled below
            scale = np.nanmedian(windows, axis=-1)
            fallback = np.nanmedian(size, axis=1, keepdims=True)  # whole-sequence median
        scale = np.where(np.isfinite(scale), scale, np.broadcast_to(fallback, scale.shape))
        return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)

    @staticmethod
    def decode(pred: torch.Tensor) -> torch.Tensor:
        """Network output ``(..., J, 3)`` -> root-relative camera-frame metres with the root exactly 0."""
        return pred - pred[..., ROOT : ROOT + 1, :]


def half_box_size(kp2d_px: np.ndarray, ok: np.ndarray, min_joints: int) -> np.ndarray:
    """Half the larger side of the bounding box of the ``ok`` joints: ``(..., J, 2)``, ``(..., J)`` -> ``(...)``
    pixels; NaN where fewer than ``min_joints`` joints are ``ok`` or the box is empty. The person's size used
    by the codec's scale and by the multi-view labels."""
    lo = np.where(ok[..., None], kp2d_px, np.inf).min(axis=-2)
    hi = np.where(ok[..., None], kp2d_px, -np.inf).max(axis=-2)
    size = 0.5 * (hi - lo).max(axis=-1)
    size = np.where(ok.sum(axis=-1) >= min_joints, size, np.nan)
    return np.where(size > 1e-6, size, np.nan)


def root_relative(pose3d: np.ndarray | torch.Tensor):
    """Subtract the root joint: ``(..., J, 3)``."""
    return pose3d - pose3d[..., ROOT : ROOT + 1, :]


def flip_features(feats, skeleton: Skeleton = H36M17):
    """Horizontally flip encoded 2D ``(..., J, 3)``: negate x, swap left and right joints."""
    perm = list(skeleton.flip_permutation)
    out = feats[..., perm, :].clone() if isinstance(feats, torch.Tensor) else feats[..., perm, :].copy()
    out[..., 0] = -out[..., 0]
    return out


def flip_pose3d(pose, skeleton: Skeleton = H36M17):
    """Mirror camera-frame 3D ``(..., J, 3)`` about the image's vertical axis: negate x, swap sides."""
    return flip_features(pose, skeleton)
