"""``lift3d train configs/selfsup_multiview.yaml``: the lifter trained from multi-view 2D alone.

Reads label files from ``lift3d pseudo-label`` (views' 2D, epipolar labels, cameras; never ground-truth 3D)
and, optionally, monocular 2D files for semi-supervision. Each step takes windows of the same frames seen from
two views ``a`` and ``b`` of a sequence, lifts both (``frames`` consecutive outputs each, dense dilated form),
and combines (weights in ``loss``, summed once):

- ``label``: distance to the labels in each view's camera frame, weighted by label confidence (scale-invariant
  for uncalibrated labels, whose scale is only normalised);
- ``reprojection``: each prediction, rotated into every view and placed at the label's root, projected and
  compared with that view's 2D, weighted by 2D confidence (the 3D-to-2D dual task);
- ``consistency``: the two views' predictions, rotated into the world, agree;
- ``bone_symmetry`` and ``bone_constancy`` (bone lengths constant over the window);
- ``monocular``: for monocular sequences, the root solved in closed form and the prediction reprojected into
  its own view (:func:`lift3d.train.selfsup_losses.solve_root`).

Input 2D is masked like supervised training (random joints and spans set to confidence 0); the losses use the
unmasked 2D. Validation, when ``data.val_labels`` is set, is MPJPE against those labels. A run resumes from
``last.pt`` after a kill, like :mod:`lift3d.train.trainer`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from tqdm import tqdm

from lift3d.checkpoint import DEFAULT_LIFTER, load_lifter
from lift3d.codec import Pose2DCodec, root_relative
from lift3d.config import to_dict
from lift3d.data.noise_2d import dropout_mask
from lift3d.errors import ConfigError, InputError
from lift3d.infer import lift_sequence, resample
from lift3d.io.kp2d import MultiViewShape, read_keypoints
from lift3d.models.tcn import TCN, TCNConfig
from lift3d.multiview.labels import person_size_px
from lift3d.multiview.labels_h5 import LabelledSequence, read_labels
from lift3d.multiview.selfcal import guess_intrinsics
from lift3d.multiview.views import MultiView2D
from lift3d.metrics import fit_scale, mpjpe
from lift3d.train import selfsup_losses as L
from lift3d.train.data import take_rng_stream
from lift3d.train.losses import bone_symmetry_loss, weighted_total
from lift3d.train.trainer import OptimConfig, open_run, optimizer_step, save_epoch

log = logging.getLogger(__name__)


@dataclass
class SelfSupData:
    """Attributes:
        labels: label files (``lift3d pseudo-label``) to train on.
        val_labels: a label file of other sequences for validation (optional).
        monocular: 2D files (``lift3d track`` .h5 and the like, with their image size) for semi-supervision.
        fps: the lifter's frame rate; sequences at other rates are resampled.
        frames: consecutive frames lifted per window (for bone constancy).
        mask_prob, mask_max, mask_run_frames: input keypoint masking, as in supervised training.
        windows_per_epoch: windows (view pairs) per epoch; 0 = one per frame of every sequence.
    """

    labels: list[str] = field(default_factory=list)
    val_labels: str = ""
    monocular: list[str] = field(default_factory=list)
    fps: float = 30.0
    frames: int = 9
    mask_prob: float = 0.7
    mask_max: float = 0.4
    mask_run_frames: list[float] = field(default_factory=lambda: [1.0, 5.0, 20.0])
    windows_per_epoch: int = 0


@dataclass
class SelfSupLoss:
    label: float = 1.0
    reprojection: float = 1.0
    consistency: float = 0.5
    bone_symmetry: float = 0.1
    bone_constancy: float = 0.1
    monocular: float = 0.5


@dataclass
class SelfSupConfig:
    name: str
    kind: str = "selfsup"
    model: TCNConfig | None = None  # None: init_checkpoint's architecture (TCNConfig's defaults from scratch)
    data: SelfSupData = field(default_factory=SelfSupData)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: SelfSupLoss = field(default_factory=SelfSupLoss)
    codec: Pose2DCodec = field(default_factory=Pose2DCodec)
    init_checkpoint: str = ""  # a checkpoint to fine-tune ("default": the shipped lifter); "" = from scratch
    seed: int = 0
    threads: int = 0
    out_dir: str = "runs/{name}"

    def __post_init__(self) -> None:
        if self.kind != "selfsup":
            raise ConfigError(f"kind must be 'selfsup' for a self-supervised config, got {self.kind!r}")


@dataclass
class _Seq(MultiViewShape):
    """A sequence ready for training: everything as float32 tensors at the lifter's frame rate."""

    name: str
    kp2d_px: np.ndarray  # (V, T, J, 2) as detected (lifter input)
    conf2d: np.ndarray  # (V, T, J)
    undist_px: torch.Tensor  # (V, T, J, 2) undistorted (reprojection targets)
    size_px: torch.Tensor  # (V,)
    K: torch.Tensor  # (V, 3, 3)
    R: torch.Tensor  # (V, 3, 3)
    t: torch.Tensor  # (V, 3)
    label_world: torch.Tensor | None  # (T, J, 3)
    label_conf: torch.Tensor | None  # (T, J)
    calibrated: bool
    sources: tuple[str, ...] = ()  # per view: the video (or 2D file) the 2D came from
    source_fps: float = 0.0  # their frame rate (frame t here is source frame t * source_fps / fps)
    crops: list | None = None  # per view: (T, S, S, 3) uint8 image crops, for Pose-ResNets that take them
    conf2d_t: torch.Tensor = field(init=False)  # conf2d as float32, the losses' weights

    def __post_init__(self) -> None:
        self.conf2d_t = _f32(self.conf2d)


