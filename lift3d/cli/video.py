"""``lift3d setup``, ``lift3d track``, ``lift3d infer`` and ``lift3d render``: the video-to-3D commands."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from lift3d.errors import InputError
from lift3d.tracking.gaps import MAX_GAP_S

log = logging.getLogger(__name__)


def _person(value: str):
    return int(value) if value.isdigit() else value


def _tracker_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tracker (video input)")
    g.add_argument("--people", type=int, default=1,
                   help="people BlazePose looks for per frame (default 1: MediaPipe's own tracking keeps one "
                        "person; more lets --person choose, at about half the speed)")
    g.add_argument("--person", type=_person, default="largest",
                   help="whom to follow: largest (default), most_confident, or an index (with --people > 1, and "
                        "for multi-person 2D files)")
    g.add_argument("--max-gap", type=float, default=0.25, help="longest gap of a joint (or the whole person) the tracker interpolates, s")


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", dest="in_format", choices=["video", "openpose", "h5", "npz", "coco", "csv"],
                   help="input format (default: from the suffix; a folder is OpenPose JSON)")
    p.add_argument("--fps", type=float, help="frame rate of a 2D file that does not store one")
    p.add_argument("--skeleton", help="joint layout of a 2D file that does not store one (coco17, blazepose33, "
                                      "body25, body25b, h36m17)")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("setup", help="build the BlazePose model file from the installed mediapipe",
                       description="Build checkpoints/pose_landmarker_full.task from the Apache-2.0 tflite files "
                                   "inside the installed mediapipe(-numpy2)==0.10.21 and check its sha256.")
    s.add_argument("--out", type=Path, help="where to write the .task (default: checkpoints/)")
    s.set_defaults(func=run_setup)

    t = sub.add_parser("track", help="2D landmarks of one person in a video",
                       description="Run the BlazePose tracker over a video and write the 2D (BlazePose-33 and "
                                   "Human3.6M-17) with confidences to HDF5.")
    t.add_argument("video", type=Path)
    t.add_argument("-o", "--output", type=Path, required=True, help="output .h5")
    _tracker_args(t)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_track)

    i = sub.add_parser("infer", help="video or 2D file to 3D",
                       description="Lift a video (through the tracker) or a 2D file to 3D: camera frame, "
                                   "root-relative, metres, Human3.6M-17. Output format from the suffix: "
                                   ".h5, .npz, .json, .csv, .trc (schemas in the README).")
    i.add_argument("input", type=Path, help="video, 2D file (.h5, .npz, .json, .csv) or OpenPose JSON folder")
    i.add_argument("-o", "--output", type=Path, required=True)
    i.add_argument("--out-format", choices=["h5", "npz", "json", "csv", "trc"], help="default: from the suffix")
    i.add_argument("--model", choices=["fused", "tcn", "posresnet"], default="fused",
                   help="the shipped lifter(s) when --checkpoint is not given: the Pose-ResNet averaged with the "
                        "temporal lifter (fused, default: the most accurate), the temporal lifter alone (tcn: about "
                        "50x faster to lift, see BENCHMARKS.md) or the Pose-ResNet alone (posresnet, frame by frame)")
    i.add_argument("--checkpoint", type=Path, help="lifter checkpoint (default: the shipped one of --model)")
    i.add_argument("--fuse", nargs="?", const="default", metavar="TCN_CKPT",
                   help="with a Pose-ResNet lifter: average its per-frame 3D with a temporal lifter's (default: "
                        "the shipped one; --model fused does this with the shipped Pose-ResNet)")
    i.add_argument("--fuse-weight", type=float, default=None,
                   help="the temporal lifter's share in --fuse, 0-1 (default 0.8, chosen on the val split for the "
                        "shipped pair; tools/bench/bench_fusion.py chooses it for other checkpoints)")
    i.add_argument("--video", type=Path,
                   help="with a Pose-ResNet that takes image crops and a 2D file as input: the video the 2D was "
                        "tracked on (frame t of the 2D is frame t of the video; default: the 2D's source)")
    i.add_argument("--device", default="cpu", help="torch device for the lifter, e.g. cuda")
    i.add_argument("--fill-gaps", type=float, default=MAX_GAP_S, metavar="SECONDS",
                   help="interpolate each joint across its gaps in the 2D (confidence 0) of at most this long before "
                        f"lifting (default {MAX_GAP_S:g}; 0: lift the 2D as given)")
    i.add_argument("--smooth", type=float, default=None, metavar="SECONDS",
                   help="smooth the Pose-ResNet's per-frame 3D over time by a Gaussian of this many seconds, alone or "
                        "before fusion (default 2/30 s, chosen on the val split; 0: as the network gives it)")
    i.add_argument("--rigid", action=argparse.BooleanOptionalAction, default=None,
                   help="hold each bone of the Pose-ResNet's per-frame 3D (after --smooth) at its median length over "
                        "the sequence, alone or before fusion (default: on; chosen on the val split)")
    i.add_argument("--flip", action="store_true",
                   help="test-time flip: average the temporal lifter's 3D with its mirrored 3D of the mirrored 2D "
                        "(twice the lifting work; off by default: it helps on mocap but not on the real videos)")
    g = i.add_argument_group("inference-stage optimisation and camera")
    g.add_argument("--iso", action="store_true",
                   help="refine the 3D so that it reprojects onto the 2D (confidence-weighted, bone lengths constant, "
                        "smooth) and solve the person's place in the camera frame (adds root_cam_m and camera_K)")
    g.add_argument("--iso-config", type=Path, help="ISO settings, YAML (default: built-in, as configs/iso.yaml)")
    g.add_argument("--iso-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one ISO setting, e.g. --iso-set iterations=100 or tune_steps=20 (repeatable)")
    g.add_argument("--focal", type=float, help="focal length in pixels (principal point at the image centre); "
                                               "default: the larger image side")
    g.add_argument("--calib", type=Path, help="take the intrinsics (and distortion) from a calibration file "
                                              "(.toml, .qca.txt); with --camera")
    g.add_argument("--camera", help="camera name in --calib (default: its only camera)")
    i.add_argument("--plausibility", nargs="?", const="default", metavar="DISCRIMINATOR",
                   help="add a per-frame plausibility score in [0, 1] from the pose discriminator (default: the "
                        "shipped one; or a discriminator checkpoint, or an adversarial lifter run's)")
    _input_args(i)
    _tracker_args(i)
    i.add_argument("--no-progress", action="store_true")
    i.set_defaults(func=run_infer)

    r = sub.add_parser("render", help="side-by-side video of the 2D overlay and the 3D skeleton",
                       description="Render the source video with the 2D overlay beside a 3D view. INPUT is a video "
                                   "(tracked and lifted first) or a lift3d infer result (.h5, .npz, .json, .csv) "
                                   "whose source video is found from the result or --video.")
    r.add_argument("input", type=Path)
    r.add_argument("-o", "--output", type=Path, required=True, help=".mp4 (or .png/.jpg with --frame)")
    r.add_argument("--frame", type=int, help="render only this frame, as an image")
    r.add_argument("--video", type=Path, help="source video of a result file (default: the one it records)")
    r.add_argument("--checkpoint", type=Path,
                   help="lifter checkpoint for video input (default: lift3d infer's, the Pose-ResNet fused with "
                        "the temporal lifter)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--azimuth", type=float, default=60.0, help="3D view turned this far about the vertical, deg")
    _tracker_args(r)
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=run_render)


def check_output(path: Path) -> None:
    """Fail before any work if the output cannot be written (missing directory, or a folder)."""
    if not path.parent.is_dir():
        raise InputError(f"output directory does not exist ({path.parent})", path)
    if path.is_dir():
        raise InputError("output path is a folder", path)


def _tracker_cfg(args):
    from lift3d.tracking.blazepose import TrackerConfig

    return TrackerConfig(num_poses=args.people, person=args.person, max_gap_s=args.max_gap)


def run_setup(args) -> int:
    from lift3d.tracking.blazepose_model import build_task

    out = build_task(args.out)
    print(f"built {out}")
    return 0


def run_track(args) -> int:
    from lift3d.io.kp2d import write_kp2d_h5
    from lift3d.tracking.blazepose import track_video

    check_output(args.output)
    if args.output.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError("lift3d track writes HDF5: use a .h5 output", args.output)
    kp = track_video(args.video, _tracker_cfg(args), progress=not args.no_progress)
    h = kp.to_h36m()
    write_kp2d_h5(args.output, h, extra={"blazepose33/kp2d_px": kp.kp2d_px, "blazepose33/conf": kp.conf})
    print(f"wrote {args.output}: {kp.num_frames} frames at {kp.fps:g} fps, person in "
          f"{int((kp.conf > 0).any(axis=1).sum())}")
    return 0


def lifter_choice(args) -> tuple[Path | None, str | Path | None]:
    """``(checkpoint, fuse_with)`` for :func:`lift3d.infer.infer`: ``--checkpoint`` (fused only with ``--fuse``),
    else the shipped lifter(s) of ``--model``: ``fused`` the shipped Pose-ResNet with the temporal lifter of
    ``--fuse`` (default the shipped one), ``tcn`` the shipped temporal lifter (``None``), ``posresnet`` the
    shipped Pose-ResNet."""
    from lift3d.checkpoint import DEFAULT_POSRESNET

    model, fuse_with = getattr(args, "model", "fused"), getattr(args, "fuse", None)
    if args.checkpoint is not None or model == "tcn":
        return args.checkpoint, fuse_with
    if not DEFAULT_POSRESNET.is_file():
        raise InputError(f"--model {model} needs the shipped Pose-ResNet, which is missing: give a lifter with "
                         "--checkpoint, use --model tcn, or train one (lift3d train configs/posresnet_heatmap64.yaml)",
                         DEFAULT_POSRESNET)
    return DEFAULT_POSRESNET, (fuse_with or "default") if model == "fused" else fuse_with


def iso_settings(args):
    """The ISO config of ``--iso`` (None without it), from ``--iso-config`` and ``--iso-set``."""
    from lift3d.config import load_config
    from lift3d.iso import IsoConfig

    if not args.iso:
        if args.iso_config is not None or args.iso_set:
            raise InputError("--iso-config and --iso-set need --iso")
        return None
    return load_config(IsoConfig, args.iso_config, args.iso_set)


def camera_intrinsics(args, image_size):
    """``(K, dist)`` from ``--calib``/``--camera`` or ``--focal`` (None, None: the default guess)."""
    import numpy as np

    if args.calib is not None and args.focal is not None:
        raise InputError("give either --calib or --focal, not both")
    if args.camera is not None and args.calib is None:
        raise InputError("--camera names a camera of --calib; give --calib too")
    if args.focal is not None:
        if not args.focal > 0:
            raise InputError(f"--focal must be > 0 pixels, got {args.focal}")
        if image_size is None:
            raise InputError("--focal needs the image size, which this 2D input does not record")
        w, h = image_size
        return np.array([[args.focal, 0, (w - 1) / 2], [0, args.focal, (h - 1) / 2], [0, 0, 1]]), None
    if args.calib is None:
        return None, None
    from lift3d.io.calibration import read_calibration_qca, read_calibration_toml

    read = read_calibration_qca if args.calib.name.lower().endswith(".qca.txt") else read_calibration_toml
    cams = read(args.calib)
    if args.camera is None:
        if cams.num_views != 1:
            raise InputError(f"the calibration has {cams.num_views} cameras {list(cams.names)}: pick one with --camera",
                             args.calib)
        v = 0
    elif args.camera in cams.names:
        v = cams.names.index(args.camera)
    else:
        raise InputError(f"no camera {args.camera!r} in the calibration; it has {list(cams.names)}", args.calib)
    dist = cams.dist[v].numpy()
    return cams.K[v].numpy(), (dist if np.any(dist != 0) else None)


def run_infer(args) -> int:
    import numpy as np

    from lift3d.infer import FUSE_WEIGHT, RIGID_BONES, SMOOTH_S, infer, load_input
    from lift3d.io.exports import output_format, write_result

    check_output(args.output)
    output_format(args.output, args.out_format)
    iso = iso_settings(args)
    kp = load_input(args.input, args.in_format, fps=args.fps, skeleton=args.skeleton,
                    tracker_cfg=_tracker_cfg(args), progress=not args.no_progress)
    K, dist = camera_intrinsics(args, kp.image_size)
    checkpoint, fuse_with = lifter_choice(args)
    result = infer(kp, checkpoint, args.device, fuse_with=fuse_with,
                   fuse_weight=FUSE_WEIGHT if args.fuse_weight is None else args.fuse_weight, video=args.video,
                   iso=iso, camera_K=K, camera_dist=dist, fill_gap_s=args.fill_gaps, flip=args.flip,
                   smooth_s=SMOOTH_S if args.smooth is None else args.smooth,
                   rigid=RIGID_BONES if args.rigid is None else args.rigid, progress=not args.no_progress,
                   discriminator=None if args.plausibility is None else
                   (True if args.plausibility == "default" else args.plausibility))
    write_result(args.output, result, args.out_format)
    summary = {"output": str(args.output), "frames": result.num_frames, "fps": result.fps,
               "checkpoint_id": result.checkpoint_id}
    if iso is not None:
        summary["camera_K"] = result.camera_K.tolist()
    if result.plausibility is not None:
        summary["plausibility_median"] = float(np.median(result.plausibility))
    print(json.dumps(summary))
    return 0


def run_render(args) -> int:
    from lift3d.infer import infer, load_input
    from lift3d.io.exports import read_result
    from lift3d.io.video import is_video
    from lift3d.render import RenderConfig, render_frame, render_video

    check_output(args.output)
    if is_video(args.input):
        checkpoint, fuse_with = lifter_choice(args)
        result = infer(load_input(args.input, "video", tracker_cfg=_tracker_cfg(args), progress=not args.no_progress),
                       checkpoint, args.device, fuse_with=fuse_with)
        video = args.input
    else:
        result = read_result(args.input)
        video = args.video or Path(result.source)
        if not is_video(video) or not Path(video).is_file():
            raise InputError(f"the result's source {result.source!r} is not a video file here; pass --video", args.input)
    cfg = RenderConfig(azimuth_deg=args.azimuth)
    if args.frame is not None:
        render_frame(result, video, args.frame, args.output, cfg)
    else:
        render_video(result, video, args.output, cfg, progress=not args.no_progress)
    print(f"wrote {args.output}")
    return 0
