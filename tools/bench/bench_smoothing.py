"""Smoothing the Pose-ResNet's per-frame 3D over time, alone and in ``lift3d infer``'s default fusion.

    python tools/bench/bench_smoothing.py [--threads 2]

The Pose-ResNet lifts frame by frame, so its 3D jitters where the temporal lifter's does not;
:func:`lift3d.infer.smooth_per_frame` filters it with a Gaussian over time before it is used or fused. Every
smoothed 3D then has its bones held at their median length where ``lift3d infer`` does so (``RIGID_BONES``;
:func:`lift3d.infer.steady_per_frame` does both; tools/bench/bench_rigid.py measures the second step), so each
arm is what ``lift3d infer`` would give.

1. Val split (tools/bench/testsets.py), every frame of every view: the fusion at the shipped temporal share
   (``FUSE_WEIGHT``) with the Pose-ResNet's 3D smoothed by 0 to 6/30 s, MPJPE and MPJVE per 2D condition; the
   default of ``lift3d infer`` (``SMOOTH_S``) is the one with the lowest MPJPE averaged over the conditions.
2. Test split (held-out subjects), every frame of the first view of every sequence (the Pose-ResNet runs on
   every frame: all four views would take about an hour here): the Pose-ResNet alone and the fusion, without
   and with the default smoothing.
3. The real videos through the tracker once: on Pose2Sim's four views P-MPJPE against its reference TRC (12
   shared limb joints, 100 frames at 60 fps) and the velocity error against it (hip-centred, per frame, mm), and
   the thigh check of tools/bench/bench_lifters_real.py on all five videos.

Writes the section ``posresnet_smoothing`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fusion import lifted, mixed  # noqa: E402
from bench_lifters_real import passes, real_videos, thighs  # noqa: E402
from bench_selfsup_real import CAMS, p_mpjpe_mm  # noqa: E402
from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set, val_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER, DEFAULT_POSRESNET  # noqa: E402
from lift3d.infer import FUSE_WEIGHT, RIGID_BONES, SMOOTH_S, fuse, infer, steady_per_frame  # noqa: E402
from lift3d.metrics import evaluate_sequences  # noqa: E402
from lift3d.skeletons import H36M17  # noqa: E402

SIGMAS_S = (0.0, 1 / 30, 1.5 / 30, 2 / 30, 3 / 30, 4 / 30, 6 / 30)


def scored(temporal: dict, per_frame: dict, fps: float, sigma_s: float, weight: float | None) -> dict:
    """Metrics per condition of the Pose-ResNet's 3D smoothed by ``sigma_s`` (bones then held as ``lift3d infer``
    does: :func:`lift3d.infer.steady_per_frame`), fused at ``weight`` (None: alone) with the temporal lifter's
    (:func:`bench_fusion.mixed`; per condition, pairs of :func:`bench_fusion.lifted`)."""
    smoothed = {c: [(torch.from_numpy(steady_per_frame(p.numpy(), fps, sigma_s)), target) for p, target in pairs]
                for c, pairs in per_frame.items()}
    if weight is None:
        return {c: evaluate_sequences(pairs) for c, pairs in smoothed.items()}
    return mixed(temporal, smoothed, weight)


def velocity_error_mm(pred_m: np.ndarray, ref_m: np.ndarray, hips: list[int]) -> float:
    """Mean per-joint error of the frame-to-frame motion, both hip-centred: ``(T, 12, 3)`` each, metres."""
    p = pred_m - pred_m[:, hips].mean(axis=1, keepdims=True)
    r = ref_m - ref_m[:, hips].mean(axis=1, keepdims=True)
    return 1000 * float(np.linalg.norm(np.diff(p, axis=0) - np.diff(r, axis=0), axis=-1).mean())


REAL_VIDEOS = (
    "The real videos through lift3d's tracker once, lifted monocular (no ISO): on Pose2Sim's four views P-MPJPE and "
    "the error of the frame-to-frame motion (hip-centred, mm per frame at 60 fps) against its reference TRC (12 "
    "shared limb joints, 100 frames); the largest coefficient of variation of a thigh's length over a clip, and "
    "the video plausibility check (thighs 0.3-0.6 m, varying under 0.1), on all five videos")
"""What :func:`real_table` measures, for a section's text."""


def real_table(arms: list, labels: list[str], joints: list[int], ref_cam: list[np.ndarray]) -> str:
    """The real-video measures (:data:`REAL_VIDEOS`) as a table: ``arms`` a list of ``(cells, poses)``, the
    ``cells`` under the headers ``labels`` and ``poses`` ``{video: (T, 17, 3)}`` of every video of
    :func:`bench_lifters_real.real_videos` (whose ``joints`` and ``ref_cam`` are the reference's)."""
    hips = [joints.index(H36M17.index("l_hip")), joints.index(H36M17.index("r_hip"))]
    rows = []
    for cells, poses in arms:
        errs = [p_mpjpe_mm(poses[c][:, joints], r) for c, r in zip(CAMS, ref_cam)]
        vels = [velocity_error_mm(poses[c][:, joints], r, hips) for c, r in zip(CAMS, ref_cam)]
        worst = max(cv for p in poses.values() for _, cv in thighs(p))
        rows.append([*cells, *errs, float(np.mean(errs)), *vels, float(np.mean(vels)), f"{worst:.3f}",
                     "yes" if all(passes(thighs(p)) for p in poses.values()) else "no"])
    return table([*labels, *(f"P-MPJPE {c}" for c in CAMS), "mean", *(f"velocity error {c}" for c in CAMS),
                  "mean ", "largest thigh variation", "passes the thigh check"], rows)


