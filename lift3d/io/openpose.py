"""OpenPose per-frame JSON: read a folder of frames into one tracked person's 2D sequence, and write it back.

File layout (OpenPose ``--write_json``)::

    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...], ...}]}

Coordinates are pixels of the (distorted) image, ``c`` a confidence in [0, 1], and ``(0, 0, 0)`` a missing
joint. Only the 25-joint body models are read: BODY_25 and BODY_25B (:data:`lift3d.skeletons.BODY25`,
:data:`lift3d.skeletons.BODY25B`). Frame files are ``<name>_<number>_keypoints.json`` (OpenPose) or
``<name>.<number>.json`` (Pose2Sim); frames are ordered by the last number in the name.

Telling BODY_25 from BODY_25B (``skeleton="auto"``): both have 25 joints, so the count says nothing. The rule:

1. A hint in the folder or file names wins: ``body25b`` / ``body_25b`` means BODY_25B, ``body25`` /
   ``body_25`` (not followed by ``b``) means BODY_25. If the geometry below clearly says otherwise, an error
   asks for ``skeleton=``.
2. Otherwise geometry decides, using joints that must lie close together. BODY_25 has two midpoint joints:
   index 1 (Neck) between the shoulders 2 and 5, and index 8 (MidHip) between the hips 9 and 12; BODY_25B
   has one, index 17 (upper neck) just above the middle of the shoulders 5 and 6. In both, the heels
   (21, 24, same indices) lie next to the ankles, which are 14/11 in BODY_25 and 15/16 in BODY_25B. For every
   detection with at least 5 joints above ``min_conf``, a hypothesis' residual is the mean distance of
   its constrained joints from where they should be, divided by the size of the detection's box; the
   hypothesis with the smaller median residual wins if that is below 0.1 and at most half the other's.
   On the Pose2Sim BODY_25B demo the residuals are 0.025-0.04 (BODY_25B) against 0.18-0.43 (BODY_25), per
   camera. Fewer than 3 usable detections, or no clear winner, raise an :class:`InputError` asking for
   ``skeleton=``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lift3d.errors import InputError
from lift3d.skeletons.tables import BODY25, BODY25B
from lift3d.tracking.people import check_tracking_args, follow_person

__all__ = [
    "OpenPoseSequence", "read_openpose_folder", "read_openpose_frame", "write_openpose_folder",
    "detect_body25_variant",
]

log = logging.getLogger(__name__)

NUM_JOINTS = 25
SKELETONS = {"body25": BODY25, "body25b": BODY25B}
_FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_HINT_B = re.compile(r"body_?25_?b", re.IGNORECASE)
_HINT_25 = re.compile(r"body_?25(?!_?b)", re.IGNORECASE)

# Joints that sit at (or next to) the midpoint of two others, per 25-joint model, as (joint, flank_a, flank_b)
# names; flank_a == flank_b means "next to that joint" (see the module docstring).
_PROXIMITY = {
    "body25": (("Neck", "RShoulder", "LShoulder"), ("MidHip", "RHip", "LHip"),
               ("LHeel", "LAnkle", "LAnkle"), ("RHeel", "RAnkle", "RAnkle")),
    "body25b": (("Neck", "LShoulder", "RShoulder"),
                ("LHeel", "LAnkle", "LAnkle"), ("RHeel", "RAnkle", "RAnkle")),
}
_MAX_RESIDUAL = 0.1
_MIN_MARGIN = 2.0
_MIN_DETECTIONS = 3


@dataclass(frozen=True)
class OpenPoseSequence:
    """One person's 2D keypoints over a folder of OpenPose frames.

    Attributes:
        kp2d_px: ``(T, J, 2)`` float32 pixels in the distorted image; 0 where ``conf`` is 0.
        conf: ``(T, J)`` float32 confidences; 0 for a missing joint or a frame without the person.
        skeleton: ``"body25"`` or ``"body25b"`` (a key of :data:`lift3d.skeletons.TO_H36M`).
        frame_files: the ``T`` JSON files, in frame order.
        frame_numbers: ``(T,)`` int64 frame numbers parsed from the file names.
        person_index: ``(T,)`` int64 index into each file's ``people`` of the person kept, -1 for none
            (where fragments were merged, the one nearest the track).
        num_people: ``(T,)`` int64 number of people in each file.
    """

    kp2d_px: np.ndarray
    conf: np.ndarray
    skeleton: str
    frame_files: tuple[Path, ...]
    frame_numbers: np.ndarray
    person_index: np.ndarray
    num_people: np.ndarray

    def __post_init__(self) -> None:
        T, J, _ = self.kp2d_px.shape
        assert self.conf.shape == (T, J), (self.kp2d_px.shape, self.conf.shape)
        assert len(self.frame_files) == T and self.frame_numbers.shape == (T,)
        assert self.person_index.shape == (T,) and self.num_people.shape == (T,)
        assert self.skeleton in SKELETONS, self.skeleton

    @property
    def num_frames(self) -> int:
        return self.kp2d_px.shape[0]


def read_openpose_frame(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """All people of one OpenPose JSON file: ``kp2d_px (P, 25, 2)`` and ``conf (P, 25)``, float32.

    Missing joints (``(0, 0, 0)``, a confidence <= 0 or a non-finite value) get confidence 0 and
    coordinates 0. ``P`` may be 0.

    Raises:
        InputError: unreadable file, invalid JSON, no ``people`` list, a person without
            ``pose_keypoints_2d``, non-numeric values, or a keypoint count that is not 25 joints x 3.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise InputError("OpenPose JSON file not found", path) from None
    except OSError as e:
        raise InputError(f"cannot read file: {e.strerror or e}", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not valid JSON: {e}", path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise InputError("no 'people' list; expected OpenPose JSON {\"people\": [{\"pose_keypoints_2d\": [...]}]}",
                         path)
    people = doc["people"]
    out = np.zeros((len(people), NUM_JOINTS, 3), dtype=np.float64)  # (P, J, xyc)
    for p, person in enumerate(people):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(flat, list):
            raise InputError(f"people[{p}] has no 'pose_keypoints_2d' list", path)
        if len(flat) % 3 != 0:
            raise InputError(f"people[{p}]: pose_keypoints_2d has {len(flat)} values, not a multiple of 3 "
                             "(x, y, confidence per joint)", path)
        if len(flat) != 3 * NUM_JOINTS:
            raise InputError(f"people[{p}]: {len(flat) // 3} joints; only the 25-joint BODY_25 and BODY_25B "
                             "models are supported", path)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            raise InputError(f"people[{p}]: pose_keypoints_2d holds non-numeric values", path)
        out[p] = np.asarray(flat, dtype=np.float64).reshape(NUM_JOINTS, 3)  # (J, 3)
    conf = out[..., 2]
    missing = ~np.isfinite(out).all(axis=-1) | ~(conf > 0)
    out[missing] = 0.0
    return out[..., :2].astype(np.float32), out[..., 2].astype(np.float32)


def read_openpose_folder(
    folder: str | os.PathLike,
    skeleton: str = "auto",
    person: str | int = "largest",
    *,
    min_conf: float = 0.1,
    track_gate: float | None = 0.3,
    max_lost: int = 10,
) -> OpenPoseSequence:
    """Read a folder of OpenPose frames and keep one person, tracked across frames.

    Args:
        folder: folder of ``*_keypoints.json`` or ``name.NNNN.json`` files (other files are ignored).
        skeleton: ``"body25"``, ``"body25b"`` or ``"auto"`` (see the module docstring for the rule).
        person: how to pick the person when there is no track (the first frame with anyone in it, or after
            the track is lost): ``"largest"`` (largest box around joints with conf > ``min_conf``),
            ``"most_confident"`` (highest mean confidence over the 25 joints), or an ``int``: that index
            of ``people`` in every frame, untracked (frames with fewer people get confidence 0).
        min_conf: joints above it count for boxes, tracking and skeleton detection. The returned
            confidences are the file's, untouched.
        track_gate: tracking. In each frame the candidate nearest the last pick (mean pixel distance over
            joints confident in both, divided by the last pick's box diagonal) is kept if that distance is at
            most ``track_gate``, whatever its size or confidence, so a bystander is not swapped in; other
            candidates within the gate whose confident joints do not overlap it are taken as fragments of
            the same person (OpenPose sometimes splits one person in two) and fill its missing joints. If no
            candidate is that near, the tracked person is taken as missed in this frame (confidence 0),
            not replaced. ``None`` disables tracking: ``person`` decides in every frame.
        max_lost: after this many consecutive frames without the tracked person, the track is dropped and
            ``person`` picks afresh.

    The first pick decides whom the track follows: a folder whose first frames show only a bystander
    follows the bystander.

    Raises:
        InputError: no frame files, a frame file without a number or two files with the same number, any
            error of :func:`read_openpose_frame`, an unknown ``skeleton`` or ``person``, or an undecidable
            ``skeleton="auto"``.
    """
    folder = Path(folder)
    if skeleton not in ("auto", *SKELETONS):
        raise InputError(f"skeleton must be 'auto', 'body25' or 'body25b', got {skeleton!r}")
    check_tracking_args(person, track_gate, max_lost)
    files, numbers = _frame_files(folder)
    frames = [read_openpose_frame(f) for f in files]
    if skeleton == "auto":
        skeleton = _auto_skeleton(folder, files, frames, min_conf)

    num_people = np.array([len(c) for _, c in frames], dtype=np.int64)
    kp2d_px, conf, person_index = follow_person(
        frames, person, min_conf=min_conf, track_gate=track_gate, max_lost=max_lost, merge_fragments=True,
        num_joints=NUM_JOINTS,
    )
    gaps = np.flatnonzero(np.diff(numbers) != 1)
    if gaps.size:
        log.warning("%s: frame numbers are not consecutive (e.g. %d -> %d); frames are kept as listed",
                    folder, numbers[gaps[0]], numbers[gaps[0] + 1])
    return OpenPoseSequence(kp2d_px, conf, skeleton, tuple(files), numbers, person_index, num_people)


def write_openpose_folder(seq: OpenPoseSequence, folder: str | os.PathLike, *, prefix: str = "frame") -> None:
    """Write ``seq`` as one OpenPose JSON per frame, ``<prefix>_<frame number:012d>_keypoints.json``.

    Each file holds the kept person (``people`` is empty where every confidence is 0); missing joints are
    written as ``0, 0, 0``. The folder is created if needed. It must not already hold other ``.json``
    files, which would be mixed into the frames on reading.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{prefix}_{int(n):012d}_keypoints.json" for n in seq.frame_numbers]
    foreign = sorted(p.name for p in folder.glob("*.json") if p.name not in set(names))
    if foreign:
        raise InputError(f"folder already holds other JSON files ({foreign[:3]}...); write to an empty folder",
                         folder)
    for name, kp, c in zip(names, seq.kp2d_px, seq.conf):
        people = []
        if (c > 0).any():
            xyc = np.concatenate([kp, c[:, None]], axis=1).astype(np.float64)  # (J, 3)
            xyc[~(c > 0)] = 0.0
            people.append({
                "person_id": [-1],
                "pose_keypoints_2d": [float(v) for v in xyc.reshape(-1)],
                "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            })
        (folder / name).write_text(json.dumps({"version": 1.3, "people": people}), encoding="utf-8")


def detect_body25_variant(kp2d_px: np.ndarray, conf: np.ndarray, *, min_conf: float = 0.1) -> str | None:
    """``"body25"``, ``"body25b"`` or ``None`` (undecided) from detections ``(N, 25, 2)`` / ``(N, 25)``.

    Implements rule 2 of the module docstring.
    """
    scores = _variant_residuals(np.asarray(kp2d_px, dtype=np.float64), np.asarray(conf), min_conf)
    a, b = scores["body25"], scores["body25b"]
    log.debug("BODY_25 vs BODY_25B midpoint residuals: %.3f vs %.3f", a, b)
    for name, win, lose in (("body25", a, b), ("body25b", b, a)):
        if win <= _MAX_RESIDUAL and (math.isnan(lose) or lose >= _MIN_MARGIN * win):
            return name
    return None


def _variant_residuals(kp: np.ndarray, conf: np.ndarray, min_conf: float) -> dict[str, float]:
    """Median midpoint residual per hypothesis (NaN with fewer than ``_MIN_DETECTIONS`` usable people)."""
    ok = conf > min_conf  # (N, J)
    lo = np.where(ok[..., None], kp, np.inf).min(axis=1)  # (N, 2)
    hi = np.where(ok[..., None], kp, -np.inf).max(axis=1)  # (N, 2)
    with np.errstate(invalid="ignore"):
        scale = (hi - lo).max(axis=1)  # (N,)
    out = {}
    for name, triples in _PROXIMITY.items():
        idx = np.array([[SKELETONS[name].index(j) for j in t] for t in triples])  # (K, 3)
        triple_ok = ok[:, idx].all(axis=2) & ((ok.sum(axis=1) >= 5) & (scale > 0))[:, None]  # (N, K)
        usable = triple_ok.any(axis=1)  # (N,)
        if usable.sum() < _MIN_DETECTIONS:
            out[name] = math.nan
            continue
        k = kp[usable]  # (n, J, 2)
        mid = 0.5 * (k[:, idx[:, 1]] + k[:, idx[:, 2]])  # (n, K, 2)
        dist = np.linalg.norm(k[:, idx[:, 0]] - mid, axis=-1)  # (n, K)
        w = triple_ok[usable]  # (n, K)
        res = (np.where(w, dist, 0.0).sum(axis=1) / w.sum(axis=1)) / scale[usable]  # (n,)
        out[name] = float(np.median(res))
    return out


def _auto_skeleton(folder: Path, files: list[Path], frames, min_conf: float) -> str:
    kp = np.concatenate([k for k, _ in frames]) if frames else np.zeros((0, NUM_JOINTS, 2))
    c = np.concatenate([c for _, c in frames]) if frames else np.zeros((0, NUM_JOINTS))
    by_geometry = detect_body25_variant(kp, c, min_conf=min_conf)
    names = f"{folder.name} {files[0].name}"
    hint = "body25b" if _HINT_B.search(names) else "body25" if _HINT_25.search(names) else None
    if hint is not None:
        if by_geometry is not None and by_geometry != hint:
            raise InputError(
                f"the names say {hint} but the keypoint geometry says {by_geometry}; pass skeleton='body25' or "
                "skeleton='body25b'", folder)
        log.info("%s: skeleton %s from the file names", folder, hint)
        return hint
    if by_geometry is None:
        scores = _variant_residuals(kp.astype(np.float64), c, min_conf)
        raise InputError(
            "cannot tell BODY_25 from BODY_25B (both have 25 joints) by the names or the keypoint geometry "
            f"(midpoint residuals {scores}); pass skeleton='body25' or skeleton='body25b'", folder)
    log.info("%s: skeleton %s from the keypoint geometry", folder, by_geometry)
    return by_geometry


def _frame_files(folder: Path) -> tuple[list[Path], np.ndarray]:
    if not folder.is_dir():
        raise InputError("OpenPose folder not found (expected a folder of per-frame JSON files)", folder)
    files = [p for p in folder.iterdir() if p.suffix == ".json" and p.is_file()]
    if not files:
        raise InputError("no .json frame files in the folder", folder)
    numbered = []
    for p in files:
        m = _FRAME_NUMBER.search(p.stem.removesuffix("_keypoints"))
        if m is None:
            raise InputError("no frame number in the file name (expected name_NNNN_keypoints.json or "
                             "name.NNNN.json)", p)
        numbered.append((int(m.group(1)), p))
    numbered.sort()
    numbers = np.array([n for n, _ in numbered], dtype=np.int64)
    dupes = np.flatnonzero(np.diff(numbers) == 0)
    if dupes.size:
        a, b = numbered[dupes[0]][1].name, numbered[dupes[0] + 1][1].name
        raise InputError(f"two files share frame number {numbers[dupes[0]]}: {a} and {b}", folder)
    return [p for _, p in numbered], numbers
