"""Spatio-temporal pose discriminator: is this 3D pose sequence one a person could make?

Two branches judge every frame of a root-relative camera-frame sequence ``(B, T, J, 3)`` (metres):

* **pose branch**, per frame: the bone directions (unit vectors) and lengths, and the kinematic chain space
  matrix ``B^T B`` of the bone vectors (KCS, Wandt & Rosenhahn, RepNet, CVPR 2019: its diagonal holds the
  squared bone lengths and its off-diagonal the angles between bones, so one layer sees limb proportions and
  joint angles at once);
* **motion branch**: the temporal differences of the joints and of the bone vectors (limb motion), per frame,
  through temporal convolutions that see a few frames either side (edge-replicated at the ends).

Their features are concatenated and mapped to one logit per frame (> 0: plausible). The model knows nothing
of the camera; it is trained on mocap seen from the same virtual cameras as the lifters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from lift3d.errors import InputError
from lift3d.skeletons import H36M17


@dataclass
class DiscriminatorConfig:
    """Architecture: ``channels`` per branch, ``motion_layers`` temporal convolutions of kernel 3 (dilation 1,
    2, 4, ...: the motion branch sees ``1 + 2 * (2^layers - 1)`` frames), ``dropout``."""

    num_joints: int = 17
    channels: int = 128
    motion_layers: int = 2
    dropout: float = 0.1


def bone_vectors(pose: Tensor) -> Tensor:
    """``(..., J, 3)`` -> ``(..., B, 3)`` child minus parent for the H36M-17 tree bones."""
    parents = [p for p, _ in H36M17.bones]
    children = [c for _, c in H36M17.bones]
    return pose[..., children, :] - pose[..., parents, :]


def kcs(bones: Tensor) -> Tensor:
    """Kinematic chain space: ``(..., B, 3)`` -> ``(..., B*(B+1)/2)`` upper triangle of ``bones @ bones^T``."""
    gram = bones @ bones.transpose(-1, -2)  # (..., B, B)
    i, j = torch.triu_indices(gram.shape[-1], gram.shape[-1], device=gram.device)
    return gram[..., i, j]


def pose_features(pose: Tensor) -> Tensor:
    """``(B, T, J, 3)`` -> ``(B, T, F)``: bone directions, lengths and KCS."""
    b = bone_vectors(pose)  # (B, T, nb, 3)
    length = torch.linalg.vector_norm(b, dim=-1, keepdim=True)  # (B, T, nb, 1)
    direction = b / length.clamp(min=1e-6)
    return torch.cat([direction.flatten(-2), length.flatten(-2), kcs(b)], dim=-1)


def motion_features(pose: Tensor) -> Tensor:
    """``(B, T, J, 3)`` -> ``(B, T, F)``: per frame the difference to the previous frame of every joint and every
    bone vector (the first frame takes the second's), so a sequence of T frames gives T rows."""
    b = bone_vectors(pose)
    both = torch.cat([pose, b], dim=-2).flatten(-2)  # (B, T, (J + nb) * 3)
    if both.shape[1] < 2:
        return torch.zeros_like(both)
    d = both.diff(dim=1)  # (B, T-1, F)
    return torch.cat([d[:, :1], d], dim=1)


class PoseDiscriminator(nn.Module):
    """Per-frame plausibility logits for pose sequences: ``(B, T, J, 3) -> (B, T)`` (module docstring)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        J, C = config.num_joints, config.channels
        nb = len(H36M17.bones)
        pose_in = nb * 3 + nb + nb * (nb + 1) // 2
        motion_in = (J + nb) * 3
        self.pose = nn.Sequential(nn.Linear(pose_in, C), nn.LeakyReLU(0.2), nn.Dropout(config.dropout),
                                  nn.Linear(C, C), nn.LeakyReLU(0.2))
        self.motion_in = nn.Sequential(nn.Linear(motion_in, C), nn.LeakyReLU(0.2))
        self.motion = nn.ModuleList(
            nn.Conv1d(C, C, kernel_size=3, dilation=2 ** k, padding=2 ** k, padding_mode="replicate")
            for k in range(config.motion_layers))
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Sequential(nn.Linear(2 * C, C), nn.LeakyReLU(0.2), nn.Linear(C, 1))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def frames_seen(self) -> int:
        """Frames the motion branch sees around each frame (its temporal receptive field, differences included)."""
        return 2 + 2 * (2 ** self.config.motion_layers - 1)

    def forward(self, pose: Tensor) -> Tensor:
        if pose.ndim != 4 or pose.shape[-2:] != (self.config.num_joints, 3):
            raise InputError(f"PoseDiscriminator expects (B, T, {self.config.num_joints}, 3), got {tuple(pose.shape)}")
        p = self.pose(pose_features(pose))  # (B, T, C)
        m = rearrange(self.motion_in(motion_features(pose)), "b t c -> b c t")  # (B, C, T)
        for conv in self.motion:
            m = m + self.drop(nn.functional.leaky_relu(conv(m), 0.2))  # residual
        m = rearrange(m, "b c t -> b t c")  # (B, T, C)
        return self.head(torch.cat([p, m], dim=-1)).squeeze(-1)  # (B, T)
