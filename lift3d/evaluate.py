"""``lift3d evaluate``: a lifter on a ``build-mocap`` file, under clean, noisy or masked 2D.

Each view of each sequence is lifted on its own (monocular) and compared with the ground truth in that
camera's frame, root-relative, in millimetres (:func:`lift3d.metrics.evaluate_sequences`).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from lift3d.checkpoint import DEFAULT_LIFTER, checkpoint_id, load_lifter
from lift3d.codec import root_relative
from lift3d.data.mocap_h5 import read_multiview_h5
from lift3d.data.noise_2d import dropout_mask
from lift3d.errors import InputError
from lift3d.infer import FUSE_WEIGHT, fuse, lift_sequence, lift_volumetric, load_fusion_partner, steady_per_frame
from lift3d.metrics import evaluate_sequences
from lift3d.tracking.gaps import fill_gaps


def mask_joints(conf: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Set ``round(fraction * J)`` random joints of every frame to confidence 0: ``(..., J)``."""
    J = conf.shape[-1]
    k = int(round(fraction * J))
    if k == 0:
        return conf
    order = rng.random(conf.shape).argsort(axis=-1)
    out = conf.copy()
    np.put_along_axis(out, order[..., :k], 0.0, axis=-1)
    return out


def mask_runs(conf: np.ndarray, fraction: float, run_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Set about ``fraction`` of the joint-frames of ``(T, J)`` to confidence 0, in runs of frames of mean length
    ``run_frames`` per joint (a detector losing a joint for a while: :func:`lift3d.data.noise_2d.dropout_mask`)."""
    out = conf.copy()
    out[dropout_mask(conf.shape, fraction, run_frames, rng)] = 0.0
    return out


@torch.no_grad()
def predict_views(
    data: str | Path,
    checkpoint: str | Path | None = None,
    *,
    input_2d: Literal["clean", "noisy"] = "noisy",
    mask: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = False,
    fuse_with: str | Path | None = None,
    fuse_weight: float = FUSE_WEIGHT,
    frame_step: int = 1,
    fill_gap_s: float = 0.0,
    mask_run_frames: float = 0.0,
    flip: bool = False,
    smooth_s: float = 0.0,
    rigid: bool = False,
    views: int | None = None,
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[dict], str]:
    """A lifter's 3D for every view of every sequence of ``data``, as :func:`evaluate_file` scores it:
    ``(pairs, names, checkpoint_id)``, with ``pairs`` a ``(prediction, target)`` of root-relative camera-frame
    metres ``(T, J, 3)`` (float64) per view, and ``names`` its sequence, view and subject. The joints masked
    depend only on ``seed``, ``mask`` and the file, so two lifters called alike see the same 2D: ``round(mask *
    17)`` random joints of every frame (:func:`mask_joints`), or with ``mask_run_frames > 0`` about ``mask`` of
    the joint-frames in runs of that mean length (:func:`mask_runs`). ``fill_gap_s``: each joint is then
    interpolated across its gaps of at most this many seconds (as ``lift3d infer`` does,
    :func:`lift3d.infer.fill_2d_gaps`; 0: the 2D as given). ``flip``: a temporal lifter (alone or fused) averages
    in its mirrored 3D of the mirrored 2D (as ``lift3d infer --flip`` does, :func:`lift3d.infer.lift_sequence`).
    ``smooth_s``: a Pose-ResNet's per-frame 3D is smoothed over time first (as ``lift3d infer`` does,
    :func:`lift3d.infer.smooth_per_frame`; needs every frame, ``frame_step`` 1). ``rigid``: then each of its
    bones is held at its median length over the frames lifted (as ``lift3d infer`` does,
    :func:`lift3d.infer.steady_per_frame`). ``views``: only the first ``views`` views of each sequence (default:
    all)."""
    if not 0.0 <= mask < 1.0:
        raise InputError(f"mask must be in [0, 1), got {mask}")
    if frame_step < 1:
        raise InputError(f"frame_step must be >= 1, got {frame_step}")
    if not fill_gap_s >= 0:
        raise InputError(f"fill_gap_s must be >= 0 seconds, got {fill_gap_s}")
    if not mask_run_frames >= 0:
        raise InputError(f"mask_run_frames must be >= 0, got {mask_run_frames}")
    if not smooth_s >= 0:
        raise InputError(f"smooth_s must be >= 0 seconds, got {smooth_s}")
    if smooth_s > 0 and frame_step > 1:
        raise InputError(f"smoothing over time needs every frame, not every {frame_step}th (frame_step 1)")
    if views is not None and views < 1:
        raise InputError(f"views must be >= 1, got {views}")
    model, codec, ckpt = load_lifter(checkpoint, device)
    if getattr(codec, "image", False):
        raise InputError("this Pose-ResNet takes image crops, and a mocap test set has 2D only; evaluate it on "
                         "video (tools/bench/bench_posresnet_real.py)", checkpoint)
    partner = None if fuse_with is None else load_fusion_partner(fuse_with, ckpt["kind"], checkpoint, device)
    seqs = read_multiview_h5(data)
    rng = np.random.default_rng(seed)
    results, names = [], []
    for s in tqdm(seqs, desc="evaluate", unit="seq", disable=not progress):
        if abs(s.fps - ckpt["fps"]) > 1e-3:
            raise InputError(f"sequence {s.name} is at {s.fps} fps but the model works at {ckpt['fps']} fps", data)
        for v in range(s.num_views if views is None else min(views, s.num_views)):
            if input_2d == "clean":
                kp, conf = s.kp2d_clean_px[v], np.ones(s.conf[v].shape, np.float32)
            else:
                kp, conf = s.kp2d_px[v], s.conf[v]
            conf = mask_runs(conf, mask, mask_run_frames, rng) if mask_run_frames > 0 else mask_joints(conf, mask, rng)
            if fill_gap_s > 0:
                kp, conf, _ = fill_gaps(kp, conf, int(round(fill_gap_s * s.fps)))
            if ckpt["kind"] == "posresnet":  # per frame, from heatmaps cropped with the view's intrinsics
                pred = lift_volumetric(kp[::frame_step], conf[::frame_step], s.cameras["K"][v], model, codec, device)
                pred = steady_per_frame(pred, s.fps, smooth_s, rigid)
                if partner is not None:
                    pred = fuse(lift_sequence(kp, conf, *partner[:2], device, flip)[::frame_step].numpy(), pred, fuse_weight)
                pred = torch.from_numpy(pred).double()
            else:
                pred = lift_sequence(kp, conf, model, codec, device, flip)[::frame_step].double()
            cam = s.pose3d_world_m.astype(np.float64) @ s.cameras["R"][v].T + s.cameras["t"][v]
            target = torch.from_numpy(root_relative(cam[::frame_step]))
            results.append((pred, target))
            names.append({"sequence": s.name, "view": v, "subject": s.attrs.get("subject")})
    if not results:
        raise InputError("no sequences to evaluate", data)
    return results, names, checkpoint_id(model.state_dict())


PREDICT_DEFAULTS = {name: p.default for name, p in inspect.signature(predict_views).parameters.items()
                    if p.kind is p.KEYWORD_ONLY}
""":func:`predict_views`'s keywords and their defaults, which :func:`evaluate_file` records."""


