"""Epipolar label accuracy (issue: self-supervised training), calibrated and uncalibrated.

    python tools/bench/bench_labels.py [--uncal-every 25]

1. Mocap: the held-out test set (tools/bench/testsets.py: 4 virtual cameras, detector-like 2D at noise level
   0.2) labelled by ``lift3d pseudo-label`` logic; label error against the true 3D over labelled joints.
   Calibrated: the cameras of the file. Uncalibrated: intrinsics from the file, extrinsics estimated; error
   after one similarity transform per sequence (the world frame and scale are unknown by construction), plus
   the scale error of the bone-length normalisation. Uncalibrated runs on every ``--uncal-every``-th sequence
   (about 10 s each here).
2. Real: Pose2Sim's 4 synchronised views (OpenPose BODY_25B 2D shipped with the demo, and BlazePose 2D from
   lift3d's tracker on each video) against Pose2Sim's reference TRC, on the 12 limb joints both skeletons
   share (hips, knees, ankles, shoulders, elbows, wrists).

Writes the section ``selfsup_labels`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import test_set  # noqa: E402

from lift3d.data.mocap_h5 import read_multiview_h5  # noqa: E402
from lift3d.geometry import apply_similarity, similarity_align  # noqa: E402
from lift3d.io.calibration import read_calibration_toml  # noqa: E402
from lift3d.io.trc import limb_joints_zup, read_trc  # noqa: E402
from lift3d.io.video import probe_video  # noqa: E402
from lift3d.multiview.labels import LabelConfig  # noqa: E402
from lift3d.multiview.pseudo_label import make_labels  # noqa: E402
from lift3d.multiview.selfcal import guess_intrinsics  # noqa: E402
from lift3d.multiview.views import from_keypoints, from_mocap_sequence, load_views, match_cameras  # noqa: E402
from lift3d.paths import shared_data_dir  # noqa: E402

CAMS = ("cam01", "cam02", "cam03", "cam04")


def aligned_error(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    s, R, t = similarity_align(torch.from_numpy(x), torch.from_numpy(y))
    return np.linalg.norm(apply_similarity(torch.from_numpy(x), s, R, t).numpy() - y, axis=-1), float(s)


def mocap_rows(every: int) -> list[list]:
    seqs = read_multiview_h5(test_set())
    cfg = LabelConfig()
    cal_err, cal_frac, unc_err, unc_scale, t_cal, t_unc = [], [], [], [], 0.0, 0.0
    for i, seq in enumerate(seqs):
        views, cams = from_mocap_sequence(seq)
        gt = seq.pose3d_world_m.astype(np.float64)
        t0 = time.perf_counter()
        lab = make_labels(views, cfg, cams)
        t_cal += time.perf_counter() - t0
        ok = lab.conf > 0
        cal_err.append(np.linalg.norm(lab.pose3d_world_m - gt, axis=-1)[ok])
        cal_frac.append(ok.mean())
        if i % every == 0:
            t0 = time.perf_counter()
            u = make_labels(views, cfg, cams, calibrated=False)
            t_unc += time.perf_counter() - t0
            ok = u.conf > 0
            e, s = aligned_error(u.pose3d_world_m[ok], gt[ok])
            unc_err.append(e)
            unc_scale.append(abs(1 / s - 1))
    ce, ue = 1000 * np.concatenate(cal_err), 1000 * np.concatenate(unc_err)
    n_unc = len(unc_err)
    return [
        ["mocap test, calibrated", f"{len(seqs)} seq", f"{100 * np.mean(cal_frac):.1f}%", float(ce.mean()),
         float(np.median(ce)), float(np.percentile(ce, 90)), "-", f"{t_cal / len(seqs):.2f}"],
        ["mocap test, uncalibrated (similarity-aligned)", f"{n_unc} seq", "-", float(ue.mean()), float(np.median(ue)),
         float(np.percentile(ue, 90)), f"{100 * np.median(unc_scale):.1f}%", f"{t_unc / max(n_unc, 1):.2f}"],
    ]


def real_rows(root: Path) -> list[list]:
    joints, ref = limb_joints_zup(read_trc(root / "single_balancing" / "pose_3d" / "S00_P00_T01_BalancingTrial_0-100.trc"))
    calib = read_calibration_toml(root / "calibration" / "Calib_qualisys.toml")
    inputs = {"OpenPose BODY_25B": load_views([root / "single_balancing" / "pose_2d" / f"{c}_json" for c in CAMS], fps=60)}
    from lift3d.tracking.blazepose import track_video

    videos = [root / "single_balancing" / "videos" / f"{c}.mp4" for c in CAMS]
    inputs["BlazePose (lift3d track)"] = from_keypoints([track_video(v, progress=False) for v in videos], list(CAMS))
    sizes = np.asarray([probe_video(v).image_size for v in videos], np.float64)
    rows = []
    cfg = LabelConfig()
    for label, views in inputs.items():
        cams = match_cameras(views, calib)
        lab = make_labels(views, cfg, cams)
        ok = lab.conf[:, joints] > 0
        e = 1000 * np.linalg.norm(lab.pose3d_world_m[:, joints] - ref, axis=-1)[ok]
        rows.append([f"Pose2Sim, {label}, calibrated", "4 views", f"{100 * ok.mean():.1f}%", float(e.mean()),
                     float(np.median(e)), float(np.percentile(e, 90)), "-", "-"])
        for kname, K in (("intrinsics from calibration", cams.K.numpy()), ("intrinsics guessed", guess_intrinsics(sizes))):
            try:
                u = make_labels(views, cfg, cams, calibrated=False, K=K)
            except Exception as ex:  # reported, not hidden
                rows.append([f"Pose2Sim, {label}, uncalibrated, {kname}", "4 views", f"failed: {ex}", "-", "-", "-", "-", "-"])
                continue
            ok = u.conf[:, joints] > 0
            e, s = aligned_error(u.pose3d_world_m[:, joints][ok], ref[ok])
            e = 1000 * e
            rows.append([f"Pose2Sim, {label}, uncalibrated, {kname} (similarity-aligned)", "4 views",
                         f"{100 * ok.mean():.1f}%", float(e.mean()), float(np.median(e)), float(np.percentile(e, 90)),
                         f"{100 * abs(1 / s - 1):.1f}%", "-"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--uncal-every", type=int, default=25)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = mocap_rows(args.uncal_every) + real_rows(shared_data_dir() / "pose2sim_demo")
    header = ["labels", "data", "labelled", "mean mm", "median mm", "p90 mm", "scale error", "s per sequence"]
    body = ("Label error against the true 3D (mocap) or Pose2Sim's reference TRC (real), over labelled joints. "
            "Uncalibrated labels are compared after one similarity transform per sequence; *scale error* is how far "
            "the bone-length normalisation (summed bones = 3.87 m) is from the true scale. "
            "Literature floor for 4 calibrated views on Human3.6M: about 20-27 mm (MISSION.md).\n\n"
            + table(header, rows))
    write_section("selfsup_labels", "Epipolar labels (lift3d pseudo-label): calibrated and uncalibrated", body)
    print(body)


if __name__ == "__main__":
    main()
