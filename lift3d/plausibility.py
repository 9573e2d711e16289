"""Plausibility measures of 3D pose sequences, beside accuracy: does the motion look like a body could make it?

* :func:`bone_length_std`: how much each bone's length changes over a sequence (a rigid skeleton: 0).
* :func:`joint_angles` / :func:`angle_violations`: the angle at every joint between its parent bone and its
  child bone (and the knees' signed flexion), against limits measured on real motion capture
  (:func:`angle_limits`), so a knee bending forwards or an elbow folding through the arm counts.
* :func:`foot_skating`: how far a foot slides while it should be planted (on the floor and still in the
  reference), in a Z-up world.

All NumPy, ``(T, J, 3)`` metres in H36M-17 order.
"""

from __future__ import annotations

import numpy as np

from lift3d.skeletons import H36M17

_J = {name: i for i, name in enumerate(H36M17.joints)}


def bone_length_std(pose: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` -> ``(B,)`` standard deviation over time of each tree bone's length, metres."""
    parents = [p for p, _ in H36M17.bones]
    children = [c for _, c in H36M17.bones]
    lengths = np.linalg.norm(pose[:, children] - pose[:, parents], axis=-1)  # (T, B)
    return lengths.std(axis=0)


def _angle_pairs() -> list[tuple[int, int, int]]:
    """``(parent, joint, child)`` for every joint with both, in H36M-17's tree."""
    out = []
    for c, j in enumerate(H36M17.parents):
        if j >= 0 and H36M17.parents[j] >= 0:
            out.append((H36M17.parents[j], j, c))
    return out


ANGLE_NAMES = tuple(f"{H36M17.joints[j]}->{H36M17.joints[c]}" for _, j, c in _angle_pairs()) + (
    "r_knee_signed", "l_knee_signed")


def joint_angles(pose: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` -> ``(T, A)`` radians: for every (parent, joint, child) the angle between the parent bone and
    the child bone (0 = straight on), then the signed flexion of each knee about the hip axis (left minus right
    hip), whose sign tells a knee bending backwards from one bending forwards (:data:`ANGLE_NAMES`)."""
    cols = []
    for p, j, c in _angle_pairs():
        a, b = pose[:, j] - pose[:, p], pose[:, c] - pose[:, j]
        cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)
        cols.append(np.arccos(np.clip(cos, -1.0, 1.0)))
    axis = pose[:, _J["l_hip"]] - pose[:, _J["r_hip"]]
    axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    for side in ("r", "l"):
        thigh = pose[:, _J[f"{side}_knee"]] - pose[:, _J[f"{side}_hip"]]
        shin = pose[:, _J[f"{side}_ankle"]] - pose[:, _J[f"{side}_knee"]]
        cols.append(np.arctan2((np.cross(thigh, shin) * axis).sum(-1), (thigh * shin).sum(-1)))
    return np.stack(cols, axis=-1)


def angle_limits(poses: list[np.ndarray], quantile: float = 0.001) -> np.ndarray:
    """``(A, 2)`` low and high limits of every joint angle over real sequences (the ``quantile`` and
    ``1 - quantile`` of all their frames, so a few mislabelled mocap frames do not widen the range)."""
    angles = np.concatenate([joint_angles(p) for p in poses])
    return np.stack([np.quantile(angles, quantile, axis=0), np.quantile(angles, 1 - quantile, axis=0)], -1)


def angle_violations(pose: np.ndarray, limits: np.ndarray) -> float:
    """Fraction of (frame, angle) values of ``pose (T, J, 3)`` outside ``limits (A, 2)``."""
    a = joint_angles(pose)
    return float(((a < limits[:, 0]) | (a > limits[:, 1])).mean())


def foot_contacts(reference_world: np.ndarray, fps: float, height_m: float = 0.05, speed_ms: float = 0.2) -> np.ndarray:
    """``(T, 2)`` bool: frames where the reference's right / left ankle is planted: within ``height_m`` of its
    lowest height in the sequence and moving slower than ``speed_ms`` (Z-up world ``(T, J, 3)``)."""
    feet = reference_world[:, [_J["r_ankle"], _J["l_ankle"]]]  # (T, 2, 3)
    low = feet[..., 2] <= feet[..., 2].min(axis=0) + height_m
    speed = np.zeros(low.shape)
    speed[1:] = np.linalg.norm(np.diff(feet, axis=0), axis=-1) * fps
    speed[0] = speed[1] if len(speed) > 1 else 0.0
    return low & (speed < speed_ms)


def foot_skating(pose_world: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal slide (m per frame) of the ankles of ``pose_world (T, J, 3)`` (Z-up) between consecutive
    frames that are both planted in ``contacts (T, 2)``; NaN when there is no such pair."""
    feet = pose_world[:, [_J["r_ankle"], _J["l_ankle"]], :2]  # (T, 2, 2)
    slide = np.linalg.norm(np.diff(feet, axis=0), axis=-1)  # (T-1, 2)
    both = contacts[1:] & contacts[:-1]
    return float(slide[both].mean()) if both.any() else float("nan")
