"""``lift3d data ...``: dataset builders and listings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lift3d.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build and list datasets", description="Build and list datasets.")
    dsub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")

    b = dsub.add_parser(
        "build-mocap",
        help="mocap takes seen by virtual cameras -> one HDF5 file",
        description=(
            "Place virtual synchronized cameras around mocap takes of shared/data, project the joints, "
            "optionally add detector-like 2D noise and dropouts, and write one HDF5 file "
            "(schema: lift3d.data.mocap_h5). Options override the config file; KEY=VALUE pairs override "
            "any config key, e.g. cameras.distance_m=[4,8]."
        ),
    )
    b.add_argument("-o", "--output", required=True, type=Path, help="output .h5 file")
    b.add_argument("--config", type=Path, help="YAML config (default: built-in defaults = configs/data/mocap.yaml)")
    b.add_argument("--views", type=int, help="cameras per take (default 4)")
    b.add_argument("--fps", type=float, help="output frame rate (default 30)")
    b.add_argument("--noise", type=float, help="2D noise level: 0 clean, ~0.2 a modern detector, 1 COCO annotators")
    b.add_argument("--dropout", type=float, help="fraction of joint-frames dropped in runs (confidence 0)")
    b.add_argument("--seed", type=int, help="random seed (default 0)")
    b.add_argument("--split", choices=["train", "val", "test", "all"], help="which split (default all)")
    b.add_argument("--subjects", nargs="+", help="subject ids, e.g. cmu:11 131 accad:Male2 ui_prmd:s09")
    b.add_argument("--datasets", nargs="+", help="datasets of shared/data to use")
    b.add_argument("--data-dir", type=Path, help="shared/data folder (default: ../shared/data or $LIFT3D_DATA)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    b.set_defaults(func=run_build_mocap)

    ls = dsub.add_parser("list", help="list mocap takes with subject, action and split")
    ls.add_argument("--datasets", nargs="+", help="datasets of shared/data to list")
    ls.add_argument("--data-dir", type=Path)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(func=run_list)

    def _help(args, parser=p):
        parser.print_help()
        return 2

    p.set_defaults(func=_help)


def run_build_mocap(args) -> int:
    from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset

    overrides = list(args.overrides)
    for flag, key in (
        ("views", "views"), ("fps", "fps"), ("noise", "noise.level"), ("dropout", "noise.dropout_prob"),
        ("seed", "seed"), ("split", "split"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.subjects:
        overrides.append("subjects=" + json.dumps([str(s) for s in args.subjects]))
    if args.datasets:
        overrides.append("datasets=" + json.dumps(args.datasets))
    cfg = load_config(BuildMocapConfig, args.config, overrides)
    summary = build_mocap_dataset(cfg, args.output, data_dir=args.data_dir, progress=not args.no_progress)
    print(json.dumps({"output": str(args.output), **summary}))
    return 0


def run_list(args) -> int:
    from lift3d.data.build_mocap import DATASETS, list_takes

    infos = list_takes(args.datasets or list(DATASETS), args.data_dir)
    for i in infos:
        if args.json:
            print(json.dumps(dict(name=i.name, subject=i.subject, action=i.action, split=i.split,
                                  dataset=i.dataset, path=str(i.path), proportions_valid=i.proportions_valid)))
        else:
            print(f"{i.split:5s}  {i.subject:16s}  {i.name:50s}  {i.action}")
    return 0
