"""``lift3d train`` and ``lift3d evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lift3d.config import load_config
from lift3d.tracking.gaps import MAX_GAP_S


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train", help="train a lifter from a config",
        description="Train a lifter, supervised on mocap, or self-supervised from multi-view 2D (configs with "
                    "'kind: selfsup', e.g. configs/selfsup_multiview.yaml); configs with 'kind: posresnet' train the "
                    "volumetric Pose-ResNet lifter (configs/posresnet_heatmap64.yaml), 'kind: selfsup_posresnet' "
                    "fine-tunes it self-supervised (configs/posresnet_selfsup.yaml), 'kind: discriminator' trains the pose "
                    "plausibility scorer (configs/pose_discriminator.yaml). Checkpoints go to <out_dir>/last.pt "
                    "every epoch and best.pt on the best validation MPJPE; a killed run resumes from last.pt when "
                    "started again.",
    )
    t.add_argument("config", type=Path, help="YAML config, e.g. configs/tcn_multistride_81.yaml")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.epochs=5")
    t.add_argument("--restart", action="store_true", help="ignore an existing last.pt and start over")
    t.add_argument("--data-dir", type=Path, help="shared/data folder")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train)

    e = sub.add_parser(
        "evaluate", help="evaluate a lifter on a build-mocap file",
        description="Lift every view of every sequence of a build-mocap HDF5 file and print one JSON object "
                    "with mpjpe_mm, p_mpjpe_mm, n_mpjpe_mm, mpjve_mm, pck3d, auc, frames and per-sequence figures.",
    )
    e.add_argument("--checkpoint", type=Path, help="lifter checkpoint (default: the shipped one)")
    e.add_argument("--data", type=Path, required=True, help="HDF5 from lift3d data build-mocap")
    e.add_argument("--input", choices=["noisy", "clean"], default="noisy",
                   help="the file's detector-like 2D (noisy) or exact projections (clean)")
    e.add_argument("--mask", type=float, default=0.0, help="fraction of joints masked per frame (e.g. 0.3)")
    e.add_argument("--mask-runs", type=float, default=0.0, metavar="FRAMES",
                   help="mask about --mask of the joint-frames in runs of this mean length instead of round(mask * 17) "
                        "joints of every frame")
    e.add_argument("--seed", type=int, default=0, help="seed of the masking")
    e.add_argument("--fuse", nargs="?", const="default", metavar="TCN_CKPT",
                   help="with a Pose-ResNet checkpoint: average in a temporal lifter's 3D (default: the shipped one)")
    e.add_argument("--fuse-weight", type=float, help="the temporal lifter's share in --fuse (default: FUSE_WEIGHT)")
    e.add_argument("--fill-gaps", type=float, default=0.0, metavar="SECONDS",
                   help="interpolate each joint across its 2D gaps of at most this long first, as lift3d infer does "
                        f"(its default: {MAX_GAP_S:g}); default 0: score the lifter on the 2D as given")
    e.add_argument("--flip", action="store_true",
                   help="average a temporal lifter's 3D with its mirrored 3D of the mirrored 2D, as lift3d infer --flip "
                        "does; default: score the lifter's 3D of the 2D alone")
    e.add_argument("--smooth", type=float, default=0.0, metavar="SECONDS",
                   help="smooth a Pose-ResNet's per-frame 3D over time by a Gaussian of this many seconds first, as "
                        "lift3d infer does (its default: 2/30 s); default 0: score the network's 3D as given")
    e.add_argument("--rigid", action="store_true",
                   help="hold each bone of a Pose-ResNet's per-frame 3D (after --smooth) at its median length over the "
                        "sequence, as lift3d infer does by default; default: score the network's 3D as given")
    e.add_argument("--frame-step", type=int, default=1, help="score every n-th frame only (no MPJVE when > 1)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", action="store_true", help="print only the JSON object (default prints a summary too)")
    e.add_argument("--per-sequence", action="store_true", help="include per-sequence figures in the JSON")
    e.set_defaults(func=run_evaluate)


def config_kind(path: Path) -> str:
    """The config's ``kind``: ``selfsup``, ``posresnet``, ``selfsup_posresnet``, or ``supervised`` (the temporal
    lifter) when absent."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError:
        data = None  # load_config reports it
    return data.get("kind", "supervised") if isinstance(data, dict) else "supervised"


def run_train(args) -> int:
    if config_kind(args.config) == "selfsup":
        from lift3d.train.selfsup import SelfSupConfig, train_selfsup

        cfg = load_config(SelfSupConfig, args.config, args.overrides)
        last = train_selfsup(cfg, restart=args.restart, progress=not args.no_progress)
        print(json.dumps(last))
        return 0
    if config_kind(args.config) == "selfsup_posresnet":
        from lift3d.train.selfsup_volumetric import VolumetricSelfSupConfig, train_selfsup_volumetric

        cfg = load_config(VolumetricSelfSupConfig, args.config, args.overrides)
        last = train_selfsup_volumetric(cfg, restart=args.restart, progress=not args.no_progress)
        print(json.dumps(last))
        return 0
    if config_kind(args.config) == "posresnet":
        from lift3d.train.volumetric import VolumetricTrainConfig, train_volumetric

        cfg = load_config(VolumetricTrainConfig, args.config, args.overrides)
        last = train_volumetric(cfg, restart=args.restart, data_dir=args.data_dir, progress=not args.no_progress)
        print(json.dumps(last))
        return 0
    if config_kind(args.config) == "discriminator":
        from lift3d.train.discriminator import ScorerTrainConfig, train_scorer

        cfg = load_config(ScorerTrainConfig, args.config, args.overrides)
        last = train_scorer(cfg, restart=args.restart, data_dir=args.data_dir, progress=not args.no_progress)
        print(json.dumps(last))
        return 0
    from lift3d.train.trainer import TrainConfig, train

    cfg = load_config(TrainConfig, args.config, args.overrides)
    last = train(cfg, restart=args.restart, data_dir=args.data_dir, progress=not args.no_progress)
    print(json.dumps(last))
    return 0


def run_evaluate(args) -> int:
    from lift3d.evaluate import evaluate_file
    from lift3d.infer import FUSE_WEIGHT

    res = evaluate_file(args.data, args.checkpoint, input_2d=args.input, mask=args.mask, seed=args.seed,
                        device=args.device, progress=not args.json, fuse_with=args.fuse,
                        fuse_weight=FUSE_WEIGHT if args.fuse_weight is None else args.fuse_weight,
                        frame_step=args.frame_step, fill_gap_s=args.fill_gaps,
                        mask_run_frames=args.mask_runs, flip=args.flip, smooth_s=args.smooth,
                        rigid=args.rigid)
    if not args.per_sequence:
        res.pop("per_sequence")
    if not args.json:
        mpjve = "n/a" if res["mpjve_mm"] is None else f"{res['mpjve_mm']:.1f} mm"
        print(f"MPJPE {res['mpjpe_mm']:.1f} mm, P-MPJPE {res['p_mpjpe_mm']:.1f} mm, N-MPJPE {res['n_mpjpe_mm']:.1f} mm, "
              f"MPJVE {mpjve}, PCK3D {res['pck3d']:.3f}, AUC {res['auc']:.3f} over {res['frames']} frames")
    print(json.dumps(res))
    return 0