def s_label(sigma_s: float) -> str:
    return "none" if sigma_s == 0 else f"{30 * sigma_s:g}/30 s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    fps = 30.0  # every test-set file is rendered at 30 fps (tools/bench/testsets.py)
    conds = [c for c, _, _ in CONDITIONS]

    val_path = val_set()
    val = lifted(val_path, None, 1), lifted(val_path, DEFAULT_POSRESNET, 1)
    sweep = {s: scored(*val, fps, s, FUSE_WEIGHT) for s in SIGMAS_S}
    mean = {s: float(np.mean([r[c]["mpjpe_mm"] for c in conds])) for s, r in sweep.items()}
    best = min(mean, key=mean.get)
    rows = [[s_label(s), *(f"{r[c]['mpjpe_mm']:.1f} / {r[c]['mpjve_mm']:.1f}" for c in conds), mean[s]]
            for s, r in sweep.items()]
    val_table = table(["smoothing (Gaussian sigma)", *(f"{c}: MPJPE / MPJVE" for c in conds), "mean MPJPE"], rows)

    test_path = test_set()
    test = lifted(test_path, None, 1, views=1), lifted(test_path, DEFAULT_POSRESNET, 1, views=1)
    res = {}
    for name, weight in (("Pose-ResNet alone", None), (f"fused, temporal share {FUSE_WEIGHT:g}", FUSE_WEIGHT)):
        for s in (0.0, SMOOTH_S):
            res[name, s] = scored(*test, fps, s, weight)
    rows = []
    for (name, s), r in res.items():
        base = res[name, 0.0]
        rows.append([name, s_label(s), *(r[c]["mpjpe_mm"] for c in conds), *(r[c]["p_mpjpe_mm"] for c in conds),
                     *(r[c]["mpjve_mm"] for c in conds),
                     "" if s == 0 else " / ".join(f"{r[c]['mpjpe_mm'] / base[c]['mpjpe_mm']:.3f}" for c in conds)])
    test_table = table(["3D from", "smoothing", *(f"MPJPE {c}" for c in conds), *(f"P-MPJPE {c}" for c in conds),
                        *(f"MPJVE {c}" for c in conds), "MPJPE / unsmoothed"], rows)
    frames = res["Pose-ResNet alone", 0.0][conds[0]]["frames"]

    videos, joints, ref_cam, _ = real_videos()
    temporal = {v: infer(kp, DEFAULT_LIFTER).pose3d_cam_m for v, kp in videos.items()}
    per_frame = {v: infer(kp, DEFAULT_POSRESNET, smooth_s=0.0, rigid=False).pose3d_cam_m
                 for v, kp in videos.items()}
    arms = [((f"{DEFAULT_LIFTER.name} alone (for reference)", ""), temporal)]
    for s in (0.0, SMOOTH_S):
        smoothed = {v: steady_per_frame(p, videos[v].fps, s) for v, p in per_frame.items()}
        arms.append((("Pose-ResNet alone", s_label(s)), smoothed))
        arms.append(((f"fused, temporal share {FUSE_WEIGHT:g}", s_label(s)),
                     {v: fuse(temporal[v], p, FUSE_WEIGHT) for v, p in smoothed.items()}))
    real = real_table(arms, ["3D from", "smoothing"], joints, ref_cam)

    body = (
        "The Pose-ResNet (`checkpoints/posresnet_heatmap64.pt`) lifts frame by frame; its 3D is smoothed over time "
        "by a Gaussian (`lift3d.infer.smooth_per_frame`, ends held) before it is used alone or fused with the "
        f"temporal lifter (`{DEFAULT_LIFTER.name}`). `lift3d infer` does this by default (`--smooth`, default "
        f"{s_label(SMOOTH_S)}); `lift3d evaluate --smooth` scores it. "
        + ("Every smoothed Pose-ResNet 3D below then has its bones held at their median length, as `lift3d infer` "
           "does by default (`RIGID_BONES`; `posresnet_rigid`). " if RIGID_BONES else "")
        + "mm; MPJVE in mm per frame at 30 fps.\n\n"
        f"Val split, every frame of every view, fused at the shipped temporal share {FUSE_WEIGHT:g}; lowest mean "
        f"MPJPE: {s_label(best)}:\n\n" + val_table
        + f"\n\nTest split (held-out subjects), every frame of the first view of every sequence ({frames} frames "
        "per condition):\n\n" + test_table
        + f"\n\n{REAL_VIDEOS}:\n\n" + real
    )
    write_section("posresnet_smoothing", "Pose-ResNet: smoothing its per-frame 3D over time", body)
    print(body)


if __name__ == "__main__":
    main()
