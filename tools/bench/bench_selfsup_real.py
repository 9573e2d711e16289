"""The shipped lifter fine-tuned self-supervised on real multi-view video (issue: self-supervised, benchmark 2).

    python tools/bench/bench_selfsup_real.py [--threads 1]

Pose2Sim's balancing trial (shared/data/pose2sim_demo: 4 synchronised 1080x1920 videos at 60 fps, 100 frames,
a calibration and Pose2Sim's reference TRC). Each video goes through lift3d's tracker (BlazePose); the four
2D sequences are labelled by `lift3d pseudo-label` logic, once with the calibration and once uncalibrated
(intrinsics from the calibration, extrinsics and scale estimated); the shipped lifter is fine-tuned on each
label file with the self-supervised trainer (labels, reprojection into every view, consistency, bone terms)
as configured by configs/selfsup_finetune.yaml, the config users fine-tune with.
No reference 3D is used for training.

Each view is then lifted on its own (monocular) by the shipped and by the fine-tuned lifters, and compared
with the reference TRC on the 12 limb joints both skeletons share: P-MPJPE (similarity per frame), mm, over
the 100 frames. The fine-tuning sees the very frames it is evaluated on (test-time adaptation on the user's
own footage, which is the use case); the reference is never read before evaluation. Writes the section
``selfsup_real`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER  # noqa: E402
from lift3d.config import load_config  # noqa: E402
from lift3d.infer import infer  # noqa: E402
from lift3d.io.calibration import read_calibration_toml  # noqa: E402
from lift3d.io.trc import limb_joints_zup, read_trc  # noqa: E402
from lift3d.metrics import p_mpjpe  # noqa: E402
from lift3d.multiview.labels import LabelConfig  # noqa: E402
from lift3d.multiview.labels_h5 import LabelledSequence, write_labels  # noqa: E402
from lift3d.multiview.pseudo_label import make_labels  # noqa: E402
from lift3d.multiview.views import from_keypoints, match_cameras  # noqa: E402
from lift3d.paths import shared_data_dir  # noqa: E402
from lift3d.tracking.blazepose import track_video  # noqa: E402
from lift3d.train.selfsup import SelfSupConfig, train_selfsup  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "runs" / "bench_selfsup_real"
CAMS = ("cam01", "cam02", "cam03", "cam04")


def view_errors(checkpoint: Path, tracks: list, ref_cam: list[np.ndarray], joints: list[int],
                **options) -> list[float]:
    """Monocular P-MPJPE (mm) of each view against the reference in that camera's frame (any lifter
    :func:`lift3d.infer.infer` takes, with its keyword ``options``; one with image input reads the crops from
    the tracked video)."""
    return [p_mpjpe_mm(infer(kp, checkpoint, **options).pose3d_cam_m[:, joints], ref)
            for kp, ref in zip(tracks, ref_cam)]


def p_mpjpe_mm(pred_m: np.ndarray, ref_m: np.ndarray) -> float:
    """Mean P-MPJPE (mm) of a ``(T, 12, 3)`` prediction against the reference on the same joints (m)."""
    pred = torch.from_numpy(pred_m.astype(np.float64))
    return 1000 * float(p_mpjpe(pred, torch.from_numpy(ref_m)).mean())


def pose2sim_tracked():
    """The 4 Pose2Sim videos through lift3d's tracker: ``(tracks, MultiView2D, CameraSet)``."""
    root = shared_data_dir() / "pose2sim_demo"
    calib = read_calibration_toml(root / "calibration" / "Calib_qualisys.toml")
    tracks = [track_video(root / "single_balancing" / "videos" / f"{c}.mp4", progress=False) for c in CAMS]
    views = from_keypoints(tracks, list(CAMS))
    return tracks, views, match_cameras(views, calib)


def reference_in_cameras(cams) -> tuple[list[int], list[np.ndarray], np.ndarray]:
    """Pose2Sim's reference TRC on the 12 limb joints both skeletons share: ``(joints, per view (T, 12, 3) in
    that camera's frame, (T, 12, 3) in the calibration's Z-up world)``."""
    trc = read_trc(shared_data_dir() / "pose2sim_demo" / "single_balancing" / "pose_3d" / "S00_P00_T01_BalancingTrial_0-100.trc")
    joints, ref = limb_joints_zup(trc)
    R, t = cams.R.numpy().astype(np.float64), cams.t.numpy().astype(np.float64)
    return joints, [ref @ R[v].T + t[v] for v in range(len(CAMS))], ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tracks, views, cams = pose2sim_tracked()
    OUT.mkdir(parents=True, exist_ok=True)
    cfg = LabelConfig()
    labels = {"calibrated": make_labels(views, cfg, cams),
              "uncalibrated": make_labels(views, cfg, cams, calibrated=False, K=cams.K.numpy())}
    checkpoints = {"shipped lifter": DEFAULT_LIFTER}
    for kind, lab in labels.items():
        path = OUT / f"labels_{kind}.h5"
        write_labels(path, [LabelledSequence("pose2sim_balancing", views, lab)])
        ft = load_config(SelfSupConfig, ROOT / "configs" / "selfsup_finetune.yaml", [
            f"name=finetune_{kind}", f"data.labels=[{path}]",
            f"threads={args.threads}", f"out_dir={OUT}/{{name}}"])
        train_selfsup(ft, restart=True, progress=False)
        checkpoints[f"fine-tuned, {kind} labels"] = OUT / ft.name / "last.pt"

    joints, ref_cam, ref = reference_in_cameras(cams)  # the reference, read only now
    errs = {name: view_errors(ck, tracks, ref_cam, joints) for name, ck in checkpoints.items()}
    # The labels themselves (4 views triangulated, not monocular) on the same joints, for scale.
    label_err = {}
    for kind, lab in labels.items():
        w = torch.from_numpy((lab.conf[:, joints] > 0).astype(np.float64))
        e = p_mpjpe(torch.from_numpy(lab.pose3d_world_m[:, joints]), torch.from_numpy(ref), w)
        label_err[kind] = 1000 * float(e.sum() / w.sum())
    base = errs["shipped lifter"]
    rows = [[name, *e, float(np.mean(e)), f"{np.mean(e) / np.mean(base):.3f}"] for name, e in errs.items()]
    body = (
        "Pose2Sim balancing trial, 4 views x 100 frames at 60 fps, 2D from lift3d's tracker (BlazePose) on each "
        "video. Each view lifted on its own; P-MPJPE (mm) against Pose2Sim's reference TRC on the 12 limb joints "
        f"both skeletons share. Fine-tuning: `lift3d train configs/selfsup_finetune.yaml` from the shipped lifter "
        f"({ft.optim.epochs} epochs x {ft.data.windows_per_epoch} frames, lr {ft.optim.lr:g}) on labels of these views "
        "(no reference 3D); it sees the "
        "frames it is evaluated on (test-time adaptation to the user's footage). For scale, the labels themselves (4 "
        f"views triangulated, not monocular) are {label_err['calibrated']:.1f} mm (calibrated) and "
        f"{label_err['uncalibrated']:.1f} mm (uncalibrated) P-MPJPE from the reference on these joints.\n\n"
        + table(["lifter", *(f"P-MPJPE {c}" for c in CAMS), "mean", "vs shipped"], rows)
    )
    write_section("selfsup_real", "Self-supervised fine-tuning on real multi-view video (Pose2Sim)", body)
    print(body)


if __name__ == "__main__":
    main()
