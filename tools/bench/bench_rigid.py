"""Holding the Pose-ResNet's bones at constant length, alone and in ``lift3d infer``'s default fusion.

    python tools/bench/bench_rigid.py [--threads 2]

The Pose-ResNet lifts frame by frame, and its depth scale drifts from frame to frame: a bone's length changes
over a clip. :func:`lift3d.infer.rigid_bones` rebuilds each frame from the root with every bone at its median
length over the sequence, keeping each bone's direction. Every Pose-ResNet 3D here is first smoothed over time
as ``lift3d infer`` does (``SMOOTH_S``).

1. Val split (tools/bench/testsets.py), every frame of every view: the fusion with the temporal lifter at shares
   0, 0.1, ..., 1, with the Pose-ResNet's bones as given and held rigid, MPJPE averaged over the three 2D
   conditions. The lowest picks ``lift3d infer``'s defaults (``RIGID_BONES``, ``FUSE_WEIGHT``).
2. Test split (held-out subjects), every frame of the first view of every sequence: the temporal lifter alone,
   the Pose-ResNet alone without and with rigid bones, and the fusion as it was (bones as given, share
   ``--old-weight``) and as chosen.
3. The real videos through the tracker once: on Pose2Sim's four views P-MPJPE against its reference TRC and the
   velocity error against it (as tools/bench/bench_smoothing.py), and the thigh check of
   tools/bench/bench_lifters_real.py on all five videos.

Writes the section ``posresnet_rigid`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fusion import WEIGHTS, lifted, mixed  # noqa: E402
from bench_lifters_real import real_videos  # noqa: E402
from bench_smoothing import REAL_VIDEOS, real_table  # noqa: E402
from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set, val_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER, DEFAULT_POSRESNET  # noqa: E402
from lift3d.infer import FUSE_WEIGHT, SMOOTH_S, fuse, infer, rigid_bones  # noqa: E402


def held(per_frame: dict) -> dict:
    """Per condition, the ``(prediction, target)`` pairs of :func:`bench_fusion.lifted` with each prediction's
    bones held at their median lengths (:func:`lift3d.infer.rigid_bones`)."""
    return {c: [(torch.from_numpy(rigid_bones(p.numpy())), target) for p, target in pairs]
            for c, pairs in per_frame.items()}


def label(rigid: bool) -> str:
    return "held at median length" if rigid else "as given"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-weight", type=float, default=0.7,
                    help="the temporal share lift3d infer fused at before rigid bones (for the comparison rows)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    conds = [c for c, _, _ in CONDITIONS]

    def mean_mpjpe(r: dict) -> float:
        return float(np.mean([r[c]["mpjpe_mm"] for c in conds]))

    val_path = val_set()
    val_t, val_p = lifted(val_path, None, 1), lifted(val_path, DEFAULT_POSRESNET, 1, smooth_s=SMOOTH_S)
    val_p = {False: val_p, True: held(val_p)}
    sweep = {(rigid, w): mean_mpjpe(mixed(val_t, val_p[rigid], w)) for rigid in (False, True) for w in WEIGHTS}
    best_rigid, best_w = min(sweep, key=sweep.get)
    val_table = table(["temporal share", *(f"Pose-ResNet bones {label(r)}" for r in (False, True))],
                      [[f"{w:g}", sweep[False, w], sweep[True, w]] for w in WEIGHTS])

    test_path = test_set()
    test_t = lifted(test_path, None, 1, views=1)
    test_p = lifted(test_path, DEFAULT_POSRESNET, 1, smooth_s=SMOOTH_S, views=1)
    test_p = {False: test_p, True: held(test_p)}
    # The arms of the test and real-video tables: (name, the Pose-ResNet's bones held, temporal share);
    # bench_fusion.mixed and lift3d.infer.fuse take share 0 as the Pose-ResNet alone, 1 as the temporal lifter.
    before = f"fused, share {args.old_weight:g}, bones {label(False)} (before)"
    arm_specs = [(f"temporal lifter alone ({DEFAULT_LIFTER.name})", False, 1.0),
                 (f"Pose-ResNet alone, bones {label(False)}", False, 0.0),
                 (f"Pose-ResNet alone, bones {label(True)}", True, 0.0),
                 (before, False, args.old_weight),
                 (f"fused, share {best_w:g}, bones {label(best_rigid)} (chosen)", best_rigid, best_w)]
    arms = {name: mixed(test_t, test_p[rigid], w) for name, rigid, w in arm_specs}
    base = arms[before]
    rows = [[name, *(r[c]["mpjpe_mm"] for c in conds), *(r[c]["p_mpjpe_mm"] for c in conds),
             *(r[c]["mpjve_mm"] for c in conds),
             " / ".join(f"{r[c]['mpjpe_mm'] / base[c]['mpjpe_mm']:.3f}" for c in conds)]
            for name, r in arms.items()]
    test_table = table(["3D from", *(f"MPJPE {c}" for c in conds), *(f"P-MPJPE {c}" for c in conds),
                        *(f"MPJVE {c}" for c in conds), "MPJPE / fused before"], rows)
    frames = base[conds[0]]["frames"]

    videos, joints, ref_cam, _ = real_videos()
    temporal = {v: infer(kp, DEFAULT_LIFTER).pose3d_cam_m for v, kp in videos.items()}
    per_frame = {v: infer(kp, DEFAULT_POSRESNET, smooth_s=SMOOTH_S, rigid=False).pose3d_cam_m
                 for v, kp in videos.items()}
    real_p = {False: per_frame, True: {v: rigid_bones(p) for v, p in per_frame.items()}}
    real_arms = [((name,), {v: fuse(temporal[v], real_p[rigid][v], w) for v in videos}) for name, rigid, w in arm_specs]
    real = real_table(real_arms, ["3D from"], joints, ref_cam)

    shipped = "matches" if (best_rigid, best_w) == (True, FUSE_WEIGHT) else "does NOT match"
    body = (
        "The Pose-ResNet (`checkpoints/posresnet_heatmap64.pt`), smoothed over time as `lift3d infer` does "
        f"({30 * SMOOTH_S:g}/30 s), with its bones as the network gives them and held at their median length over "
        "each sequence (`lift3d.infer.rigid_bones`: each frame rebuilt from the root, every bone keeping its "
        f"direction), alone and fused with the temporal lifter (`{DEFAULT_LIFTER.name}`). `lift3d infer` holds "
        "them by default (`--rigid`, `--no-rigid`); `lift3d evaluate --rigid` scores it. mm; MPJVE in mm per "
        "frame at 30 fps.\n\n"
        "Val split, every frame of every view: mean MPJPE over the three 2D conditions by the temporal lifter's "
        f"share (0: the Pose-ResNet alone). Lowest: share {best_w:g}, bones {label(best_rigid)} (lift3d infer's "
        f"default: share {FUSE_WEIGHT:g}, bones held; {shipped}):\n\n" + val_table
        + f"\n\nTest split (held-out subjects), every frame of the first view of every sequence ({frames} frames "
        "per condition):\n\n" + test_table
        + f"\n\n{REAL_VIDEOS}. A Pose-ResNet alone with rigid bones passes the variation part by construction; the "
        "fusion still varies with the temporal lifter's bones:\n\n" + real
    )
    write_section("posresnet_rigid", "Pose-ResNet: bones held at constant length", body)
    print(body)


if __name__ == "__main__":
    main()