def evaluate_file(data: str | Path, checkpoint: str | Path | None = None, **options) -> dict:
    """Metrics of a lifter over every view of every sequence of ``data`` (mm; see module docstring).

    ``options``: the keywords of :func:`predict_views` (how the 2D is degraded and lifted), each recorded in the
    result but ``seed``, ``device`` and ``progress``. ``fuse_with``: with a Pose-ResNet checkpoint, a temporal
    lifter (``"default"``: the shipped one) whose 3D is averaged in (:func:`lift3d.infer.fuse`). ``frame_step``:
    score every n-th frame only (a per-frame lifter then lifts only those; a temporal one still sees the whole
    sequence); MPJVE is then not reported.
    """
    results, names, ckpt_id = predict_views(data, checkpoint, **options)
    opt = {**PREDICT_DEFAULTS, **options}
    summary = evaluate_sequences(results)
    keys = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "frames")
    per_seq = [{**n, **{k: m[k] for k in keys}} for n, m in zip(names, summary.pop("per_sequence"))]
    if opt["frame_step"] > 1:  # frames n apart: no velocity
        summary["mpjve_mm"] = None
        for m in per_seq:
            m["mpjve_mm"] = None
    return {
        **summary,
        "checkpoint": str(checkpoint if checkpoint is not None else DEFAULT_LIFTER),
        "checkpoint_id": ckpt_id,
        "data": str(data),
        "input_2d": opt["input_2d"],
        "mask": opt["mask"],
        "mask_run_frames": opt["mask_run_frames"],
        **({"fused_with": str(opt["fuse_with"]), "fuse_weight": opt["fuse_weight"]}
           if opt["fuse_with"] is not None else {}),
        **{k: opt[k] for k in ("frame_step", "fill_gap_s", "flip", "smooth_s", "rigid", "views")},
        "per_sequence": per_seq,
    }
