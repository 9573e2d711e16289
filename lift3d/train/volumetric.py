"""``lift3d train configs/posresnet_*.yaml``: the supervised Pose-ResNet (volumetric) training loop.

The model lifts one frame at a time from rendered 2D heatmaps (:class:`lift3d.models.crop_codec.HeatmapCodec`),
so it trains on the same mocap data as the temporal lifter (:mod:`lift3d.train.data`): every epoch each
take is seen by fresh virtual cameras with detector-like noise and keypoint masking (occlusion augmentation
on heatmaps), and ``frames_per_epoch`` random frames of those views are the epoch's samples. Targets are
the true joints in the crop's normalised ``(u, v, z)`` (:func:`lift3d.models.crop_codec.encode_root_relative`);
the loss is L1 on them (Sun et al., "Integral Human Pose Regression", ECCV 2018, use L1 on the integral
coordinates). Validation decodes to metres exactly as inference does (root depth from the box size).

Checkpoints, resume and progress work as in :mod:`lift3d.train.trainer`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from lift3d.codec import flip_features
from lift3d.errors import ConfigError, InputError
from lift3d.infer import lift_volumetric
from lift3d.metrics import evaluate_sequences
from lift3d.models.crop_codec import HeatmapCodec
from lift3d.models.posresnet import PoseResNet, PoseResNetConfig
from lift3d.train.data import DataConfig, load_split, render_views, take_rng_stream
from lift3d.train.losses import weighted_total
from lift3d.train.trainer import VAL_STREAM, OptimConfig, open_run, optimizer_step, save_epoch

log = logging.getLogger(__name__)


@dataclass
class VolumetricLoss:
    """Weights of the named L1 terms on the normalised targets."""

    uv: float = 1.0
    depth: float = 1.0


@dataclass
class HeatmapInput:
    """How the 2D becomes heatmaps (the rest of :class:`HeatmapCodec` comes from the model and the data)."""

    sigma_px: float = 2.0
    margin: float = 1.25


@dataclass
class VolumetricTrainConfig:
    name: str
    kind: str = "posresnet"
    model: PoseResNetConfig = field(default_factory=lambda: PoseResNetConfig(in_channels=17, input_size=64))
    heatmaps: HeatmapInput = field(default_factory=HeatmapInput)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: VolumetricLoss = field(default_factory=VolumetricLoss)
    val_frame_step: int = 5  # validate on every n-th frame of the val views
    seed: int = 0
    threads: int = 0
    out_dir: str = "runs/{name}"

    def __post_init__(self) -> None:
        if self.kind != "posresnet":
            raise ConfigError(f"VolumetricTrainConfig.kind must be 'posresnet', got {self.kind!r}")
        if self.model.in_channels != self.model.num_joints:
            raise ConfigError(
                f"model.in_channels={self.model.in_channels}: the heatmap input has one channel per joint "
                f"(num_joints={self.model.num_joints})"
            )
        if self.val_frame_step < 1:
            raise ConfigError(f"val_frame_step must be >= 1, got {self.val_frame_step}")


@dataclass
class Frames:
    """Single frames of rendered views: what one epoch (or validation) samples from."""

    kp2d_px: torch.Tensor  # (N, J, 2)
    conf: torch.Tensor  # (N, J)
    K: torch.Tensor  # (N, 3, 3)
    pose3d_cam_m: torch.Tensor  # (N, J, 3)

    def __len__(self) -> int:
        return len(self.conf)

    def take(self, idx: torch.Tensor) -> Frames:
        return Frames(self.kp2d_px[idx], self.conf[idx], self.K[idx], self.pose3d_cam_m[idx])


def render_frames(views: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], step: int = 1) -> Frames:
    """Views from :func:`render_views` -> every ``step``-th frame with at least two confident joints."""
    parts = []
    for kp, conf, K, cam in views:
        sel = np.flatnonzero(HeatmapCodec.croppable(conf[::step])) * step
        parts.append((kp[sel], conf[sel], np.broadcast_to(K, (len(sel), 3, 3)), cam[sel]))
    cat = [torch.from_numpy(np.concatenate(p)).float() for p in zip(*parts)]
    return Frames(*cat)


def batch_inputs(frames: Frames, codec: HeatmapCodec, flip: torch.Tensor | None = None):
    """``(heatmaps (B, J, S, S), targets uvz (B, J, 3), K_crop (B, 3, 3))``; ``flip (B,)`` mirrors samples.

    A flip mirrors the crop about its vertical centre line: ``u -> -u`` and left/right joints swapped, in the
    input and in the target alike (exact in crop coordinates; a mirror leaves depth unchanged).
    """
    kp_norm, _, K_crop = codec.crop(frames.kp2d_px, frames.conf, frames.K)
    uvz = codec.targets(frames.pose3d_cam_m, K_crop)  # (B, J, 3)
    inp = torch.cat([kp_norm, frames.conf[..., None]], dim=-1)  # (B, J, 3): u, v, conf
    if flip is not None and flip.any():
        inp, uvz = inp.clone(), uvz.clone()
        inp[flip], uvz[flip] = flip_features(inp[flip]), flip_features(uvz[flip])
    return codec.render(inp[..., :2], inp[..., 2]), uvz, K_crop


def volumetric_losses(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named, unweighted L1 terms on normalised ``(u, v, z)`` ``(B, J, 3)``: image position and depth."""
    err = (pred - target).abs()
    return {"uv": err[..., :2].mean(), "depth": err[..., 2].mean()}


