"""``lift3d train configs/pose_discriminator.yaml`` (``kind: discriminator``): the plausibility scorer.

The spatio-temporal discriminator (:mod:`lift3d.models.discriminator`) trained on its own, one label per
frame with binary cross-entropy. Real: mocap takes in the frames of fresh virtual cameras. Fake, by
``negatives``:

* ``corrupted`` (the shipped scorer): the same mocap made implausible over a random span of each window
  (:func:`corrupt`): bones that stretch and shrink, joints that jump (jitter spikes), a knee or elbow bent the
  wrong way, a left and right limb swapped (the identity switch of a 2D tracker). Frames outside the span stay
  real. The score then says how plausible a frame's pose and motion are, on a graded scale, for any lifter.
* ``lifter``: a fixed lifter's 3D for the same takes from detector-like, partly masked 2D (what the
  adversarial discriminator of a lifter run sees). On our data such a scorer separates the shipped lifter's
  output from mocap almost perfectly (BENCHMARKS.md, ``discriminator``), so every lifter frame scores near 0:
  useful as an adversary, not as an exported score.

Its per-frame probability of "real" is what ``lift3d infer --plausibility`` exports. Validation: frame
accuracy on the val split's fixed rendering (real and fake frames counted equally). Runs resume from
``last.pt`` like the lifters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from torch import Tensor
from torch.nn.functional import binary_cross_entropy_with_logits as bce

from lift3d.checkpoint import load_lifter
from lift3d.codec import flip_pose3d, root_relative
from lift3d.errors import ConfigError, InputError
from lift3d.models.discriminator import DiscriminatorConfig, PoseDiscriminator
from lift3d.skeletons import H36M17
from lift3d.infer import lift_sequence
from lift3d.train.data import DataConfig, load_split, render_views, take_rng_stream
from lift3d.train.trainer import VAL_STREAM, OptimConfig, open_run, save_epoch

log = logging.getLogger(__name__)


@dataclass
class ScorerTrainConfig:
    """``negatives``: what the fake class is (module docstring); ``lifter``: with ``negatives: lifter``, the
    checkpoint whose output is the fake class (``default``: the shipped one); ``model``: the
    discriminator's architecture; ``optim``: Adam (amsgrad) as for the lifters; ``window``: frames per sample;
    ``windows_per_epoch``: samples of each class per epoch."""

    name: str
    kind: str = "discriminator"
    negatives: Literal["corrupted", "lifter"] = "corrupted"
    lifter: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    model: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(epochs=8, batch_size=64, lr=1e-3))
    window: int = 32
    windows_per_epoch: int = 20000
    val_windows: int = 2000
    seed: int = 0
    threads: int = 0
    out_dir: str = "runs/{name}"

    def __post_init__(self):
        if self.kind != "discriminator":
            raise ConfigError(f"ScorerTrainConfig.kind must be 'discriminator', got {self.kind!r}")
        if self.window < 2:
            raise ConfigError(f"window must be >= 2 frames, got {self.window}")


CORRUPTIONS = ("stretch", "jitter", "bend", "swap")
_LIMBS = {"bend": [("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle"),
                   ("r_shoulder", "r_elbow", "r_wrist"), ("l_shoulder", "l_elbow", "l_wrist")],
          "swap": [("r_hip", "r_knee", "r_ankle"), ("r_shoulder", "r_elbow", "r_wrist")]}


def _stretch(p: Tensor, span: slice, rng: np.random.Generator) -> None:
    """1-4 bones change length by 10-40%, varying frame to frame (forward kinematics keeps the rest attached)."""
    bones = H36M17.bones
    scale = torch.ones(p.shape[0], len(bones), dtype=p.dtype)  # (T, B)
    for b in rng.choice(len(bones), size=rng.integers(1, 5), replace=False):
        amp = rng.uniform(0.1, 0.4)
        scale[span, b] = torch.from_numpy(1 + amp * rng.uniform(-1, 1, scale[span].shape[0])).to(p.dtype)
    p.copy_(torch.from_numpy(H36M17.scale_bones(p.numpy(), scale.numpy())))


def _jitter(p: Tensor, span: slice, rng: np.random.Generator) -> None:
    """1-4 joints jump by 3-10 cm (Gaussian) in every frame of the span."""
    joints = rng.choice(np.arange(1, p.shape[1]), size=rng.integers(1, 5), replace=False)
    sigma = rng.uniform(0.03, 0.1)
    n = p[span].shape[0]
    p[span, joints] += torch.from_numpy(rng.normal(0, sigma, (n, len(joints), 3))).to(p.dtype)


def _bend(p: Tensor, span: slice, rng: np.random.Generator) -> None:
    """A knee or elbow bent the other way: the distal joint mirrored through the proximal bone's line."""
    a, b, c = (H36M17.joints.index(j) for j in _LIMBS["bend"][rng.integers(len(_LIMBS["bend"]))])
    u = p[span, b] - p[span, a]
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True).clamp(min=1e-6)
    d = p[span, c] - p[span, b]
    p[span, c] = p[span, b] + 2 * (d * u).sum(-1, keepdim=True) * u - d


