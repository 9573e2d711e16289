"""Test-time flip: does averaging a temporal lifter's 3D with its mirrored 3D of the mirrored 2D help?

    python tools/bench/bench_flip.py [--checkpoints CKPT ...] [--frame-step 20] [--threads 2]

The lifters are trained with horizontal flips (left/right swapped), so a mirrored clip is as familiar to them as
the clip itself; at test time :func:`lift3d.infer.lift_sequence` with ``flip`` lifts both and averages (twice
the lifter's work). Each part runs both settings side by side:

1. Val split (tools/bench/testsets.py): each temporal lifter (default: the shipped single-stride and
   multi-stride ones) under the three 2D conditions, without and with the flip.
2. Test split (held-out subjects): the same, MPJPE and P-MPJPE; then ``lift3d infer``'s default lifter (the
   Pose-ResNet fused with the temporal lifter, weight ``FUSE_WEIGHT``) on every ``--frame-step``-th frame, the
   flip applying to its temporal share.
3. The real videos (Pose2Sim's four views, the sports2d demo) through the tracker once, lifted by the shipped
   temporal lifter alone and by the fused default: Pose2Sim P-MPJPE against its reference, and the thigh check
   of tools/bench/bench_lifters_real.py.
4. Lifting time of a 3000-frame sequence, median of 5 (the tracker, which dominates ``lift3d infer``, is the
   same either way: BENCHMARKS.md ``video_speed``).

``lift3d infer``'s default (``lift3d.infer.FLIP_TEST``) follows the val split and the real videos, never the
test split; where they disagree, the real videos decide.

Writes the section ``flip_test`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fusion import lifted, mixed  # noqa: E402
from bench_lifters_real import passes, real_videos, thighs  # noqa: E402
from bench_selfsup_real import CAMS, p_mpjpe_mm  # noqa: E402
from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set, val_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER, DEFAULT_POSRESNET, load_lifter  # noqa: E402
from lift3d.infer import FLIP_TEST, FUSE_WEIGHT, infer, lift_sequence  # noqa: E402
from lift3d.metrics import evaluate_sequences  # noqa: E402
from lift3d.paths import REPO_ROOT  # noqa: E402

SETTINGS = (("without", False), ("with flip", True))
MPJPE_HEADER = ["lifter", "2D", "MPJPE without", "MPJPE with flip", "with / without"]


def scores(data: Path, ckpt: Path | None, flip: bool, step: int = 1, partner: dict | None = None) -> dict:
    """Per condition, metrics of the lifter's 3D (fused with ``partner``'s per-frame pairs, same condition, when
    given: :func:`bench_fusion.mixed`)."""
    pairs = lifted(data, ckpt, step, flip=flip)
    if partner is not None:
        return mixed(pairs, partner, FUSE_WEIGHT)
    return {c: evaluate_sequences(p) for c, p in pairs.items()}


def side_by_side(res: dict, metric: str) -> list[list]:
    """Rows ``[lifter, condition, without, with, with / without]`` of ``res[lifter][setting][condition]``."""
    rows = []
    for name, by_setting in res.items():
        for c, _, _ in CONDITIONS:
            off, on = (by_setting[s][c][metric] for s, _ in SETTINGS)
            rows.append([name, c, off, on, f"{on / off:.3f}"])
    return rows


def mpjpe_and_p_table(res: dict) -> str:
    """:func:`side_by_side` of MPJPE, then of P-MPJPE, as one table."""
    rows = [row + p_row[2:] for row, p_row in zip(side_by_side(res, "mpjpe_mm"), side_by_side(res, "p_mpjpe_mm"))]
    return table([*MPJPE_HEADER, "P-MPJPE without", "P-MPJPE with flip", "with / without "], rows)


def lift_time_s(ckpt: Path, flip: bool, frames: int = 3000, repeats: int = 5) -> float:
    model, codec, _ = load_lifter(ckpt)
    rng = np.random.default_rng(0)
    kp = rng.uniform(100, 500, (frames, 17, 2)).astype(np.float32)
    conf = np.ones((frames, 17), np.float32)
    lift_sequence(kp, conf, model, codec, flip=flip)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lift_sequence(kp, conf, model, codec, flip=flip)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", nargs="+", type=Path,
                    default=[DEFAULT_LIFTER, REPO_ROOT / "checkpoints" / "tcn_multistride_81.pt"])
    ap.add_argument("--frame-step", type=int, default=20, help="frames scored with the per-frame Pose-ResNet")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    val = val_set()
    val_res = {ck.name: {s: scores(val, ck, f) for s, f in SETTINGS} for ck in args.checkpoints}
    val_table = table(MPJPE_HEADER, side_by_side(val_res, "mpjpe_mm"))

    test = test_set()
    test_res = {ck.name: {s: scores(test, ck, f) for s, f in SETTINGS} for ck in args.checkpoints}
    test_table = mpjpe_and_p_table(test_res)
    per_frame = lifted(test, DEFAULT_POSRESNET, args.frame_step)
    fused_name = f"{DEFAULT_POSRESNET.name} fused with {DEFAULT_LIFTER.name} (temporal share {FUSE_WEIGHT:g})"
    fused_res = {fused_name: {s: scores(test, None, f, args.frame_step, per_frame) for s, f in SETTINGS}}
    fused_table = mpjpe_and_p_table(fused_res)
    fused_frames = fused_res[fused_name]["without"]["clean"]["frames"]

    videos, joints, ref_cam, _ = real_videos()
    real_rows = []
    for name, options in ((DEFAULT_LIFTER.name, {}),
                          (f"{DEFAULT_POSRESNET.name} fused", {"checkpoint": DEFAULT_POSRESNET, "fuse_with": "default"})):
        errs = {}
        for s, f in SETTINGS:
            poses = {v: infer(kp, flip=f, **options).pose3d_cam_m for v, kp in videos.items()}
            errs[s] = [p_mpjpe_mm(poses[cam][:, joints], ref) for cam, ref in zip(CAMS, ref_cam)]
            ok = all(passes(thighs(p)) for p in poses.values())
            real_rows.append([name, s, *errs[s], float(np.mean(errs[s])), "yes" if ok else "no"])
        real_rows[-1].append(f"{np.mean(errs['with flip']) / np.mean(errs['without']):.3f}")
        real_rows[-2].append("")
    real_table = table(["lifter", "", *(f"P-MPJPE {c}" for c in CAMS), "mean", "passes the thigh check",
                        "with / without"], real_rows)

    time_rows = []
    for ck in args.checkpoints:
        off, on = (lift_time_s(ck, f) for _, f in SETTINGS)
        time_rows.append([ck.name, f"{3000 / off:,.0f}", f"{3000 / on:,.0f}", f"{on / off:.2f}"])
    time_table = table(["lifter", "frames/s without", "frames/s with flip", "time with / without"], time_rows)

    body = (
        "Each temporal lifter's 3D of the 2D averaged with its mirrored 3D of the mirrored 2D (x negated, left "
        "and right swapped, as in training): `lift3d infer --flip` (by default "
        f"{'on' if FLIP_TEST else 'off'}), scored by `lift3d evaluate --flip`. mm; the 2D conditions of every lifter "
        "benchmark, no gap filling.\n\nVal split:\n\n" + val_table
        + "\n\nTest split (held-out subjects), every view of every sequence:\n\n" + test_table
        + f"\n\n`lift3d infer`'s default lifter on the test split, every {args.frame_step}th frame of every view "
        f"({fused_frames} frames per condition; the flip applies to the temporal share):\n\n" + fused_table
        + "\n\nThe real videos through lift3d's tracker once, each lifted monocular (no ISO): P-MPJPE (mm) on "
        "Pose2Sim's four views against its reference TRC (12 shared limb joints, 100 frames), and the video "
        "plausibility check on all five videos (thighs 0.3-0.6 m, variation under 0.1):\n\n" + real_table
        + "\n\nLifting a 3000-frame sequence (median of 5, float32, whole sequence at once):\n\n" + time_table
    )
    write_section("flip_test", "Test-time flip (mirrored 2D averaged in)", body)
    print(body)


if __name__ == "__main__":
    main()
