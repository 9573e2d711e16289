"""``lift3d render``: the video with its 2D overlay beside a 3D view of the lifted skeleton.

Left half: the source frame with the H36M-17 2D skeleton drawn over it (joint discs shaded by confidence,
interpolated frames marked). Right half: the 3D pose (root-relative, camera frame) drawn orthographically
from a viewpoint turned ``azimuth_deg`` about the vertical and raised ``elevation_deg`` above the camera's,
on a floor grid, so depth errors the 2D overlay hides are visible. Left limbs are blue, right limbs red in
both views (BGR drawing: OpenCV).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lift3d.errors import InputError
from lift3d.infer import Pose3DResult
from lift3d.io.atomic import atomic_output
from lift3d.io.video import iter_frames, probe_video, read_frame
from lift3d.skeletons import H36M17

LEFT, RIGHT, CENTRE = (255, 140, 40), (40, 40, 230), (60, 200, 60)  # BGR


@dataclass
class RenderConfig:
    """Look of :func:`render_video`. ``panel_m``: height of the 3D view in metres."""

    azimuth_deg: float = 60.0
    elevation_deg: float = 15.0
    panel_m: float = 2.4
    line_px: int = 0  # 0: from the frame height


def _side(skeleton, a: int, b: int):
    names = skeleton.joints[a] + skeleton.joints[b]
    return LEFT if "l_" in names and "r_" not in names else RIGHT if "r_" in names else CENTRE


def draw_2d(frame_bgr: np.ndarray, kp2d_px: np.ndarray, conf: np.ndarray, thickness: int, skeleton=H36M17) -> None:
    """Draw one frame's 2D skeleton in place (bones whose two joints have confidence > 0)."""
    for a, b in skeleton.draw_bones:
        if conf[a] > 0 and conf[b] > 0:
            pa, pb = tuple(int(round(v)) for v in kp2d_px[a]), tuple(int(round(v)) for v in kp2d_px[b])
            cv2.line(frame_bgr, pa, pb, _side(skeleton, a, b), thickness, cv2.LINE_AA)
    for j in range(skeleton.num_joints):
        if conf[j] > 0:
            shade = int(255 * float(conf[j]))
            cv2.circle(frame_bgr, tuple(int(round(v)) for v in kp2d_px[j]), thickness + 1, (shade, shade, shade), -1,
                       cv2.LINE_AA)


def view_rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation from the camera frame (y down) to the viewing frame of the 3D panel."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    yaw = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(e), math.sin(e)], [0, -math.sin(e), math.cos(e)]])
    return pitch @ yaw


def draw_3d(size: int, pose3d_m: np.ndarray, cfg: RenderConfig, thickness: int, skeleton=H36M17,
            floor_y: float | None = None) -> np.ndarray:
    """A ``(size, size, 3)`` BGR panel with the root-relative pose seen from the configured viewpoint."""
    panel = np.full((size, size, 3), 250, np.uint8)
    R = view_rotation(cfg.azimuth_deg, cfg.elevation_deg)
    px_per_m = size / cfg.panel_m

    def to_px(p):  # (..., 3) camera-frame metres -> (..., 2) panel pixels; the root sits above the centre
        v = p @ R.T
        return np.stack([size / 2 + v[..., 0] * px_per_m, size * 0.45 + v[..., 1] * px_per_m], axis=-1)

    floor = floor_y if floor_y is not None else float(np.nanmax(pose3d_m[:, 1]))
    for k in np.linspace(-1.0, 1.0, 5):  # floor grid, 2 m square
        for a, b in (([k, floor, -1.0], [k, floor, 1.0]), ([-1.0, floor, k], [1.0, floor, k])):
            pa, pb = to_px(np.array([a, b]))
            cv2.line(panel, tuple(int(v) for v in pa), tuple(int(v) for v in pb), (205, 205, 205), 1, cv2.LINE_AA)
    pts = to_px(pose3d_m)
    for a, b in skeleton.draw_bones:
        cv2.line(panel, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), _side(skeleton, a, b),
                 thickness, cv2.LINE_AA)
    for p in pts:
        cv2.circle(panel, tuple(int(v) for v in p), thickness + 1, (40, 40, 40), -1, cv2.LINE_AA)
    cv2.putText(panel, f"3D, view {cfg.azimuth_deg:.0f} deg", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, size / 900,
                (80, 80, 80), 1, cv2.LINE_AA)
    return panel


