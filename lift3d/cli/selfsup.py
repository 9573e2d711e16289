"""``lift3d pseudo-label``: epipolar 3D labels from synchronised views."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pseudo-label", help="3D labels from synchronised multi-view 2D (calibrated or not)",
        description="Triangulate synchronised 2D views into 3D labels for self-supervised training. With --calib "
                    "(Pose2Sim TOML or Qualisys .qca.txt): confidence-weighted robust triangulation. Without it (or "
                    "with --uncalibrated): the cameras are estimated from the body keypoints (essential matrix per "
                    "view pair, PnP refinement), the labels are in the first view's camera frame and scaled to an "
                    "adult's bone lengths. Output schema: lift3d/multiview/labels_h5.py and the README.",
    )
    p.add_argument("--views", type=Path, nargs="+", required=True, metavar="DIR_OR_FILE",
                   help="one 2D input per camera (lift3d track .h5, OpenPose JSON folder, COCO .json, .npz), in any "
                        "order when their names contain the calibration's camera names; or one multi-view mocap .h5 "
                        "(lift3d data build-mocap), every sequence of which is labelled with its own cameras")
    p.add_argument("--calib", type=Path, help="calibration of the cameras (.toml, .qca.txt)")
    p.add_argument("--uncalibrated", action="store_true",
                   help="estimate the cameras from the keypoints even if a calibration is given (its intrinsics "
                        "are then used; otherwise they are guessed from the image size)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"),
                   help="image size of 2D files that do not record it (for guessed intrinsics)")
    p.add_argument("--focal-scale", type=float, default=1.0,
                   help="guessed focal length in units of the larger image side (default 1.0)")
    p.add_argument("--bone-sum", type=float, help="uncalibrated scale: the person's summed bone length, m "
                                                  "(default 3.87, the training data's median adult)")
    p.add_argument("--min-conf", type=float, default=0.2, help="2D confidence at or below which a joint is unused")
    p.add_argument("--fps", type=float, help="frame rate of 2D files that do not store one")
    p.add_argument("--skeleton", help="joint layout of 2D files that do not store one")
    p.add_argument("--person", default="largest", help="whom to follow in multi-person 2D (largest, most_confident, "
                                                       "or an index)")
    p.add_argument("--name", default="sequence", help="sequence name in the label file (views input)")
    p.add_argument("--limit", type=int, default=0, help="label only the first N sequences of a mocap file")
    p.add_argument("-o", "--output", type=Path, required=True, help="label file (.h5)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_pseudo_label)


def run_pseudo_label(args) -> int:
    from lift3d.errors import InputError
    from lift3d.multiview.labels import LabelConfig
    from lift3d.multiview.pseudo_label import pseudo_label

    if args.output.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError("the label file must be .h5", args.output)
    if not args.output.parent.is_dir():
        raise InputError("output folder does not exist", args.output.parent)
    cfg = LabelConfig(min_conf=args.min_conf, focal_scale=args.focal_scale, bone_sum_m=args.bone_sum)
    person = int(args.person) if str(args.person).isdigit() else args.person
    seqs = pseudo_label(args.views, args.output, cfg, calib=args.calib, uncalibrated=args.uncalibrated,
                        image_size=tuple(args.image_size) if args.image_size else None, fps=args.fps,
                        skeleton=args.skeleton, person=person, name=args.name, limit=args.limit,
                        progress=not args.no_progress)
    summary = {
        "output": str(args.output), "sequences": len(seqs),
        "frames": int(sum(s.views.num_frames for s in seqs)),
        "labelled_fraction": float(sum((s.labels.conf > 0).sum() for s in seqs) / sum(s.labels.conf.size for s in seqs)),
        "valid_frames": int(sum(s.labels.frame_valid.sum() for s in seqs)),
        "calibrated": bool(seqs[0].labels.calibrated),
    }
    print(json.dumps(summary))
    return 0