def _swap(p: Tensor, span: slice, rng: np.random.Generator) -> None:
    """A left and right limb (legs or arms) exchanged."""
    limb = _LIMBS["swap"][rng.integers(len(_LIMBS["swap"]))]
    right = [H36M17.joints.index(j) for j in limb]
    left = [H36M17.joints.index("l_" + j[2:]) for j in limb]
    p[span, right + left] = p[span, left + right].clone()


def corrupt(real: Tensor, rng: np.random.Generator, min_span: int = 4) -> tuple[Tensor, Tensor]:
    """Implausible copies of mocap windows ``(N, T, J, 3)`` (module docstring): one or two corruptions
    (:data:`CORRUPTIONS`) over a random span of at least ``min_span`` frames of each window. Returns the
    corrupted windows and per-frame labels ``(N, T)``: 0 inside the span (fake), 1 outside (still real)."""
    fake = real.clone()
    labels = torch.ones(real.shape[:2], dtype=real.dtype)
    T = real.shape[1]
    ops = {"stretch": _stretch, "jitter": _jitter, "bend": _bend, "swap": _swap}
    for n in range(len(real)):
        length = int(rng.integers(min(min_span, T), T + 1))
        start = int(rng.integers(0, T - length + 1))
        span = slice(start, start + length)
        for name in rng.choice(CORRUPTIONS, size=rng.integers(1, 3), replace=False):
            ops[str(name)](fake[n], span, rng)
        labels[n, span] = 0.0
    fake = fake - fake[:, :, :1]  # root-relative again (a corrupted root joint would leave it off 0)
    return fake, labels


@torch.no_grad()
def sequences(clips, cfg: ScorerTrainConfig, lifter, codec, rng_of, views: int, **render) -> list[tuple]:
    """``[(real (T, J, 3), lifted (T, J, 3) or None), ...]`` for every view of every clip: the mocap in the
    view's camera frame, root-relative, and with ``lifter`` (and its ``codec``) its 3D from the view's
    detector-like 2D."""
    out = []
    for clip in clips:
        for kp, conf, _, cam in render_views(clip, cfg.data, rng_of(clip), views, **render):
            if len(cam) < cfg.window:
                continue
            pred = None if lifter is None else lift_sequence(kp, conf, lifter, codec)
            out.append((torch.from_numpy(root_relative(cam).astype(np.float32)), pred))
    return out


def sample_windows(seqs: list[tuple], cfg: ScorerTrainConfig, count: int, rng: np.random.Generator, flip_prob: float):
    """``count`` random windows of each class: real ``(count, window, J, 3)``, fake likewise and the fake's
    per-frame labels ``(count, window)`` (1 = real): the lifter's 3D at the same places (all 0), or the real
    windows corrupted (:func:`corrupt`)."""
    window = cfg.window
    lengths = np.array([len(r) for r, _ in seqs])
    which = rng.choice(len(seqs), size=count, p=lengths / lengths.sum())
    starts = (rng.random(count) * (lengths[which] - window + 1)).astype(int)
    real = torch.stack([seqs[k][0][s : s + window] for k, s in zip(which, starts)])
    if cfg.negatives == "lifter":
        fake = torch.stack([seqs[k][1][s : s + window] for k, s in zip(which, starts)])
        labels = torch.zeros(fake.shape[:2])
    else:
        fake, labels = corrupt(real, rng)
    flip = torch.from_numpy(rng.random(count) < flip_prob)
    real[flip], fake[flip] = flip_pose3d(real[flip]), flip_pose3d(fake[flip])
    return real, fake, labels


