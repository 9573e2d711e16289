"""``lift3d train configs/pose_discriminator.yaml`` (``kind: discriminator``): the plausibility scorer.

The spatio-temporal discriminator (:mod:`lift3d.models.discriminator`) trained on its own to tell mocap
sequences (real) from a fixed lifter's 3D for the same takes seen by fresh virtual cameras with detector-like,
partly masked 2D (fake), with :func:`lift3d.train.adversarial.discriminator_loss`. Its per-frame probability
of "real" is the plausibility score ``lift3d infer --plausibility`` exports. Validation: frame accuracy on the
val split's fixed rendering (real and fake counted equally). Runs resume from ``last.pt`` like the lifters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from lift3d.checkpoint import load_lifter
from lift3d.codec import Pose2DCodec, flip_pose3d
from lift3d.errors import ConfigError, InputError
from lift3d.models.discriminator import DiscriminatorConfig, PoseDiscriminator
from lift3d.train.adversarial import accuracy, discriminator_loss
from lift3d.train.data import DataConfig, load_split, render_take, take_rng_stream
from lift3d.train.trainer import VAL_STREAM, OptimConfig, open_run, save_epoch

log = logging.getLogger(__name__)


@dataclass
class ScorerTrainConfig:
    """``lifter``: checkpoint whose output is the "fake" class (``default``: the shipped one); ``model``: the
    discriminator's architecture; ``optim``: Adam (amsgrad) as for the lifters; ``window``: frames per sample;
    ``windows_per_epoch``: samples of each class per epoch."""

    name: str
    kind: str = "discriminator"
    lifter: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    model: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(epochs=8, batch_size=64, lr=1e-3))
    window: int = 32
    windows_per_epoch: int = 20000
    seed: int = 0
    threads: int = 0
    out_dir: str = "runs/{name}"

    def __post_init__(self):
        if self.kind != "discriminator":
            raise ConfigError(f"ScorerTrainConfig.kind must be 'discriminator', got {self.kind!r}")
        if self.window < 2:
            raise ConfigError(f"window must be >= 2 frames, got {self.window}")


@torch.no_grad()
def lifted_pairs(clips, cfg: ScorerTrainConfig, lifter, codec, rng_of, views: int, **render) -> list[tuple]:
    """``[(real (T, J, 3), fake (T, J, 3)), ...]`` for every view of every clip: the mocap target and the
    lifter's 3D from the view's corrupted 2D."""
    out = []
    for clip in clips:
        for feats, target in render_take(clip, cfg.data, codec, rng_of(clip), views, **render):
            if len(target) < cfg.window:
                continue
            pred = Pose2DCodec.decode(lifter.predict_sequence(torch.from_numpy(feats)[None], chunk=4096)[0])
            out.append((torch.from_numpy(target), pred.float()))
    return out


def sample_windows(pairs: list[tuple], window: int, count: int, rng: np.random.Generator, flip_prob: float):
    """``count`` random windows of each class: real and fake ``(count, window, J, 3)`` from the same places."""
    lengths = np.array([len(r) for r, _ in pairs])
    which = rng.choice(len(pairs), size=count, p=lengths / lengths.sum())
    starts = (rng.random(count) * (lengths[which] - window + 1)).astype(int)
    real = torch.stack([pairs[k][0][s : s + window] for k, s in zip(which, starts)])
    fake = torch.stack([pairs[k][1][s : s + window] for k, s in zip(which, starts)])
    flip = torch.from_numpy(rng.random(count) < flip_prob)
    real[flip], fake[flip] = flip_pose3d(real[flip]), flip_pose3d(fake[flip])
    return real, fake


@torch.no_grad()
def frame_accuracy(model: PoseDiscriminator, pairs: list[tuple]) -> dict:
    """Accuracy over every frame of whole sequences (real > 0, fake <= 0, classes counted equally)."""
    model.eval()
    real_ok = fake_ok = n = 0
    for real, fake in pairs:
        r, f = model(real[None])[0], model(fake[None])[0]
        real_ok += int((r > 0).sum())
        fake_ok += int((f <= 0).sum())
        n += len(r)
    return {"accuracy": 0.5 * (real_ok + fake_ok) / n, "real_ok": real_ok / n, "fake_ok": fake_ok / n, "frames": n}


def train_scorer(cfg: ScorerTrainConfig, *, restart: bool = False, data_dir=None, progress: bool = True) -> dict:
    torch.manual_seed(cfg.seed)
    model = PoseDiscriminator(cfg.model)
    run = open_run(cfg, model, restart=restart, best_key="best_error")
    lifter, codec, ckpt = load_lifter(None if cfg.lifter == "default" else cfg.lifter)
    if ckpt["kind"] != "tcn":
        raise InputError(f"the scorer is trained against a temporal lifter, not a {ckpt['kind']!r}", cfg.lifter)
    train_clips, val_clips = load_split(cfg.data, "train", data_dir), load_split(cfg.data, "val", data_dir)
    val = lifted_pairs(val_clips, cfg, lifter, codec, lambda c: take_rng_stream(cfg.seed, VAL_STREAM, c.info.name),
                       cfg.data.val_views, noise_level=cfg.data.val_noise_level, mask=cfg.data.val_mask)
    log.info("%d train takes, %d val sequences; discriminator %d parameters", len(train_clips), len(val),
             model.num_parameters())
    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t0 = time.time()
        pairs = lifted_pairs(train_clips, cfg, lifter, codec, lambda c: take_rng_stream(cfg.seed, epoch, c.info.name),
                             cfg.data.views_per_epoch)
        rng = take_rng_stream(cfg.seed, epoch, "windows")
        real, fake = sample_windows(pairs, cfg.window, cfg.windows_per_epoch, rng, cfg.data.flip_prob)
        model.train()
        sums = {"disc": 0.0, "disc_acc": 0.0}
        steps = 0
        bar = tqdm(range(0, len(real), cfg.optim.batch_size), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                   disable=not progress)
        for b in bar:
            r, f = model(real[b : b + cfg.optim.batch_size]), model(fake[b : b + cfg.optim.batch_size])
            loss = discriminator_loss(r, f)
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            run.opt.step()
            steps += 1
            sums["disc"] += float(loss.detach())
            sums["disc_acc"] += float(accuracy(r.detach(), f.detach()))
            bar.set_postfix(acc=f"{sums['disc_acc'] / steps:.3f}")
        run.sched.step()
        res = frame_accuracy(model, val)
        entry = {"epoch": epoch + 1, "train": {k: v / max(steps, 1) for k, v in sums.items()},
                 "val_accuracy": res["accuracy"], "val_real_ok": res["real_ok"], "val_fake_ok": res["fake_ok"],
                 "lr": run.opt.param_groups[0]["lr"], "seconds": time.time() - t0}
        run.history.append(entry)
        log.info("epoch %d: val accuracy %.3f (real %.3f, fake %.3f)", epoch + 1, res["accuracy"], res["real_ok"],
                 res["fake_ok"])
        save_epoch(run, model, cfg, epoch, 1.0 - res["accuracy"], kind="discriminator",
                   extra={"lifter_id": ckpt.get("id"), "window": cfg.window})
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