def validate(model: PoseResNet, frames: Frames, codec: HeatmapCodec) -> dict:
    """Val MPJPE and P-MPJPE (mm), every frame decoded as at inference (:func:`lift3d.infer.lift_volumetric`)."""
    model.eval()
    pred = torch.from_numpy(lift_volumetric(frames.kp2d_px.numpy(), frames.conf.numpy(), frames.K.numpy(), model,
                                            codec)).double()
    target = frames.pose3d_cam_m.double()
    target = target - target[:, :1]
    # Single frames: one "sequence" per frame would make MPJVE meaningless; report the per-frame metrics.
    res = evaluate_sequences([(pred, target)])
    return {k: res[k] for k in ("mpjpe_mm", "p_mpjpe_mm")}


def make_codec(model: PoseResNetConfig, rendering: HeatmapInput, **inputs: bool) -> HeatmapCodec:
    """The codec of a model and its heatmap rendering (``inputs``: :class:`HeatmapCodec`'s ``heatmaps`` and
    ``image``), its root-size prior not yet fitted (:meth:`HeatmapCodec.fitted`)."""
    return HeatmapCodec(input_size=model.input_size, depth_range_m=model.depth_range_m,
                        sigma_px=rendering.sigma_px, margin=rendering.margin, **inputs)


def train_volumetric(cfg: VolumetricTrainConfig, *, restart: bool = False, data_dir=None, progress: bool = True) -> dict:
    """Train (or resume) the run of ``cfg``; returns the final history entry."""
    torch.manual_seed(cfg.seed)
    model = PoseResNet(cfg.model)
    run = open_run(cfg, model, restart=restart, best_key="best_mpjpe_mm")

    log.info("loading takes (%s)", ", ".join(cfg.data.datasets))
    train_clips = load_split(cfg.data, "train", data_dir)
    val_clips = load_split(cfg.data, "val", data_dir)
    val = render_frames([
        v for clip in val_clips
        for v in render_views(clip, cfg.data, take_rng_stream(cfg.seed, VAL_STREAM, clip.info.name),
                              cfg.data.val_views, noise_level=cfg.data.val_noise_level, mask=cfg.data.val_mask)
    ], cfg.val_frame_step)

    def epoch_frames(epoch: int) -> Frames:
        return render_frames([
            v for clip in train_clips
            for v in render_views(clip, cfg.data, take_rng_stream(cfg.seed, epoch, clip.info.name),
                                  cfg.data.views_per_epoch, bone_jitter=cfg.data.bone_jitter)
        ])

    # The person-size prior of the root depth, fitted once on epoch 0's boxes (deterministic given the seed).
    first = epoch_frames(0)
    codec = make_codec(cfg.model, cfg.heatmaps).fitted(first.pose3d_cam_m[:, 0, 2], first.kp2d_px, first.conf, first.K)
    log.info("%d train takes, %d val frames; model %d parameters, %.2f GFLOP/sample; root size prior %.3f m",
             len(train_clips), len(val), model.num_parameters(), model.flops_per_sample() / 1e9, codec.root_size_m)

    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t0 = time.time()
        frames = first if epoch == 0 else epoch_frames(epoch)
        rng = take_rng_stream(cfg.seed, epoch, "order")
        order = torch.from_numpy(rng.permutation(len(frames)))
        if cfg.data.frames_per_epoch:
            order = order[: cfg.data.frames_per_epoch]
        model.train()
        sums: dict[str, float] = {}
        steps = 0
        bs = cfg.optim.batch_size
        bar = tqdm(range(0, len(order), bs), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not progress)
        for b in bar:
            idx = order[b : b + bs]
            flip = torch.from_numpy(rng.random(len(idx)) < cfg.data.flip_prob)
            heat, uvz, _ = batch_inputs(frames.take(idx), codec, flip)
            terms = volumetric_losses(model(heat), uvz)
            loss = weighted_total(terms, asdict(cfg.loss))
            optimizer_step(run.opt, model, loss, cfg.optim.grad_clip)
            steps += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(uv=f"{sums['uv'] / steps:.4f}", depth=f"{sums['depth'] / steps:.4f}")
        run.sched.step()
        res = validate(model, val, codec)
        entry = {
            "epoch": epoch + 1,
            "train": {k: v / max(steps, 1) for k, v in sums.items()},
            "val_mpjpe_mm": res["mpjpe_mm"],
            "val_p_mpjpe_mm": res["p_mpjpe_mm"],
            "lr": run.opt.param_groups[0]["lr"],
            "seconds": time.time() - t0,
            "samples": int(len(order)),
        }
        run.history.append(entry)
        log.info("epoch %d: val mpjpe %.1f mm, p-mpjpe %.1f mm (%.0f s)", epoch + 1, res["mpjpe_mm"],
                 res["p_mpjpe_mm"], entry["seconds"])
        if progress:
            tqdm.write(f"epoch {epoch + 1}: val MPJPE {res['mpjpe_mm']:.1f} mm, P-MPJPE {res['p_mpjpe_mm']:.1f} mm")
        save_epoch(run, model, cfg, epoch, res["mpjpe_mm"], kind="posresnet", codec=codec)
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