def _f32(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def _resample_masked(values: np.ndarray, conf: np.ndarray, src: float, dst: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(T, ...)`` values and ``(T, ...)`` confidences; a sample next to a missing one is missing."""
    if abs(src - dst) < 1e-3:
        return values, conf
    v = resample(values, src, dst)
    c = resample(conf, src, dst)
    gap = resample((conf <= 0).astype(np.float64), src, dst) > 0
    return v, np.where(gap, 0.0, c)


def prepare_sequence(s: LabelledSequence, fps: float) -> _Seq:
    views, lab = s.views, s.labels
    cams = lab.cameras.to(dtype=torch.float64)
    V, T, J = views.conf.shape
    undist = cams.undistort(torch.from_numpy(views.kp2d_px).reshape(V, T * J, 2)).reshape(V, T, J, 2).numpy()
    kp, conf, und = [], [], []
    for v in range(V):
        k_v, c_v = _resample_masked(views.kp2d_px[v], views.conf[v], views.fps, fps)
        u_v, _ = _resample_masked(undist[v], views.conf[v], views.fps, fps)
        kp.append(k_v), conf.append(c_v), und.append(u_v)
    X, Xc = _resample_masked(lab.pose3d_world_m, lab.conf * lab.frame_valid[:, None], views.fps, fps)
    return _Seq(name=s.name, kp2d_px=np.stack(kp), conf2d=np.stack(conf), undist_px=_f32(np.stack(und)),
                size_px=_f32(person_size_px(views)), K=_f32(cams.K), R=_f32(cams.R), t=_f32(cams.t),
                label_world=_f32(X), label_conf=_f32(Xc), calibrated=lab.calibrated,
                sources=tuple(views.sources), source_fps=float(views.fps))


def prepare_monocular(path: str, fps: float) -> _Seq:
    kp = read_keypoints(path).to_h36m()
    if kp.image_size is None:
        raise InputError("monocular 2D for semi-supervision must record its image size (lift3d track output does)", path)
    k, c = _resample_masked(kp.kp2d_px.astype(np.float64), kp.conf.astype(np.float64), kp.fps, fps)
    mv = MultiView2D(kp2d_px=np.stack([k, k]), conf=np.stack([c, c]), fps=fps, names=("a", "b"))
    K = guess_intrinsics(np.asarray([kp.image_size], np.float64))
    return _Seq(name=str(path), kp2d_px=k[None], conf2d=c[None], undist_px=_f32(k[None]),
                size_px=_f32(person_size_px(mv)[:1]), K=_f32(K), R=torch.eye(3)[None], t=torch.zeros(1, 3),
                label_world=None, label_conf=None, calibrated=False, sources=(kp.source,), source_fps=float(kp.fps))


class _Windows:
    """Encoded, masked, padded inputs of every (sequence, view) of an epoch, served as windows of
    ``R + frames - 1`` frames whose ``frames`` outputs are frames ``t0 .. t0 + frames - 1``."""

    def __init__(self, seqs: list[_Seq], cfg: SelfSupConfig, R: int, rng: np.random.Generator):
        d = cfg.data
        self.R, self.F = R, d.frames
        self.before = R - 1 if cfg.model.causal else R // 2
        after = 0 if cfg.model.causal else R // 2
        self.feats = []  # per sequence: (V, T + pad, J, 3)
        for s in seqs:
            per_view = []
            for v in range(s.num_views):
                conf = s.conf2d[v].copy()
                if rng.random() < d.mask_prob:
                    conf[dropout_mask(conf.shape, rng.uniform(0, d.mask_max), float(rng.choice(d.mask_run_frames)), rng)] = 0
                f = cfg.codec.encode(s.kp2d_px[v], conf)
                per_view.append(np.pad(f, ((self.before, after + self.F - 1), (0, 0), (0, 0)), mode="edge"))
            self.feats.append(torch.from_numpy(np.stack(per_view)))

    def inputs(self, seq: int, view: int, t0: int) -> torch.Tensor:
        return self.feats[seq][view, t0 : t0 + self.R + self.F - 1]  # (R + F - 1, J, 3)


def _frames(s: _Seq, t0: int, F: int) -> torch.Tensor:
    return torch.clamp(torch.arange(t0, t0 + F), max=s.num_frames - 1)


def gather_pairs(batch: list[tuple[_Seq, int, int, int]], F: int) -> dict[str, torch.Tensor]:
    """Stack the per-sample cameras, 2D and labels of ``(sequence, view a, view b, first frame)`` samples.

    Views are padded to the batch's largest view count with confidence-0 views (``view_ok`` marks the real
    ones), so every loss below runs once over the whole batch.
    """
    V = max(s.num_views for s, *_ in batch)
    out = {k: [] for k in ("R", "t", "K", "undist", "conf2d", "size", "X", "Xc", "view_ok")}
    for s, _, _, t0 in batch:
        fr = _frames(s, t0, F)
        pad = V - s.num_views
        parts = {"R": s.R, "t": s.t, "K": s.K, "undist": s.undist_px[:, fr], "conf2d": s.conf2d_t[:, fr],
                 "size": s.size_px, "view_ok": torch.ones(s.num_views)}
        if pad:
            fill = {"R": torch.eye(3).expand(pad, 3, 3), "K": torch.eye(3).expand(pad, 3, 3),
                    "t": torch.tensor([0.0, 0.0, 1.0]).expand(pad, 3), "size": torch.ones(pad)}
            parts = {k: torch.cat([v, fill[k] if k in fill else v.new_zeros((pad, *v.shape[1:]))]) for k, v in parts.items()}
        for k, v in parts.items():
            out[k].append(v)
        out["X"].append(s.label_world[fr])
        out["Xc"].append(s.label_conf[fr])
    g = {k: torch.stack(v) for k, v in out.items()}  # (B, V, ...) and labels (B, F, J, ...)
    g["calibrated"] = torch.tensor([s.calibrated for s, *_ in batch])
    g["views"] = torch.tensor([[a, b] for _, a, b, _ in batch])  # (B, 2)
    return g


def multiview_terms(model: TCN, batch: list[tuple[_Seq, int, int, int]], win: _Windows, seq_index: dict) -> dict:
    """Loss terms of a batch of ``(sequence, view a, view b, first frame)`` samples (:func:`pair_terms` plus
    the bone terms of the windows)."""
    xa = torch.stack([win.inputs(seq_index[id(s)], a, t0) for s, a, _, t0 in batch])  # (B, R+F-1, J, 3)
    xb = torch.stack([win.inputs(seq_index[id(s)], b, t0) for s, _, b, t0 in batch])
    pred = Pose2DCodec.decode(model(torch.cat([xa, xb])))  # (2B, F, J, 3) root-relative, own camera
    B = len(batch)
    P = torch.stack([pred[:B], pred[B:]], dim=1)  # (B, 2, F, J, 3): the predictions in views a and b
    return {
        **pair_terms(P, gather_pairs(batch, win.F)),
        "bone_symmetry": bone_symmetry_loss(pred),
        "bone_constancy": L.bone_constancy_loss(pred),
    }


def pair_terms(P: torch.Tensor, g: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Label, reprojection and consistency terms of two views' predictions of the same frames.

    Args:
        P: ``(B, 2, F, J, 3)`` root-relative predictions, metres, each in its own camera frame (views
            ``g["views"]``), by any lifter.
        g: the batch's cameras, 2D and labels (:func:`gather_pairs`).

    Each term is a mean over samples (and over predicted view x target view for the reprojection) of
    per-sample confidence-weighted means, all computed at once over the batch.
    """
    B = P.shape[0]
    X, Xc = g["X"], g["Xc"]  # (B, F, J, 3), (B, F, J)
    root_ok = (Xc[..., 0] > 0).float()  # (B, F) labels are root-relative: need the root
    w = Xc * root_ok[..., None]  # (B, F, J)
    rows = torch.arange(B)[:, None]
    Rv, tv = g["R"][rows, g["views"]], g["t"][rows, g["views"]]  # (B, 2, 3, 3), (B, 2, 3)

    # Labels in the predicting view's camera frame; uncalibrated ones only up to scale (N-MPJPE's fit).
    lab = root_relative(X[:, None] @ Rv.mT[:, :, None] + tv[:, :, None, None])  # (B, 2, F, J, 3)
    wl = w[:, None].expand(-1, 2, -1, -1)
    label = torch.where(g["calibrated"][:, None], L.label_loss(P, lab, wl, dims=(2, 3)),
                        L.scale_invariant_label_loss(P, lab, wl, dims=(2, 3))).mean()  # of (B, 2)

    # Each prediction rotated to the world (R^T p) and placed at the label's root in every view c.
    p_world = P @ Rv[:, :, None]  # (B, 2, F, J, 3)
    roots = X[:, None, :, 0] @ g["R"].mT + g["t"][:, :, None]  # (B, V, F, 3)
    pts = p_world[:, :, None] @ g["R"].mT[:, None, :, None] + roots[:, None, :, :, None]  # (B, 2, V, F, J, 3)
    conf2d = (g["conf2d"] * root_ok[:, None, :, None])[:, None]  # (B, 1, V, F, J)
    per_view = L.reprojection_loss(pts, g["undist"][:, None], conf2d, g["K"][:, None, :, None],
                                   g["size"][:, None, :, None], dims=(3, 4))  # (B, 2, V)
    ok = g["view_ok"][:, None].expand_as(per_view)
    reprojection = (per_view * ok).sum() / ok.sum()

    consistency = L.consistency_loss(p_world[:, 0], p_world[:, 1], root_ok, dims=(1,)).mean()
    return {"label": label, "reprojection": reprojection, "consistency": consistency}


def monocular_root_term(pred: torch.Tensor, batch: list[tuple[_Seq, int]], F: int) -> torch.Tensor:
    """Reprojection of monocular predictions ``(B, F, J, 3)`` of frames ``t0 .. t0 + F - 1`` of each
    ``(sequence, t0)``, placed at their closed-form root (:func:`lift3d.train.selfsup_losses.solve_root`)."""
    frames = [_frames(s, t0, F) for s, t0 in batch]
    kp = torch.stack([s.undist_px[0, fr] for (s, _), fr in zip(batch, frames)])  # (B, F, J, 2)
    c = torch.stack([s.conf2d_t[0, fr] for (s, _), fr in zip(batch, frames)])  # (B, F, J)
    K = torch.stack([s.K[0] for s, _ in batch])[:, None]  # (B, 1, 3, 3)
    size = torch.stack([s.size_px[0] for s, _ in batch])  # (B,)
    root = L.solve_root(pred, kp, c, K)  # (B, F, 3)
    return L.reprojection_loss(pred + root[..., None, :], kp, c, K, size[:, None], dims=(1, 2)).mean()


def monocular_term(model: TCN, batch: list[tuple[_Seq, int]], win: _Windows, seq_index: dict) -> torch.Tensor:
    """Reprojection of monocular windows placed at their closed-form root, mean over samples."""
    x = torch.stack([win.inputs(seq_index[id(s)], 0, t0) for s, t0 in batch])
    return monocular_root_term(Pose2DCodec.decode(model(x)), batch, win.F)  # (B, F, J, 3) predicted


@torch.no_grad()
def label_mpjpe(seqs: list[_Seq], predict) -> dict:
    """MPJPE (mm) of ``predict(sequence, view) -> (T, J, 3)`` (root-relative, that view's camera frame) against
    the labels, scale-aligned for uncalibrated labels, over labelled joints of frames whose root is labelled."""
    err, n = 0.0, 0.0
    for s in seqs:
        for v in range(s.num_views):
            pred = predict(s, v)
            lab = root_relative(s.label_world @ s.R[v].T + s.t[v])
            w = s.label_conf * (s.label_conf[:, :1] > 0)
            m = (w > 0).float()
            if not s.calibrated:  # no true scale: each pose scaled to its label first (N-MPJPE's fit)
                pred = pred * fit_scale(pred, lab, w)[:, None, None]
            e = mpjpe(pred, lab) * m
            err += float(e.sum())
            n += float(m.sum())
    return {"label_mpjpe_mm": 1000 * err / max(n, 1.0)}


def validate(model: TCN, seqs: list[_Seq], codec: Pose2DCodec) -> dict:
    """:func:`label_mpjpe` of whole-sequence predictions."""
    model.eval()
    return label_mpjpe(seqs, lambda s, v: lift_sequence(s.kp2d_px[v], s.conf2d[v], model, codec))


def _init_model(cfg: SelfSupConfig) -> tuple[TCN, SelfSupConfig]:
    """The model to train and ``cfg`` with its architecture resolved: a config without a ``model`` section takes
    ``init_checkpoint``'s (``TCNConfig``'s defaults from scratch); one with a section must match the checkpoint."""
    if not cfg.init_checkpoint:
        cfg = cfg if cfg.model is not None else replace(cfg, model=TCNConfig())
        return TCN(cfg.model), cfg
    path = DEFAULT_LIFTER if cfg.init_checkpoint == "default" else cfg.init_checkpoint
    model, _, ckpt = load_lifter(path)
    if ckpt["kind"] != "tcn":
        raise ConfigError(f"{path}: a {ckpt['kind']!r} checkpoint; init_checkpoint takes a temporal lifter ('tcn')")
    # Compared as configs, not dicts: a checkpoint written before a field existed has its default.
    if cfg.model is None:
        cfg = replace(cfg, model=model.config)
    elif model.config != cfg.model:
        raise ConfigError(f"{path}: its architecture {to_dict(model.config)} differs from the config's model "
                          f"{to_dict(cfg.model)}; remove the config's model section to take the checkpoint's")
    return model, cfg


def train_selfsup(cfg: SelfSupConfig, *, restart: bool = False, progress: bool = True) -> dict:
    """Train (or resume) a self-supervised run; returns the last history entry."""
    if not cfg.data.labels:
        raise ConfigError("data.labels: give at least one label file (lift3d pseudo-label)")
    torch.manual_seed(cfg.seed)
    model, cfg = _init_model(cfg)
    R, F = model.receptive_field(), cfg.data.frames
    run = open_run(cfg, model, restart=restart, best_key="best")

    seqs = [prepare_sequence(s, cfg.data.fps) for path in cfg.data.labels for s in read_labels(path)]
    mono = [prepare_monocular(p, cfg.data.fps) for p in cfg.data.monocular]
    val = [prepare_sequence(s, cfg.data.fps) for s in read_labels(cfg.data.val_labels)] if cfg.data.val_labels else []
    index = {id(s): i for i, s in enumerate(seqs + mono)}
    starts = [(s, t0) for s in seqs for t0 in range(0, s.num_frames, F)]
    mono_starts = [(s, t0) for s in mono for t0 in range(0, s.num_frames, F)]
    log.info("%d labelled sequences (%d frames), %d monocular, %d validation; model %d parameters, receptive field %d",
             len(seqs), sum(s.num_frames for s in seqs), len(mono), len(val), model.num_parameters(), R)
    weights = asdict(cfg.loss)
    for epoch in range(run.start_epoch, cfg.optim.epochs):
        t_start = time.time()
        rng = take_rng_stream(cfg.seed, epoch, "selfsup")
        win = _Windows(seqs + mono, cfg, R, rng)
        order = rng.permutation(len(starts))
        n = cfg.data.windows_per_epoch or len(order) * F
        order = np.resize(order, max(n // F, 1))
        half = max(cfg.optim.batch_size // (2 * F), 1)  # two views per sample, F frames each
        model.set_bn_momentum(0.1 * 0.01 ** (epoch / max(cfg.optim.epochs - 1, 1)))
        model.train()
        sums, steps = {}, 0
        bar = tqdm(range(0, len(order), half), desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not progress)
        for b0 in bar:
            batch = []
            for k in order[b0 : b0 + half]:
                s, t0 = starts[k]
                a, b = rng.choice(s.num_views, size=2, replace=False)
                batch.append((s, int(a), int(b), t0))
            terms = multiview_terms(model, batch, win, index)
            if mono_starts and weights["monocular"]:
                pick = rng.integers(0, len(mono_starts), size=half)
                terms["monocular"] = monocular_term(model, [mono_starts[k] for k in pick], win, index)
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
            entry.update(validate(model, val, cfg.codec))
        score = entry.get("label_mpjpe_mm", entry["train"]["label"])
        run.history.append(entry)
        log.info("epoch %d: %s", epoch + 1, json.dumps({k: v for k, v in entry.items() if k != "train"}))
        save_epoch(run, model, cfg, epoch, score)
    if not run.history:
        raise InputError(f"nothing to train: optim.epochs={cfg.optim.epochs}")
    return run.history[-1]
