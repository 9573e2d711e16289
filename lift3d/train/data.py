"""Training and validation data for the lifters, generated from mocap takes by virtual cameras.

Every epoch each take is seen by fresh random cameras (viewpoint augmentation); its 2D gets a random level
of detector noise and a random amount of keypoint masking (occlusion runs of random length, up to
``mask_max`` of the joint-frames), and is then encoded by the codec exactly as a video's 2D would be. What a
training window sees is therefore what inference sees. Draws depend only on ``(seed, epoch, take)``, so a
resumed run regenerates the same data.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from lift3d.codec import Pose2DCodec, flip_features, flip_pose3d, root_relative
from lift3d.data.build_mocap import DATASETS, list_takes, load_take
from lift3d.data.noise_2d import NoiseConfig, corrupt_2d
from lift3d.data.virtual_cameras import VirtualCameraConfig, in_frame, project, sample_rig
from lift3d.errors import ConfigError, InputError
from lift3d.mocap.clip import MocapClip
from lift3d.skeletons import H36M17, Skeleton

log = logging.getLogger(__name__)


@dataclass
class DataConfig:
    """Where training data comes from and how it is augmented.

    Attributes:
        datasets: datasets of ``shared/data`` whose ``train`` split is trained on (``val`` for validation).
        fps: the frame rate the lifter works at.
        views_per_epoch: fresh cameras per take per epoch.
        noise_level: per take-view detector noise level drawn uniformly from this range (see ``noise_2d``).
        clean_prob: probability that a take-view gets exact 2D with confidence 1 instead (a perfect or
            very confident detector: without it, confidence 1 never occurs in training and clean input is
            out of distribution).
        mask_prob: probability that a take-view gets keypoint masking at all.
        mask_max: masked fraction of joint-frames drawn uniformly from ``(0, mask_max)``.
        mask_run_frames: occlusion run lengths to draw from (1 = isolated joints).
        flip_prob: probability of a horizontal flip (left/right swapped) per window.
        bone_jitter: body-proportion augmentation of the training takes (temporal lifter, Pose-ResNet and
            discriminator training alike): each epoch every bone of a take (a left/right pair alike) is scaled
            by a factor drawn uniformly from ``1 +- bone_jitter``, so the same motion is seen on other bodies
            (:func:`jitter_proportions`). 0 turns it off; validation never gets it.
        frames_per_epoch: cap on training windows per epoch (0 = every frame of every take-view once).
        sample_frames: consecutive output frames per training sample (2: velocity pairs; more gives the
            adversarial discriminator's motion branch a longer stretch to judge).
        val_views, val_noise_level, val_mask: the fixed validation rendering.
    """

    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    fps: float = 30.0
    cameras: VirtualCameraConfig = field(default_factory=VirtualCameraConfig)
    views_per_epoch: int = 2
    noise_level: tuple[float, float] = (0.0, 0.4)
    clean_prob: float = 0.2
    mask_prob: float = 0.7
    mask_max: float = 0.4
    mask_run_frames: list[float] = field(default_factory=lambda: [1.0, 5.0, 20.0])
    flip_prob: float = 0.5
    bone_jitter: float = 0.0
    frames_per_epoch: int = 0
    sample_frames: int = 2
    val_views: int = 2
    val_noise_level: float = 0.2
    val_mask: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.bone_jitter < 1.0:
            raise ConfigError(f"data.bone_jitter must be in [0, 1), got {self.bone_jitter}")


def load_split(cfg: DataConfig, split: str, data_dir=None) -> list[MocapClip]:
    """Every take of ``split`` in the configured datasets, at ``cfg.fps``."""
    infos = [i for i in list_takes(cfg.datasets, data_dir) if i.split == split]
    if not infos:
        raise InputError(f"no {split} takes in datasets {cfg.datasets}")
    return [load_take(i, cfg.fps) for i in infos]


def take_rng_stream(seed: int, epoch: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, zlib.crc32(name.encode())])


def jitter_proportions(
    pose: np.ndarray, amount: float, rng: np.random.Generator, skeleton: Skeleton = H36M17
) -> np.ndarray:
    """The same motion on a body of other proportions: ``pose (T, J, 3)`` with every bone scaled by a factor
    drawn uniformly from ``[1 - amount, 1 + amount]`` (one per bone, shared by a bone and its mirror image),
    bone directions and the root's path kept."""
    factors = rng.uniform(1.0 - amount, 1.0 + amount, size=len(skeleton.bones))
    for a, b in skeleton.symmetric_bones:
        factors[b] = factors[a]
    return skeleton.scale_bones(pose, factors)


def render_views(
    clip: MocapClip, cfg: DataConfig, rng: np.random.Generator, views: int,
    noise_level: float | None = None, mask: float | None = None, bone_jitter: float = 0.0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``views`` random cameras on a take, with detector-like 2D:
    ``[(kp2d_px (T, J, 2), conf (T, J), K (3, 3), pose3d_cam_m (T, J, 3)), ...]``.

    Noise level and masked fraction are drawn per view from ``cfg`` unless given; joints outside the image
    or behind the camera get confidence 0. ``bone_jitter > 0`` first gives the take other body proportions
    (:func:`jitter_proportions`), the same for every view.
    """
    world = clip.pose3d_world_m
    if bone_jitter > 0:
        world = jitter_proportions(world, bone_jitter, rng)
    rig = sample_rig(world, views, cfg.cameras, rng)
    out = []
    for v in range(views):
        px, depth = project(world, rig.K[v], rig.R[v], rig.t[v])  # (T, J, 2), (T, J)
        if noise_level is None:
            level = 0.0 if rng.random() < cfg.clean_prob else rng.uniform(*cfg.noise_level)
        else:
            level = noise_level
        if mask is None:
            masked = rng.uniform(0, cfg.mask_max) if rng.random() < cfg.mask_prob else 0.0
        else:
            masked = mask
        run = float(rng.choice(cfg.mask_run_frames))
        kp, conf = corrupt_2d(px, NoiseConfig(level=level, dropout_prob=masked, dropout_run_frames=run), rng)
        conf = np.where(in_frame(px, depth, rig.image_size[v]), conf, 0.0)
        cam = world @ rig.R[v].T + rig.t[v]  # (T, J, 3) camera frame
        out.append((kp, conf, rig.K[v], cam))
    return out


def render_take(
    clip: MocapClip, cfg: DataConfig, codec: Pose2DCodec, rng: np.random.Generator, views: int,
    noise_level: float | None = None, mask: float | None = None, bone_jitter: float = 0.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``views`` random views of a take: ``[(features (T, J, 3), target root-relative cam 3D (T, J, 3)), ...]``."""
    return [
        (codec.encode(kp, conf), root_relative(cam).astype(np.float32))
        for kp, conf, _, cam in render_views(clip, cfg, rng, views, noise_level, mask, bone_jitter)
    ]


class WindowSet:
    """Sequences of features and targets, padded for a lifter of receptive field ``R``, served as windows.

    Non-causal models get ``R // 2`` edge-replicated frames at both ends (as at inference), causal ones
    ``R - 1`` at the start, so every frame of every sequence can be a training target.
    """

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], receptive_field: int, causal: bool):
        R = receptive_field
        before, after = (R - 1, 0) if causal else (R // 2, R // 2)
        feats, targets, starts, frames = [], [], [], []
        offset = 0
        for f, y in pairs:
            T = f.shape[0]
            feats.append(np.pad(f, ((before, after), (0, 0), (0, 0)), mode="edge"))
            targets.append(y)
            starts.append(offset)
            frames.append(T)
            offset += T + before + after
        self.R = R
        self.features = torch.from_numpy(np.concatenate(feats))  # (N_padded, J, 3)
        self.targets = torch.from_numpy(np.concatenate(targets))  # (N_frames, J, 3)
        self.window_start = torch.from_numpy(np.concatenate([s + np.arange(T) for s, T in zip(starts, frames)]))
        self.seq_of_frame = torch.from_numpy(np.concatenate([np.full(T, i) for i, T in enumerate(frames)]))
        self.frames = frames

    def __len__(self) -> int:
        return len(self.targets)

    def pair_indices(self, rng: np.random.Generator, limit: int = 0) -> np.ndarray:
        """Shuffled frame indices ``i`` such that ``i`` and ``i + 1`` are in the same sequence (velocity pairs)."""
        return self.run_indices(rng, 2, limit)

    def run_indices(self, rng: np.random.Generator, n: int, limit: int = 0) -> np.ndarray:
        """Shuffled frame indices ``i`` such that ``i ... i + n - 1`` are in one sequence (frames of a sequence
        are contiguous, so its first and last frame decide), about one run per ``n`` frames."""
        if n < 2:
            raise ValueError(f"runs need at least 2 frames, got {n}")
        seq = self.seq_of_frame.numpy()
        idx = np.flatnonzero(seq[: len(seq) - n + 1] == seq[n - 1 :])[::n]
        rng.shuffle(idx)
        return idx[:limit] if limit else idx

    def windows(self, frame_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B,)`` frame indices -> inputs ``(B, R, J, 3)`` and targets ``(B, J, 3)``."""
        rows = self.window_start[frame_idx][:, None] + torch.arange(self.R)  # (B, R)
        return self.features[rows], self.targets[frame_idx]


def augment_flip(x: torch.Tensor, y: torch.Tensor, flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip the samples where ``flip (B,)`` is True: inputs ``(B, ..., J, 3)``, targets ``(B, ..., J, 3)``."""
    if not flip.any():
        return x, y
    x, y = x.clone(), y.clone()
    x[flip], y[flip] = flip_features(x[flip]), flip_pose3d(y[flip])
    return x, y
