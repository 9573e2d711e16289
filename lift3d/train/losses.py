"""Lifter losses: small named functions returning unweighted terms (weights live in the config, summed once).

All take root-relative camera-frame 3D in metres, ``(..., J, 3)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lift3d.skeletons import H36M17, Skeleton


def position_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean per-joint position error (MPJPE), metres."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def velocity_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean error of frame-to-frame joint velocities (Pavllo et al. 2019, §4), over axis -3 (time), metres/frame."""
    assert pred.shape[-3] >= 2, "velocity needs at least two frames"
    return torch.linalg.vector_norm(pred.diff(dim=-3) - target.diff(dim=-3), dim=-1).mean()


def bone_lengths(pose: Tensor, skeleton: Skeleton = H36M17) -> Tensor:
    """``(..., J, 3)`` -> ``(..., num_bones)`` lengths of the skeleton's tree bones."""
    parents = [p for p, _ in skeleton.bones]
    children = [c for _, c in skeleton.bones]
    return torch.linalg.vector_norm(pose[..., children, :] - pose[..., parents, :], dim=-1)


def bone_symmetry_loss(pred: Tensor, skeleton: Skeleton = H36M17) -> Tensor:
    """Mean absolute difference between the lengths of mirrored bones (left vs right), metres."""
    lengths = bone_lengths(pred, skeleton)
    left = [a for a, _ in skeleton.symmetric_bones]
    right = [b for _, b in skeleton.symmetric_bones]
    return (lengths[..., left] - lengths[..., right]).abs().mean()


LOSSES = ("position", "velocity", "bone_symmetry")


def lifter_losses(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Named unweighted terms for ``(B, T, J, 3)`` predictions and targets (velocity needs T >= 2)."""
    return {
        "position": position_loss(pred, target),
        "velocity": velocity_loss(pred, target),
        "bone_symmetry": bone_symmetry_loss(pred),
    }


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """The one place where loss terms are weighted and summed."""
    return sum(weights[name] * value for name, value in terms.items() if weights.get(name, 0.0) != 0.0)
