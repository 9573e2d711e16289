"""``lift3d train``: the supervised lifter training loop, top to bottom.

Reads a typed config (``configs/*.yaml``), generates data (:mod:`lift3d.train.data`), trains with the named
losses (:mod:`lift3d.train.losses`) and writes ``<out_dir>/last.pt`` after every epoch (atomically) and
``<out_dir>/best.pt`` when validation MPJPE improves. A run killed at any moment resumes from ``last.pt``
with the same data, the same RNG streams and the same optimizer state.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lift3d.checkpoint import read_checkpoint, save_checkpoint
from lift3d.codec import Pose2DCodec
from lift3d.config import from_dict, to_dict
from lift3d.errors import ConfigError, InputError
from lift3d.metrics import evaluate_sequences
from lift3d.models.tcn import TCNConfig, TCN
from lift3d.train.adversarial import Adversary, DiscriminatorTraining
from lift3d.train.data import DataConfig, WindowSet, take_rng_stream, augment_flip, load_split, render_take
from lift3d.train.losses import lifter_losses, weighted_total

log = logging.getLogger(__name__)

VAL_STREAM = 1_000_000  # the validation rendering's RNG stream (epochs use their own index)


@dataclass
class LossWeights:
    position: float = 1.0
    velocity: float = 1.0
    bone_symmetry: float = 0.1
    adversarial: float = 0.0  # > 0 trains a pose discriminator alongside (the ``discriminator`` section)


@dataclass
class OptimConfig:
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    lr_decay: float = 0.95  # per epoch (VideoPose3D)
    weight_decay: float = 0.0
    grad_clip: float = 1.0


@dataclass
class TrainConfig:
    name: str
    model: TCNConfig = field(default_factory=TCNConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    codec: Pose2DCodec = field(default_factory=Pose2DCodec)
    discriminator: DiscriminatorTraining = field(default_factory=DiscriminatorTraining)
    seed: int = 0
    threads: int = 0  # torch CPU threads (0 = torch's default)
    out_dir: str = "runs/{name}"


def run_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir.format(name=cfg.name))


def resumable_config(config: dict | None) -> dict | None:
    """The parts of a config that must match to resume a run (the epoch count may grow, the thread count may
    change with the machine, and the run's directory may have been moved)."""
    if config is None:
        return None
    return {**{k: v for k, v in config.items() if k not in ("threads", "out_dir")},
            "optim": {k: v for k, v in config["optim"].items() if k != "epochs"}}


def _with_defaults(cls, config: dict | None) -> dict | None:
    """A saved config with the fields added since it was written at their defaults (None if it no longer loads)."""
    try:
        return None if config is None else to_dict(from_dict(cls, config, where="checkpoint config"))
    except ConfigError:
        return None


def rng_state() -> dict:
    """Torch's RNG (dropout); NumPy draws are re-derived from (seed, epoch, take) and need no state."""
    return {"torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])


@dataclass
class Run:
    """A run's directory, optimizer, scheduler and progress (shared by the supervised and self-supervised trainers).

    ``best`` is the best validation score so far (lower is better), saved in ``last.pt`` under ``best_key``.
    """

    out: Path
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    best_key: str
    start_epoch: int = 0
    history: list = field(default_factory=list)
    best: float = float("inf")
    train_state: dict = field(default_factory=dict)  # as resumed from last.pt (empty on a fresh run)


def open_run(cfg, model: TCN, *, restart: bool, best_key: str) -> Run:
    """Set threads, write ``config.json``, build Adam (amsgrad) with exponential decay, and resume from
    ``<out_dir>/last.pt`` (weights, optimizer, scheduler, history, RNG) unless ``restart``. ``cfg`` needs
    ``name``, ``out_dir``, ``threads`` and ``optim`` (:class:`OptimConfig`)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, amsgrad=True)
    run = Run(out, opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.optim.lr_decay), best_key)
    last = out / "last.pt"
    if last.exists() and not restart:
        ckpt = read_checkpoint(last)
        if resumable_config(_with_defaults(type(cfg), ckpt.get("config"))) != resumable_config(to_dict(cfg)):
            raise ConfigError(f"{last}: the run was started with another config; use --restart or another name")
        model.load_state_dict(ckpt["model"])
        ts = ckpt["train_state"]
        run.opt.load_state_dict(ts["optimizer"])
        run.sched.load_state_dict(ts["scheduler"])
        run.start_epoch, run.history, run.best = ts["epoch"] + 1, list(ts["history"]), ts[best_key]
        run.train_state = ts
        set_rng_state(ts["rng"])
        log.info("resuming %s at epoch %d", cfg.name, run.start_epoch + 1)
    return run


def optimizer_step(opt: torch.optim.Optimizer, model: TCN, loss: torch.Tensor, grad_clip: float) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()


def save_epoch(run: Run, model, cfg, epoch: int, score: float, *, kind: str = "tcn", codec=None,
               adversary: Adversary | None = None, extra: dict | None = None) -> None:
    """After ``run.history`` got the epoch's entry: ``best.pt`` if ``score`` improved, ``last.pt`` (with the state
    to resume from) and ``history.json``, each written atomically. ``codec`` defaults to ``cfg.codec``. An
    ``adversary``'s discriminator goes into both (``discriminator``: config and weights) and its optimizer into
    the resume state; ``extra`` items go into both as they are. A config without a codec (the discriminator's)
    saves none."""
    improved = score < run.best
    run.best = min(run.best, score)
    codec = getattr(cfg, "codec", None) if codec is None else codec
    common = dict(kind=kind, codec=codec, fps=cfg.data.fps, config=to_dict(cfg), **(extra or {}))
    if adversary is not None:
        common["discriminator"] = {"model_config": to_dict(adversary.model.config),
                                   "model": adversary.model.state_dict()}
    if improved:
        save_checkpoint(run.out / "best.pt", model, **common, history=run.history)
    train_state = {
        "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(), "epoch": epoch,
        "history": run.history, run.best_key: run.best, "rng": rng_state(),
    }
    if adversary is not None:
        train_state["adversary"] = adversary.state_dict()
    save_checkpoint(run.out / "last.pt", model, **common, train_state=train_state)
    (run.out / "history.json").write_text(json.dumps(run.history, indent=1))


@torch.no_grad()
def evaluate_windows(model: TCN, pairs: list[tuple[np.ndarray, np.ndarray]], device) -> dict:
    """Dense whole-sequence prediction on encoded sequences; metrics in mm."""
    model.eval()
    results = []
    for feats, target in pairs:
        pred = model.predict_sequence(torch.from_numpy(feats)[None].to(device))[0].cpu()  # (T, J, 3)
        results.append((Pose2DCodec.decode(pred).double(), torch.from_numpy(target).double()))
    return evaluate_sequences(results)


def train(cfg: TrainConfig, *, restart: bool = False, data_dir=None, progress: bool = True) -> dict:
    """Train (or resume) the run of ``cfg``; returns the final history entry."""
    device = torch.device("cpu")
    torch.manual_seed(cfg.seed)
    model = TCN(cfg.model).to(device)
    R = model.receptive_field()
    # Built before open_run restores the RNG, so that a resumed run draws the same random numbers afterwards.
    adversary = Adversary(cfg.discriminator, device) if cfg.loss.adversarial > 0 else None
    run = open_run(cfg, model, restart=restart, best_key="best_mpjpe_mm")
    if adversary is not None and "adversary" in run.train_state:
        adversary.load_state_dict(run.train_state["adversary"])
    n = cfg.data.sample_frames
    if n < 2:
        raise ConfigError(f"data.sample_frames must be >= 2 (velocity needs two frames), got {n}")

    log.info("loading takes (%s)", ", ".join(cfg.data.datasets))
    train_clips = load_split(cfg.data, "train", data_dir)
    val_clips = load_split(cfg.data, "val", data_dir)
    val_pairs = [
        p for clip in val_clips
        for p in render_take(clip, cfg.data, cfg.codec, take_rng_stream(cfg.seed, VAL_STREAM, clip.info.name),
                             cfg.data.val_views, noise_level=cfg.data.val_noise_level, mask=cfg.data.val_mask)
    ]
    log.info("%d train takes (%d frames), %d val sequences; model %d parameters, receptive field %d",
             len(train_clips), sum(c.pose3d_world_m.shape[0] for c in train_clips), len(val_pairs),
             model.num_parameters(), R)

    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t0 = time.time()
        pairs = [
            p for clip in train_clips
            for p in render_take(clip, cfg.data, cfg.codec, take_rng_stream(cfg.seed, epoch, clip.info.name),
                                 cfg.data.views_per_epoch, bone_jitter=cfg.data.bone_jitter)
        ]
        windows = WindowSet(pairs, R, cfg.model.causal)
        # Batch-norm momentum decays from 0.1 to 0.001 over the run (VideoPose3D, run.py).
        model.set_bn_momentum(0.1 * 0.01 ** (epoch / max(cfg.optim.epochs - 1, 1)))
        rng = take_rng_stream(cfg.seed, epoch, "order")
        idx = torch.from_numpy(windows.run_indices(rng, n, cfg.data.frames_per_epoch // n))
        half = max(cfg.optim.batch_size // n, 1)
        model.train()
        sums: dict[str, float] = {}
        steps = 0
        bar = tqdm(range(0, len(idx), half), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not progress)
        for b in bar:
            i = idx[b : b + half]
            run_idx = torch.stack([i + k for k in range(n)], dim=1).reshape(-1)  # runs of n consecutive frames
            x, y = windows.windows(run_idx)  # (nB, R, J, 3), (nB, J, 3)
            x, y = x.view(-1, n, R, *x.shape[2:]), y.view(-1, n, *y.shape[1:])  # (B, n, R, J, 3), (B, n, J, 3)
            flip = torch.from_numpy(rng.random(len(i)) < cfg.data.flip_prob)
            x, y = augment_flip(x, y, flip)
            pred = model.forward_single(x.reshape(-1, R, *x.shape[3:]).to(device))  # (nB, 1, J, 3)
            pred = Pose2DCodec.decode(pred.view(-1, n, *pred.shape[2:]))  # (B, n, J, 3)
            y = y.to(device)
            terms = lifter_losses(pred, y)
            stats = {}
            if adversary is not None:
                stats = adversary.step(y, pred)
                terms["adversarial"] = adversary.generator_term(pred)
            loss = weighted_total(terms, asdict(cfg.loss))
            optimizer_step(run.opt, model, loss, cfg.optim.grad_clip)
            steps += 1
            for k, v in {**terms, **stats}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
            bar.set_postfix(mpjpe_mm=f"{1000 * sums['position'] / steps:.1f}")
        run.sched.step()
        val = evaluate_windows(model, val_pairs, device)
        entry = {
            "epoch": epoch + 1,
            "train": {k: v / max(steps, 1) for k, v in sums.items()},
            "val_mpjpe_mm": val["mpjpe_mm"],
            "val_p_mpjpe_mm": val["p_mpjpe_mm"],
            "lr": run.opt.param_groups[0]["lr"],
            "seconds": time.time() - t0,
            "windows": int(len(idx) * n),
        }
        run.history.append(entry)
        log.info("epoch %d: train mpjpe %.1f mm, val mpjpe %.1f mm, p-mpjpe %.1f mm (%.0f s)", epoch + 1,
                 1000 * entry["train"]["position"], val["mpjpe_mm"], val["p_mpjpe_mm"], entry["seconds"])
        if progress:
            tqdm.write(f"epoch {epoch + 1}: val MPJPE {val['mpjpe_mm']:.1f} mm, P-MPJPE {val['p_mpjpe_mm']:.1f} mm")
        save_epoch(run, model, cfg, epoch, val["mpjpe_mm"], adversary=adversary)
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
