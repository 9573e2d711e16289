"""``lift3d train configs/posresnet_selfsup.yaml``: the Pose-ResNet lifter trained from multi-view 2D alone.

The per-frame counterpart of :mod:`lift3d.train.selfsup`, with the same label files (``lift3d pseudo-label``)
and the same losses (:func:`lift3d.train.selfsup.pair_terms`): each sample is one frame seen from two views
``a`` and ``b`` of a sequence; both are rendered as heatmaps (:class:`~lift3d.models.crop_codec.HeatmapCodec`,
random joints masked: the heatmap form of occlusion augmentation), lifted, decoded to root-relative metres in
their camera frames exactly as at inference, and trained with

- ``label``: distance to the epipolar labels in each view's frame (scale-invariant for uncalibrated labels);
- ``reprojection``: each prediction, placed at the label's root, projected into every view against its 2D;
- ``consistency``: the two views' predictions agree in the world;
- ``bone_symmetry``; and ``monocular`` (2D files without labels: closed-form root, reprojection).

With ``inputs.image`` the model also sees the RGB crop of each view's video frame (read once from the
label file's view sources, the videos the 2D was tracked on), with random filled rectangles as occlusion
augmentation; ``init_checkpoint`` may then be a heatmap-only model, whose stem is widened with zero weights
for the 3 image channels (:meth:`PoseResNet.load_widened`): fine-tuning starts from exactly the heatmap
model and learns what the images add. The crop box is the tracker's (all its confident joints), as at
inference; masking removes joints from the heatmaps only.

No flips: a mirrored image has no consistent place in the calibrated views. The codec (its root-size prior)
comes from the initial checkpoint, or, from scratch, is fitted on the calibrated labels' root depths.
Validation is MPJPE against ``data.val_labels``. Resumes from ``last.pt`` after a kill.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lift3d.checkpoint import DEFAULT_POSRESNET, read_checkpoint
from lift3d.config import from_dict, to_dict
from lift3d.errors import ConfigError, InputError
from lift3d.infer import lift_volumetric
from lift3d.io.video import is_video
from lift3d.models.crop_codec import HeatmapCodec
from lift3d.models.image_crops import image_input, occlude, read_crops
from lift3d.models.posresnet import PoseResNet, PoseResNetConfig
from lift3d.multiview.labels_h5 import read_labels
from lift3d.train.data import take_rng_stream
from lift3d.train.losses import bone_symmetry_loss, weighted_total
from lift3d.train.selfsup import (SelfSupData, gather_pairs, label_mpjpe, monocular_root_term, pair_terms,
                                  prepare_monocular, prepare_sequence)
from lift3d.train.trainer import OptimConfig, open_run, optimizer_step, save_epoch
from lift3d.train.volumetric import HeatmapInput, make_codec

log = logging.getLogger(__name__)


@dataclass
class VolumetricSelfSupLoss:
    label: float = 1.0
    reprojection: float = 1.0
    consistency: float = 0.5
    bone_symmetry: float = 0.1
    monocular: float = 0.5


@dataclass
class CropInputs:
    """What the model sees in each crop, and the image's occlusion augmentation.

    Attributes:
        heatmaps: the rendered 2D heatmaps (``num_joints`` channels).
        image: the RGB crop of the video frame (3 channels, after the heatmaps).
        occlusion_prob: chance that a crop gets a random filled rectangle.
        occlusion_max: largest side of that rectangle, as a fraction of the crop.
    """

    heatmaps: bool = True
    image: bool = False
    occlusion_prob: float = 0.5
    occlusion_max: float = 0.4


@dataclass
class VolumetricSelfSupConfig:
    """``data.frames`` must be 1 (one frame per sample); ``data.windows_per_epoch`` counts frames (view pairs)."""

    name: str
    kind: str = "selfsup_posresnet"
    model: PoseResNetConfig = field(default_factory=lambda: PoseResNetConfig(in_channels=17, input_size=64))
    heatmaps: HeatmapInput = field(default_factory=HeatmapInput)
    inputs: CropInputs = field(default_factory=CropInputs)
    data: SelfSupData = field(default_factory=lambda: SelfSupData(frames=1))
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: VolumetricSelfSupLoss = field(default_factory=VolumetricSelfSupLoss)
    init_checkpoint: str = ""  # a Pose-ResNet checkpoint to fine-tune ("default": the shipped one); "" = scratch
    seed: int = 0
    threads: int = 0
    out_dir: str = "runs/{name}"

    def __post_init__(self) -> None:
        if self.kind != "selfsup_posresnet":
            raise ConfigError(f"kind must be 'selfsup_posresnet' for this config, got {self.kind!r}")
        if self.data.frames != 1:
            raise ConfigError(f"data.frames={self.data.frames}: the Pose-ResNet lifts one frame at a time (use 1)")
        i, J = self.inputs, self.model.num_joints
        if not (i.heatmaps or i.image):
            raise ConfigError("inputs: set heatmaps, image or both to true")
        if self.model.in_channels != J * i.heatmaps + 3 * i.image:
            raise ConfigError(f"model.in_channels={self.model.in_channels}: the inputs (heatmaps={i.heatmaps}: "
                              f"{J} channels, image={i.image}: 3) make {J * i.heatmaps + 3 * i.image}")
        if not (0.0 <= i.occlusion_prob <= 1.0 and 0.1 <= i.occlusion_max <= 1.0):
            raise ConfigError(f"inputs.occlusion_prob must be in [0, 1] and inputs.occlusion_max in [0.1, 1], got "
                              f"{i.occlusion_prob} and {i.occlusion_max}")


def _init(cfg: VolumetricSelfSupConfig, seqs: list) -> tuple[PoseResNet, HeatmapCodec]:
    """The model (from ``init_checkpoint`` or fresh) and its codec."""
    model = PoseResNet(cfg.model)
    if cfg.init_checkpoint:
        path = DEFAULT_POSRESNET if cfg.init_checkpoint == "default" else cfg.init_checkpoint
        if cfg.init_checkpoint == "default" and not DEFAULT_POSRESNET.is_file():
            raise ConfigError(f"init_checkpoint=default: no Pose-ResNet checkpoint is shipped ({DEFAULT_POSRESNET}); "
                              "give a path to one (lift3d train configs/posresnet_heatmap64.yaml trains it)")
        ckpt = read_checkpoint(path)
        old = from_dict(PoseResNetConfig, ckpt["model_config"], where="model_config") if ckpt["kind"] == "posresnet" else None
        codec = from_dict(HeatmapCodec, ckpt["codec"], where=f"{path}:codec") if old is not None else None
        inputs = (cfg.inputs.heatmaps, cfg.inputs.image)
        if old == cfg.model and (codec.heatmaps, codec.image) == inputs:
            model.load_state_dict(ckpt["model"])
        elif old is not None and dataclasses.replace(old, in_channels=cfg.model.in_channels) == cfg.model \
                and (codec.heatmaps, codec.image) == (True, False) and inputs == (True, True):
            model.load_widened(ckpt["model"], old.in_channels)  # heatmap model + zero-weight image channels
            log.info("%s: heatmap-only model widened to take image crops (zero weights on the new channels)", path)
        else:
            raise ConfigError(f"{path}: its architecture ({ckpt['kind']}: {ckpt['model_config']}, inputs "
                              f"{ {k: ckpt['codec'].get(k) for k in ('heatmaps', 'image')} }) does not fit the config's "
                              f"model {to_dict(cfg.model)} and inputs; copy its model section into the config (a "
                              "heatmap-only model can also start a heatmaps + image one)")
        return model, dataclasses.replace(codec, heatmaps=cfg.inputs.heatmaps, image=cfg.inputs.image)
    calibrated = [s for s in seqs if s.calibrated]
    if not calibrated:
        raise ConfigError("training from scratch needs calibrated labels to fit the root-size prior (uncalibrated "
                          "labels have no metric scale); set init_checkpoint to a Pose-ResNet checkpoint")
    depth, K, kp, conf = [], [], [], []
    for s in calibrated:
        ok = s.label_conf[:, 0] > 0
        for v in range(s.num_views):
            root_cam = s.label_world[ok, 0] @ s.R[v].T + s.t[v]  # (n, 3)
            c = torch.from_numpy(s.conf2d[v][ok.numpy()]).float()
            keep = HeatmapCodec.croppable(c)
            depth.append(root_cam[keep, 2])
            kp.append(torch.from_numpy(s.kp2d_px[v][ok.numpy()]).float()[keep])
            conf.append(c[keep])
            K.append(s.K[v].expand(int(keep.sum()), 3, 3))
    codec = make_codec(cfg.model, cfg.heatmaps, heatmaps=cfg.inputs.heatmaps, image=cfg.inputs.image)
    return model, codec.fitted(torch.cat(depth), torch.cat(kp), torch.cat(conf), torch.cat(K))


def _masked(conf: torch.Tensor, cfg: SelfSupData, rng: np.random.Generator) -> torch.Tensor:
    """Occlusion augmentation on ``(N, J)`` confidences: with probability ``mask_prob`` a sample loses a random
    fraction (up to ``mask_max``) of its joints, keeping at least two confident ones for the crop box."""
    N, J = conf.shape
    frac = np.where(rng.random(N) < cfg.mask_prob, rng.uniform(0, cfg.mask_max, N), 0.0)
    drop = torch.from_numpy(rng.random((N, J)) < frac[:, None])
    out = conf.masked_fill(drop, 0.0)
    return torch.where(HeatmapCodec.croppable(out)[:, None], out, conf)


def frame_index(s, T: int, fps: float) -> np.ndarray:
    """Source (video) frame of each of the ``T`` frames of ``s`` at ``fps``: the nearest one in time."""
    return np.rint(np.arange(T) * s.source_fps / fps).astype(np.int64)


def load_crops(s, codec: HeatmapCodec, fps: float) -> None:
    """Read every view's image crops (the tracker's box of each frame) from its source video into ``s.crops``."""
    s.crops = []
    for v in range(s.num_views):
        src = s.sources[v] if v < len(s.sources) else ""
        if not src or not is_video(src) or not Path(src).is_file():
            raise InputError(f"{s.name}, view {v}: image crops need the video the 2D was tracked on, but this "
                             f"view's source is {src!r} (label the videos themselves with lift3d pseudo-label)",
                             src or None)
        ok = HeatmapCodec.croppable(s.conf2d[v])
        boxes = np.zeros((len(ok), 3))
        boxes[:, 2] = 1.0  # frames without a box: a 1-pixel crop, never used
        if ok.any():
            boxes[ok] = codec.boxes(torch.from_numpy(s.kp2d_px[v][ok]).float(),
                                    torch.from_numpy(s.conf2d[v][ok]).float()).numpy()
        s.crops.append(torch.from_numpy(read_crops(src, boxes, codec.input_size, frame_index(s, len(ok), fps))))


def lift_frames(model: PoseResNet, codec: HeatmapCodec, frames: list, data: SelfSupData,
                rng: np.random.Generator, inputs: CropInputs | None = None) -> torch.Tensor:
    """``(sequence, view, frame)`` samples, their input joints masked (:func:`_masked`) and, with image input,
    their crops occluded (``inputs``) -> ``(N, J, 3)`` root-relative metres in each view's camera frame,
    differentiably. The crop box is the one of the unmasked 2D, as the tracker gives it at inference."""
    kp = torch.from_numpy(np.stack([s.kp2d_px[v, t] for s, v, t in frames])).float()
    full = torch.from_numpy(np.stack([s.conf2d[v, t] for s, v, t in frames])).float()
    conf = _masked(full, data, rng)
    kp_norm, _, K_crop = codec.crop(kp, full, torch.stack([s.K[v] for s, v, _ in frames]))
    image = None
    if codec.image:
        i = inputs or CropInputs(image=True)
        image = occlude(image_input(torch.stack([s.crops[v][t] for s, v, t in frames])), i.occlusion_prob,
                        i.occlusion_max, rng)
    return codec.decode(model(codec.model_input(kp_norm, conf, image)), K_crop)


def train_selfsup_volumetric(cfg: VolumetricSelfSupConfig, *, restart: bool = False, progress: bool = True) -> dict:
    """Train (or resume) a self-supervised Pose-ResNet run; returns the last history entry."""
    if not cfg.data.labels:
        raise ConfigError("data.labels: give at least one label file (lift3d pseudo-label)")
    torch.manual_seed(cfg.seed)
    seqs = [prepare_sequence(s, cfg.data.fps) for path in cfg.data.labels for s in read_labels(path)]
    mono = [prepare_monocular(p, cfg.data.fps) for p in cfg.data.monocular]
    val = [prepare_sequence(s, cfg.data.fps) for s in read_labels(cfg.data.val_labels)] if cfg.data.val_labels else []
    model, codec = _init(cfg, seqs)
    if codec.image:
        for s in seqs + mono + val:
            load_crops(s, codec, cfg.data.fps)
    run = open_run(cfg, model, restart=restart, best_key="best")
    # Samples: frames with at least two confident joints in every view (each view needs a crop box).
    samples = [(s, t) for s in seqs for t in np.flatnonzero(HeatmapCodec.croppable(s.conf2d).all(0))]
    mono_samples = [(s, t) for s in mono for t in np.flatnonzero(HeatmapCodec.croppable(s.conf2d[0]))]
    if not samples:
        raise InputError("no frame of the label files has two confident joints in every view", cfg.data.labels[0])
    log.info("%d labelled sequences (%d usable frames), %d monocular, %d validation; model %d parameters; "
             "root size prior %.3f m", len(seqs), len(samples), len(mono), len(val), model.num_parameters(),
             codec.root_size_m)
    weights = asdict(cfg.loss)

    def predict(s, v: int) -> torch.Tensor:
        video = s.sources[v] if codec.image else None
        return torch.from_numpy(lift_volumetric(s.kp2d_px[v].astype(np.float32), s.conf2d[v].astype(np.float32),
                                                s.K[v].numpy(), model, codec, video=video,
                                                frame_index=frame_index(s, s.num_frames, cfg.data.fps)))

    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t_start = time.time()
        rng = take_rng_stream(cfg.seed, epoch, "selfsup_posresnet")
        order = np.resize(rng.permutation(len(samples)), cfg.data.windows_per_epoch or len(samples))
        half = max(cfg.optim.batch_size // 2, 1)  # two views per sample
        model.train()
        sums, steps = {}, 0
        bar = tqdm(range(0, len(order), half), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not progress)
        for b0 in bar:
            batch = []
            for k in order[b0 : b0 + half]:
                s, t = samples[k]
                a, b = rng.choice(s.num_views, size=2, replace=False)
                batch.append((s, int(a), int(b), int(t)))
            views = [(s, a, t) for s, a, _, t in batch] + [(s, b, t) for s, _, b, t in batch]
            pred = lift_frames(model, codec, views, cfg.data, rng, cfg.inputs)  # (2B, J, 3)
            B = len(batch)
            P = torch.stack([pred[:B], pred[B:]], dim=1)[:, :, None]  # (B, 2, 1, J, 3)
            terms = {**pair_terms(P, gather_pairs(batch, 1)), "bone_symmetry": bone_symmetry_loss(pred)}
            if mono_samples and weights["monocular"]:
                pick = [mono_samples[k] for k in rng.integers(0, len(mono_samples), size=half)]
                mpred = lift_frames(model, codec, [(s, 0, t) for s, t in pick], cfg.data, rng, cfg.inputs)
                terms["monocular"] = monocular_root_term(mpred[:, None], pick, 1)
            loss = weighted_total(terms, weights)
            optimizer_step(run.opt, model, loss, cfg.optim.grad_clip)
            steps += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(label_mm=f"{1000 * sums['label'] / steps:.1f}", reproj=f"{sums['reprojection'] / steps:.3f}")
        run.sched.step()
        entry = {"epoch": epoch + 1, "train": {k: v / max(steps, 1) for k, v in sums.items()},
                 "lr": run.opt.param_groups[0]["lr"], "seconds": time.time() - t_start}
        if val:
            model.eval()
            entry.update(label_mpjpe(val, predict))
        run.history.append(entry)
        log.info("epoch %d: %s", epoch + 1, json.dumps({k: v for k, v in entry.items() if k != "train"}))
        save_epoch(run, model, cfg, epoch, entry.get("label_mpjpe_mm", entry["train"]["label"]), kind="posresnet",
                   codec=codec)
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
