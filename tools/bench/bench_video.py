"""End-to-end video-to-3D speed on this machine, split into stages, on the real videos of shared/data.

    python tools/bench/bench_video.py [--repeats 2]

For the sports2d demo (1768x994, 230 frames) and Pose2Sim cam01 (1088x1920, 100 frames): decode (OpenCV,
the video opened, its frames read and converted to RGB, nothing else), tracker
(BlazePose on the frames already decoded and held in memory, ``lift3d.tracking.blazepose.track_frames``), lifting with
the shipped default (the Pose-ResNet, frame by frame from heatmaps, smoothed over time, bones held rigid as
``lift3d infer``'s default, fused with the temporal lifter: 2D mapping, codecs, both networks, resampling, the
average; test-time flip as ``lift3d infer``'s default) and with the temporal lifter alone (``--model tcn``),
writing (HDF5 result, atomic), render (side-by-side mp4, decode included), each as frames/s and seconds, best of
``--repeats``; and the ratio (lifting + writing) / tracker for both, whose target is at most 10%. Also
records the tracked clips' bone lengths (median and spread over the clip) and the tracker's median distance
to Pose2Sim's OpenPose BODY_25B 2D. Writes the sections ``video_speed`` and ``video_bones`` of BENCHMARKS.md.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402

from lift3d.checkpoint import DEFAULT_POSRESNET, checkpoint_id, load_lifter  # noqa: E402
from lift3d.infer import (FLIP_TEST, FUSE_WEIGHT, Pose3DResult, fuse, guess_camera, lift, lift_volumetric,  # noqa: E402
                          steady_per_frame)
from lift3d.io.exports import write_result  # noqa: E402
from lift3d.io.openpose import read_openpose_folder  # noqa: E402
from lift3d.io.video import iter_frames, probe_video  # noqa: E402
from lift3d.paths import shared_data_dir  # noqa: E402
from lift3d.render import render_video  # noqa: E402
from lift3d.skeletons import H36M17, to_h36m  # noqa: E402
from lift3d.tracking.blazepose import track_frames, track_video  # noqa: E402

BONES = (("thigh", "hip", "knee"), ("shin", "knee", "ankle"), ("upper arm", "shoulder", "elbow"),
         ("forearm", "elbow", "wrist"))


def timed(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--note", default="", help="a line on the conditions (e.g. other load on the machine)")
    args = ap.parse_args()
    data = shared_data_dir()
    videos = {"sports2d demo": data / "sports2d_demo" / "demo.mp4"}
    videos.update({f"pose2sim {c}": data / "pose2sim_demo" / "single_balancing" / "videos" / f"{c}.mp4"
                   for c in ("cam01", "cam02", "cam03", "cam04")})
    model, codec, ckpt = load_lifter()
    vol, vcodec, _ = load_lifter(DEFAULT_POSRESNET)
    cid = f"{checkpoint_id(vol.state_dict())}+{checkpoint_id(model.state_dict())}"

    def lift_default(h):
        """What ``lift3d infer`` does by default: the Pose-ResNet fused with the temporal lifter."""
        per_frame = steady_per_frame(lift_volumetric(h.kp2d_px, h.conf, guess_camera(h), vol, vcodec), h.fps)
        return fuse(lift(h, model, codec, ckpt["fps"], flip=FLIP_TEST), per_frame, FUSE_WEIGHT)
    speed_rows, bone_rows, agree_rows = [], [], []
    for name, video in videos.items():
        kp = track_video(video, progress=False)
        h = kp.to_h36m()
        result = Pose3DResult(lift_default(h), h.kp2d_px, h.conf, kp.interpolated, kp.fps, str(video), cid,
                              kp.image_size)
        J, p = H36M17.index, result.pose3d_cam_m
        row = [name]
        for _, a, b in BONES:
            lengths = np.concatenate([np.linalg.norm(p[:, J(f"{s}_{a}")] - p[:, J(f"{s}_{b}")], axis=-1) for s in "lr"])
            row.append(f"{1000 * np.median(lengths):.0f} ({100 * lengths.std() / lengths.mean():.0f}%)")
        bone_rows.append(row)
        if name.startswith("pose2sim"):
            cam = name.split()[1]
            ref = read_openpose_folder(data / "pose2sim_demo" / "single_balancing" / "pose_2d" / f"{cam}_json")
            ours, oc = to_h36m(kp.kp2d_px, kp.conf, "blazepose33")
            theirs, tc = to_h36m(ref.kp2d_px, ref.conf, ref.skeleton)
            idx = [J(f"{s}_{j}") for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist") for s in "lr"]
            ok = (oc[:, idx] > 0.5) & (tc[:, idx] > 0.3)
            d = np.linalg.norm(ours[:, idx] - theirs[:, idx], axis=-1)[ok]
            agree_rows.append([cam, f"{np.median(d):.1f}", f"{np.percentile(d, 90):.1f}", int(d.size)])
        if name not in ("sports2d demo", "pose2sim cam01"):
            continue
        T = kp.num_frames
        decode_s, (info, frames) = timed(lambda: (probe_video(video, count=False), list(iter_frames(video))),
                                         args.repeats)
        track_s, _ = timed(lambda: track_frames(frames, info.fps, info.image_size, source=video, progress=False),
                           args.repeats)
        lift_s, _ = timed(lambda: lift_default(kp.to_h36m()), args.repeats)
        tcn_s, _ = timed(lambda: lift(kp, model, codec, ckpt["fps"], flip=FLIP_TEST), args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            write_s, _ = timed(lambda: write_result(Path(tmp) / "out.h5", result), args.repeats)
            render_s, _ = timed(lambda: render_video(result, video, Path(tmp) / "out.mp4", progress=False), 1)
        speed_rows.append([name, T, *(f"{T / s:.0f} ({s:.2f} s)" for s in (decode_s, track_s, lift_s, tcn_s, write_s,
                                                                          render_s)),
                           f"{100 * (lift_s + write_s) / track_s:.1f}%", f"{100 * (tcn_s + write_s) / track_s:.1f}%"])
    write_section("video_speed", "Video to 3D: speed per stage (CPU)", "\n".join([
        "Frames per second (seconds) of each stage, best of the repeats; the tracker runs on the frames already "
        "decoded (so decode + tracker is what `lift3d track` takes). "
        f"Lifter: the shipped default, the Pose-ResNet fused with the temporal lifter (ids `{cid}`), and the "
        "temporal lifter alone (`--model tcn`). Target: lifting + writing at most 10% of the tracker's time. "
        + args.note,
        "",
        table(["clip", "frames", "decode", "tracker (BlazePose full)", "lifting (default, fused)",
               "lifting (--model tcn)", "writing (.h5)", "render (.mp4)", "(lifting + writing) / tracker, default",
               "(lifting + writing) / tracker, --model tcn"], speed_rows),
    ]))
    write_section("video_bones", "Video to 3D: bone lengths and 2D agreement on the real clips", "\n".join([
        f"Bone lengths of the lifted 3D (shipped default, `{cid}`): median over the clip and both sides, in mm, "
        "with the spread (standard deviation / mean) in brackets. Without `--iso` the lifters do not hold bone "
        "lengths constant.",
        "",
        table(["clip"] + [b[0] for b in BONES], bone_rows),
        "",
        "BlazePose 2D (mapped to Human3.6M-17) against Pose2Sim's OpenPose BODY_25B 2D, on hips, knees, ankles, "
        "shoulders, elbows and wrists where both are confident (px; the person is 620-730 px tall):",
        "",
        table(["view", "median px", "90th percentile px", "joint-frames"], agree_rows),
    ]))


if __name__ == "__main__":
    main()