def compose(frame_rgb: np.ndarray, r: Pose3DResult, t: int, cfg: RenderConfig, floor_y: float) -> np.ndarray:
    """Frame ``t``: the video frame with its 2D overlay, beside the 3D panel (BGR, height of the frame)."""
    H = frame_rgb.shape[0]
    thick = cfg.line_px or max(2, H // 300)
    frame = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    draw_2d(frame, r.kp2d_px[t], r.conf[t], thick)
    label = f"frame {t}" + ("  (interpolated 2D)" if r.interpolated[t] else "")
    cv2.putText(frame, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, max(H / 1000, 0.5), (255, 255, 255), 2, cv2.LINE_AA)
    return np.concatenate([frame, draw_3d(H, r.pose3d_cam_m[t], cfg, thick, floor_y=floor_y)], axis=1)


def _floor_y(r: Pose3DResult) -> float:
    """Feet level of the clip in the camera frame (y down): the 95th percentile of each frame's lowest joint."""
    return float(np.nanpercentile(r.pose3d_cam_m[..., 1].max(axis=1), 95))


def _check(r: Pose3DResult, video: Path) -> int:
    info = probe_video(video)
    if info.num_frames != r.num_frames:
        raise InputError(f"video has {info.num_frames} frames but the result {r.num_frames}; "
                         "render it with the video it was made from", video)
    return info.num_frames


def render_video(r: Pose3DResult, video: str | os.PathLike, out: str | os.PathLike, cfg: RenderConfig | None = None,
                 *, progress: bool = True) -> Path:
    """Write the side-by-side render of every frame to ``out`` (mp4, atomically)."""
    cfg, video, out = cfg or RenderConfig(), Path(video), Path(out)
    if out.suffix.lower() not in (".mp4", ".avi", ".mov", ".mkv"):
        raise InputError("render output must be a video (.mp4, .avi, .mov, .mkv) or use --frame with .png", out)
    T = _check(r, video)
    floor_y = _floor_y(r)
    with atomic_output(out, suffix=out.suffix) as tmp:
        writer = None
        try:
            for t, rgb in enumerate(tqdm(iter_frames(video), total=T, desc="render", unit="frame",
                                         disable=not progress)):
                img = compose(rgb, r, t, cfg, floor_y)
                if writer is None:
                    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if out.suffix.lower() != ".avi" else "MJPG"))
                    writer = cv2.VideoWriter(str(tmp), fourcc, r.fps, (img.shape[1], img.shape[0]))
                    if not writer.isOpened():
                        raise InputError("OpenCV cannot open a video writer for this file type", out)
                writer.write(img)
        finally:
            if writer is not None:
                writer.release()
    return out


def render_frame(r: Pose3DResult, video: str | os.PathLike, t: int, out: str | os.PathLike,
                 cfg: RenderConfig | None = None) -> Path:
    """Write frame ``t``'s side-by-side render as an image (png/jpg), atomically."""
    cfg, video, out = cfg or RenderConfig(), Path(video), Path(out)
    T = _check(r, video)
    if not 0 <= t < T:
        raise InputError(f"frame {t} is out of range (the video has {T} frames)", video)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InputError("a single frame is written as .png or .jpg", out)
    img = compose(read_frame(video, t), r, t, cfg, _floor_y(r))
    with atomic_output(out, suffix=out.suffix) as tmp:
        if not cv2.imwrite(str(tmp), img):
            raise InputError("OpenCV could not write the image", out)
    return out
