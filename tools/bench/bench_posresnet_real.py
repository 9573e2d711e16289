"""The Pose-ResNet on real multi-view video (Pose2Sim): heatmaps only vs heatmaps + image crops, fine-tuned.

    python tools/bench/bench_posresnet_real.py --checkpoint runs/posresnet_heatmap64/best.pt \
        [--epochs 10 --frames 2000 --threads 2 --fuse-weight W]

Pose2Sim's balancing trial as in bench_selfsup_real.py (the 4 videos through lift3d's tracker, calibrated
labels from `lift3d pseudo-label` logic; no reference 3D in training). From one heatmap Pose-ResNet
checkpoint (trained on mocap, never on these videos) two self-supervised fine-tunes run with the same
labels, epochs, frames and seed: configs/posresnet_selfsup.yaml (rendered 2D heatmaps only) and
configs/posresnet_selfsup_image.yaml (heatmaps + the RGB crop of each video frame, random filled rectangles
as occlusion augmentation, the stem's image weights starting at zero). Each view is then lifted on its own
and compared with the reference TRC on the 12 limb joints both skeletons share: P-MPJPE, mm. The shipped
temporal lifter is listed for scale, and so is the mocap-only start fused with it (``--fuse-weight``, the
temporal lifter's share: what ``lift3d infer --fuse`` does on footage it was never tuned to). The fine-tunes see the frames they are evaluated on (test-time
adaptation to the user's footage). Writes the section ``posresnet_real`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_selfsup_real import CAMS, pose2sim_tracked, reference_in_cameras, view_errors  # noqa: E402
from report import table, write_section  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER  # noqa: E402
from lift3d.config import load_config  # noqa: E402
from lift3d.infer import FUSE_WEIGHT  # noqa: E402
from lift3d.multiview.labels import LabelConfig  # noqa: E402
from lift3d.multiview.labels_h5 import LabelledSequence, write_labels  # noqa: E402
from lift3d.multiview.pseudo_label import make_labels  # noqa: E402
from lift3d.train.selfsup_volumetric import VolumetricSelfSupConfig, train_selfsup_volumetric  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "runs" / "bench_posresnet_real"
FINETUNES = {"Pose-ResNet fine-tuned, heatmaps": "posresnet_selfsup",
             "Pose-ResNet fine-tuned, heatmaps + image": "posresnet_selfsup_image"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="heatmap Pose-ResNet to start from")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--frames", type=int, default=2000, help="view pairs per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fuse-weight", type=float, default=FUSE_WEIGHT,
                    help="the temporal lifter's share in the fused row (bench_fusion.py's choice on the val split)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tracks, views, cams = pose2sim_tracked()
    OUT.mkdir(parents=True, exist_ok=True)
    labels = OUT / "labels_calibrated.h5"
    write_labels(labels, [LabelledSequence("pose2sim_balancing", views, make_labels(views, LabelConfig(), cams))])
    checkpoints = {"shipped temporal lifter": DEFAULT_LIFTER, "Pose-ResNet (mocap only)": args.checkpoint}
    for label, cfg_name in FINETUNES.items():
        cfg = load_config(VolumetricSelfSupConfig, ROOT / "configs" / f"{cfg_name}.yaml", [
            f"init_checkpoint={args.checkpoint}", f"data.labels=[{labels}]", f"optim.epochs={args.epochs}",
            f"data.windows_per_epoch={args.frames}", f"threads={args.threads}", f"out_dir={OUT}/{{name}}"])
        train_selfsup_volumetric(cfg, restart=True, progress=False)
        checkpoints[label] = OUT / cfg.name / "last.pt"

    joints, ref_cam, _ = reference_in_cameras(cams)  # the reference, read only now
    errs = {name: view_errors(ck, tracks, ref_cam, joints) for name, ck in checkpoints.items()}
    fused = f"Pose-ResNet (mocap only) fused with the temporal lifter, share {args.fuse_weight:g}"
    errs[fused] = view_errors(args.checkpoint, tracks, ref_cam, joints, fuse_with="default",
                              fuse_weight=args.fuse_weight)
    base = np.mean(errs["Pose-ResNet fine-tuned, heatmaps"])
    rows = [[name, *e, float(np.mean(e)), f"{np.mean(e) / base:.3f}"] for name, e in errs.items()]
    body = (
        "Pose2Sim balancing trial, 4 views x 100 frames at 60 fps, 2D from lift3d's tracker (BlazePose). "
        f"Start: `{args.checkpoint}` (heatmap Pose-ResNet, mocap only). Both fine-tunes: {args.epochs} epochs x "
        f"{args.frames} view pairs on calibrated labels of these views, same seed; they see the frames they are "
        "evaluated on. Each view lifted on its own; P-MPJPE (mm) against Pose2Sim's reference TRC on the 12 "
        "limb joints both skeletons share. With image crops the network can also learn these frames' "
        "appearance; the data holds no second multi-view video to test on unseen footage. The fused row is "
        "`lift3d infer --checkpoint CKPT --fuse --fuse-weight W` with the mocap-only start (no fine-tuning).\n\n"
        + table(["lifter", *(f"P-MPJPE {c}" for c in CAMS), "mean", "vs heatmaps fine-tuned"], rows)
    )
    write_section("posresnet_real", "Pose-ResNet on real multi-view video: heatmaps vs heatmaps + image crops", body)
    print(body)


if __name__ == "__main__":
    main()