def scorer_loss(real_logits: Tensor, fake_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """Per-frame BCE, real windows towards 1 and fake windows towards their labels (0 where corrupted), with
    real-labelled and fake-labelled frames weighing equally (a corrupted span is only part of its window)."""
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    labels = torch.cat([torch.ones(real_logits.numel(), dtype=logits.dtype), fake_labels.flatten().to(logits.dtype)])
    per_frame = bce(logits, labels, reduction="none")
    is_real = labels > 0.5
    return per_frame[is_real].mean() + per_frame[~is_real].mean()


def frame_accuracy(real_logits: Tensor, fake_logits: Tensor, fake_labels: Tensor) -> dict:
    """Accuracy over frames, real (label 1) and fake (label 0) frames counted equally."""
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    labels = torch.cat([torch.ones(real_logits.numel()), fake_labels.flatten()])
    right = (logits > 0) == (labels > 0.5)
    real_ok, fake_ok = float(right[labels > 0.5].float().mean()), float(right[labels <= 0.5].float().mean())
    return {"accuracy": 0.5 * (real_ok + fake_ok), "real_ok": real_ok, "fake_ok": fake_ok}


@torch.no_grad()
def _judge(model: PoseDiscriminator, x: Tensor, batch: int = 256) -> Tensor:
    model.eval()
    return torch.cat([model(x[b : b + batch]) for b in range(0, len(x), batch)])


def train_scorer(cfg: ScorerTrainConfig, *, restart: bool = False, data_dir=None, progress: bool = True) -> dict:
    torch.manual_seed(cfg.seed)
    model = PoseDiscriminator(cfg.model)
    run = open_run(cfg, model, restart=restart, best_key="best_error")
    lifter, codec, lifter_id = None, None, None
    if cfg.negatives == "lifter":
        lifter, codec, ckpt = load_lifter(None if cfg.lifter == "default" else cfg.lifter)
        if ckpt["kind"] != "tcn":
            raise InputError(f"the scorer is trained against a temporal lifter, not a {ckpt['kind']!r}", cfg.lifter)
        lifter_id = ckpt.get("id")
    train_clips, val_clips = load_split(cfg.data, "train", data_dir), load_split(cfg.data, "val", data_dir)
    val_seqs = sequences(val_clips, cfg, lifter, codec, lambda c: take_rng_stream(cfg.seed, VAL_STREAM, c.info.name),
                         cfg.data.val_views, noise_level=cfg.data.val_noise_level, mask=cfg.data.val_mask)
    val = sample_windows(val_seqs, cfg, cfg.val_windows, take_rng_stream(cfg.seed, VAL_STREAM, "windows"), 0.0)
    log.info("%d train takes, %d val sequences; discriminator %d parameters, negatives: %s", len(train_clips),
             len(val_seqs), model.num_parameters(), cfg.negatives)
    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t0 = time.time()
        seqs = sequences(train_clips, cfg, lifter, codec, lambda c: take_rng_stream(cfg.seed, epoch, c.info.name),
                         cfg.data.views_per_epoch, bone_jitter=cfg.data.bone_jitter)
        rng = take_rng_stream(cfg.seed, epoch, "windows")
        real, fake, labels = sample_windows(seqs, cfg, cfg.windows_per_epoch, rng, cfg.data.flip_prob)
        model.train()
        sums = {"disc": 0.0, "disc_acc": 0.0}
        steps = 0
        bar = tqdm(range(0, len(real), cfg.optim.batch_size), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                   disable=not progress)
        for b in bar:
            sl = slice(b, b + cfg.optim.batch_size)
            r, f = model(real[sl]), model(fake[sl])
            loss = scorer_loss(r, f, labels[sl])
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            run.opt.step()
            steps += 1
            sums["disc"] += float(loss.detach())
            sums["disc_acc"] += frame_accuracy(r.detach(), f.detach(), labels[sl])["accuracy"]
            bar.set_postfix(acc=f"{sums['disc_acc'] / steps:.3f}")
        run.sched.step()
        res = frame_accuracy(_judge(model, val[0]), _judge(model, val[1]), val[2])
        entry = {"epoch": epoch + 1, "train": {k: v / max(steps, 1) for k, v in sums.items()},
                 "val_accuracy": res["accuracy"], "val_real_ok": res["real_ok"], "val_fake_ok": res["fake_ok"],
                 "lr": run.opt.param_groups[0]["lr"], "seconds": time.time() - t0}
        run.history.append(entry)
        log.info("epoch %d: val accuracy %.3f (real %.3f, fake %.3f)", epoch + 1, res["accuracy"], res["real_ok"],
                 res["fake_ok"])
        save_epoch(run, model, cfg, epoch, 1.0 - res["accuracy"], kind="discriminator",
                   extra={"negatives": cfg.negatives, "lifter_id": lifter_id, "window": cfg.window})
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
