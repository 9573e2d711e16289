"""Temporal lifters side by side on the real videos of shared/data: the checks a candidate checkpoint must pass.

    python tools/bench/bench_lifters_real.py [CHECKPOINT ...] [--threads 2]

Default: every shipped temporal lifter (checkpoints/tcn_*.pt). Each video (the sports2d demo and the four views
of Pose2Sim's balancing trial) goes through lift3d's tracker once; each lifter then lifts each video alone
(monocular, no fusion, no ISO: :func:`lift3d.infer.infer` with the checkpoint). Per lifter and video:

* the median right and left thigh length over the clip and its coefficient of variation, against the bounds
  of the video issue's plausibility check (tests/tracking/test_video_real.py: median 0.3-0.6 m, variation
  under 0.1), which the shipped default must pass and a replacement must keep passing;
* on the Pose2Sim views, P-MPJPE (mm) against Pose2Sim's reference TRC on the 12 limb joints both skeletons
  share (as tools/bench/bench_selfsup_real.py's "shipped lifter" row), and the reference's thighs for scale.

Each lifter lifts each video once; both measures come from that 3D.

Writes the section ``lifters_real`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_selfsup_real import CAMS, p_mpjpe_mm, pose2sim_tracked, reference_in_cameras  # noqa: E402
from report import ROOT, table, write_section  # noqa: E402

from lift3d.checkpoint import REPO_CHECKPOINTS, checkpoint_id, load_lifter  # noqa: E402
from lift3d.infer import infer  # noqa: E402
from lift3d.paths import shared_data_dir  # noqa: E402
from lift3d.skeletons import H36M17  # noqa: E402
from lift3d.tracking.blazepose import track_video  # noqa: E402

THIGH_RANGE_M = (0.3, 0.6)
THIGH_MAX_VARIATION = 0.1
THIGHS = (("right", "r_hip", "r_knee"), ("left", "l_hip", "l_knee"))


def thighs(pose3d_m: np.ndarray) -> list[tuple[float, float]]:
    """``(median length in m, coefficient of variation)`` of the right and left thigh over a ``(T, 17, 3)`` clip."""
    out = []
    for _, hip, knee in THIGHS:
        length = np.linalg.norm(pose3d_m[:, H36M17.index(hip)] - pose3d_m[:, H36M17.index(knee)], axis=-1)  # (T,)
        out.append((float(np.median(length)), float(length.std() / length.mean())))
    return out


def passes(stats: list[tuple[float, float]]) -> bool:
    low, high = THIGH_RANGE_M
    return all(low < median < high and cv < THIGH_MAX_VARIATION for median, cv in stats)


def reference_thighs(joints: list[int], ref: np.ndarray) -> tuple[float, float]:
    """Median right and left thigh (m) of Pose2Sim's reference: ``ref`` ``(T, 12, 3)`` holds the joints whose
    ``H36M17`` indices are ``joints`` (:func:`bench_selfsup_real.reference_in_cameras`)."""
    full = np.zeros((len(ref), len(H36M17.joints), 3))
    full[:, joints] = ref
    (right, _), (left, _) = thighs(full)
    return right, left


def real_videos() -> tuple[dict, list[int], list[np.ndarray], np.ndarray]:
    """The real videos through lift3d's tracker once: ``(videos, joints, ref_cam, ref)`` with ``videos`` the
    Pose2Sim views (``CAMS``) and ``sports2d`` by name, and Pose2Sim's reference on the 12 shared limb joints
    (:func:`bench_selfsup_real.reference_in_cameras`)."""
    tracks, _, cams = pose2sim_tracked()
    videos = dict(zip(CAMS, tracks))
    videos["sports2d"] = track_video(shared_data_dir() / "sports2d_demo" / "demo.mp4", progress=False)
    return videos, *reference_in_cameras(cams)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*", type=Path, help="temporal lifter checkpoints (default: the shipped ones)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ckpts = args.checkpoints or sorted(REPO_CHECKPOINTS.glob("tcn_*.pt"))
    ids = {}
    for c in ckpts:
        model, _, ckpt = load_lifter(c)
        if ckpt["kind"] != "tcn":
            ap.error(f"{c}: not a temporal (TCN) lifter")
        ids[c] = checkpoint_id(model.state_dict())
    videos, joints, ref_cam, ref = real_videos()

    labels, thigh_rows, err_rows = [], [], []
    for c in ckpts:
        shown = c.resolve().relative_to(ROOT) if c.resolve().is_relative_to(ROOT) else c
        label = f"`{shown}` ({ids[c]})"
        poses = {name: infer(kp, c).pose3d_cam_m for name, kp in videos.items()}  # (T, 17, 3) each
        stats = {name: thighs(pose) for name, pose in poses.items()}
        errs = [p_mpjpe_mm(poses[cam][:, joints], ref) for cam, ref in zip(CAMS, ref_cam)]
        labels.append(label)
        thigh_rows.append([label, *(" / ".join(f"{m:.3f} ({cv:.3f})" for m, cv in stats[n]) for n in videos),
                           "yes" if all(passes(s) for s in stats.values()) else "no"])
        err_rows.append([label, *errs, float(np.mean(errs))])
    first = err_rows[0][-1]
    for row in err_rows:
        row.append(f"{row[-1] / first:.3f}")
    ref_r, ref_l = reference_thighs(joints, ref)
    low, high = THIGH_RANGE_M
    body = (
        "Each video through lift3d's tracker (BlazePose) once, then lifted by each checkpoint alone (monocular, "
        "no fusion, no ISO). Thighs: median right / left length over the clip in m, in brackets its coefficient "
        f"of variation; the video plausibility check (tests/tracking/test_video_real.py) asks {low:g}-{high:g} m "
        f"and under {THIGH_MAX_VARIATION:g} on every video. Pose2Sim's reference thighs: {ref_r:.3f} / "
        f"{ref_l:.3f} m.\n\n"
        + table(["lifter", *(f"thighs {n}" for n in videos), "passes"], thigh_rows)
        + "\n\nMonocular P-MPJPE (mm) on the Pose2Sim views against Pose2Sim's reference TRC, 12 shared limb joints, "
        f"100 frames; ratio to {labels[0]}.\n\n"
        + table(["lifter", *(f"P-MPJPE {c}" for c in CAMS), "mean", "ratio"], err_rows)
    )
    write_section("lifters_real", "Temporal lifters on the real videos (thigh check, Pose2Sim P-MPJPE)", body)
    print(body)


if __name__ == "__main__":
    main()
