"""2D keypoint sequences: the :class:`Keypoints2D` container and the 2D inputs lift3d reads.

Inputs (``read_keypoints``; the format comes from the path, or ``fmt``):

| input | format | layout |
|---|---|---|
| folder | ``openpose`` | OpenPose JSON per frame, BODY_25 or BODY_25B (:mod:`lift3d.io.openpose`); one person tracked |
| ``.h5`` | ``h5`` | ``lift3d track`` output or a ``lift3d infer`` result: ``kp2d_px (T, J, 2)``, ``conf (T, J)``, attributes ``fps``, ``skeleton`` |
| ``.npz`` | ``npz`` | plain arrays (never pickles): ``keypoints`` or ``positions_2d`` ``(T, J, 2 or 3)`` (third column: confidence), optional ``conf (T, J)``, ``fps``, ``skeleton`` (str); a ``lift3d infer`` npz also works |
| ``.json`` | ``coco`` | COCO keypoint results (a list of ``{"image_id", "keypoints": [x, y, s] * 17, "score"}``) or a COCO dataset dict (``images`` + ``annotations``, visibility flags v: v > 0 is confidence 1); frames ordered by image id; one person tracked. A ``lift3d infer`` JSON is read as such. |
| ``.csv`` | ``csv`` | a ``lift3d infer`` CSV |

Frame rates: a file that does not store one needs ``fps=`` (``--fps``).
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np

from lift3d import __version__
from lift3d.errors import InputError
from lift3d.io.atomic import atomic_output
from lift3d.skeletons import TO_H36M, to_h36m

log = logging.getLogger(__name__)

KP2D_FORMAT = "lift3d.kp2d"
SKELETONS_BY_JOINTS = {17: "coco17", 33: "blazepose33"}  # 25 is ambiguous (BODY_25 / BODY_25B): ask
INPUT_FORMATS = ("openpose", "h5", "npz", "coco", "csv")


class MultiViewShape:
    """``num_views`` and ``num_frames`` of a type holding multi-view 2D ``kp2d_px (V, T, J, 2)``."""

    kp2d_px: np.ndarray

    @property
    def num_views(self) -> int:
        return self.kp2d_px.shape[0]

    @property
    def num_frames(self) -> int:
        return self.kp2d_px.shape[1]


@dataclass
class Keypoints2D:
    """One person's 2D keypoints over a video.

    Attributes:
        kp2d_px: ``(T, J, 2)`` float32 pixels; 0 where ``conf`` is 0.
        conf: ``(T, J)`` float32 in [0, 1]; 0 = missing.
        skeleton: a key of :data:`lift3d.skeletons.TO_H36M` (``blazepose33``, ``coco17``, ``body25``, ``body25b``,
            ``h36m17``).
        fps: frames per second.
        source: where the keypoints came from (a video or file path).
        image_size: ``(width, height)`` in pixels, or ``None`` if unknown.
        interpolated: ``(T,)`` bool, frames filled by interpolation across a short gap.
    """

    kp2d_px: np.ndarray
    conf: np.ndarray
    skeleton: str
    fps: float
    source: str = ""
    image_size: tuple[int, int] | None = None
    interpolated: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.kp2d_px = np.asarray(self.kp2d_px, dtype=np.float32)
        self.conf = np.asarray(self.conf, dtype=np.float32)
        where = self.source or None
        if self.kp2d_px.ndim != 3 or self.kp2d_px.shape[-1] != 2:
            raise InputError(f"2D keypoints must be (T, J, 2), got {self.kp2d_px.shape}", where)
        T, J, _ = self.kp2d_px.shape
        if self.conf.shape != (T, J):
            raise InputError(f"confidences must be ({T}, {J}) to match the keypoints, got {self.conf.shape}", where)
        if self.skeleton not in TO_H36M:
            raise InputError(f"unknown skeleton {self.skeleton!r}; known: {sorted(TO_H36M)}", where)
        if TO_H36M[self.skeleton].source.num_joints != J:
            raise InputError(f"skeleton {self.skeleton} has {TO_H36M[self.skeleton].source.num_joints} joints, "
                             f"the keypoints {J}", where)
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"fps must be > 0, got {self.fps}", where)
        if not np.isfinite(self.conf).all() or (self.conf < 0).any() or (self.conf > 1).any():
            raise InputError("confidences must be finite and in [0, 1]", where)
        if not np.isfinite(self.kp2d_px[self.conf > 0]).all():
            raise InputError("2D keypoints hold NaN or inf where the confidence is > 0", where)
        self.kp2d_px = np.where(self.conf[..., None] > 0, self.kp2d_px, 0.0).astype(np.float32)
        if self.interpolated is None:
            self.interpolated = np.zeros(T, dtype=bool)
        self.interpolated = np.asarray(self.interpolated, dtype=bool)
        if self.interpolated.shape != (T,):
            raise InputError(f"interpolated flags must be ({T},), got {self.interpolated.shape}", where)

    @property
    def num_frames(self) -> int:
        return self.kp2d_px.shape[0]

    def to_h36m(self) -> "Keypoints2D":
        """The same sequence on the lifting skeleton (H36M-17), with synthesised joints' confidences."""
        if self.skeleton == "h36m17":
            return self
        kp, conf = to_h36m(self.kp2d_px, self.conf, self.skeleton)
        return replace(self, kp2d_px=kp, conf=np.clip(conf, 0.0, 1.0), skeleton="h36m17")


def write_kp2d_h5(path: str | os.PathLike, kp: Keypoints2D, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write ``kp`` (plus optional extra datasets, e.g. the tracker's raw landmarks) to HDF5 atomically."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(format=KP2D_FORMAT, format_version=1, lift3d_version=__version__, skeleton=kp.skeleton,
                       fps=kp.fps, source=kp.source,
                       joint_names=list(TO_H36M[kp.skeleton].source.joints))
        if kp.image_size is not None:
            f.attrs["image_size"] = np.asarray(kp.image_size, dtype=np.int64)
        f["kp2d_px"], f["conf"], f["interpolated"] = kp.kp2d_px, kp.conf, kp.interpolated
        for name, value in (extra or {}).items():
            f[name] = value


def read_keypoints(
    path: str | os.PathLike, fmt: str | None = None, *, fps: float | None = None, skeleton: str | None = None,
    person: str | int = "largest",
) -> Keypoints2D:
    """Read a 2D input (see the module docstring). ``skeleton`` overrides or supplies the joint layout."""
    path = Path(path)
    if not path.exists():
        raise InputError("2D input not found", path)
    fmt = fmt or input_format(path)
    if fmt not in INPUT_FORMATS:
        raise InputError(f"unknown 2D format {fmt!r}; known: {list(INPUT_FORMATS)}", path)
    if fmt == "openpose":
        from lift3d.io.openpose import read_openpose_folder

        if not path.is_dir():
            raise InputError("the openpose format is a folder of per-frame JSON files", path)
        seq = read_openpose_folder(path, skeleton=skeleton or "auto", person=person)
        return Keypoints2D(seq.kp2d_px, seq.conf, seq.skeleton, _need_fps(fps, path), str(path))
    if path.is_dir():
        raise InputError(f"expected a {fmt} file, got a folder", path)
    if fmt == "h5":
        return _read_h5(path, fps, skeleton)
    if fmt == "npz":
        return _read_npz(path, fps, skeleton)
    if fmt == "csv":
        from lift3d.io.exports import read_result

        return read_result(path).keypoints()
    return _read_json(path, fps, skeleton, person)


def input_format(path: Path) -> str:
    if path.is_dir():
        return "openpose"
    suffix = path.suffix.lower()
    formats = {".h5": "h5", ".hdf5": "h5", ".npz": "npz", ".json": "coco", ".csv": "csv"}
    if suffix not in formats:
        raise InputError(f"cannot tell the 2D format from the suffix {suffix!r}; known: {sorted(formats)} "
                         "or a folder of OpenPose JSON (or pass --format)", path)
    return formats[suffix]


def _need_fps(fps: float | None, path: Path) -> float:
    if fps is None:
        raise InputError("the file does not store a frame rate; pass it (--fps)", path)
    return float(fps)


def _guess_skeleton(J: int, skeleton: str | None, path: Path) -> str:
    if skeleton:
        return skeleton
    if J not in SKELETONS_BY_JOINTS:
        raise InputError(f"cannot tell the skeleton of {J} joints; pass it (--skeleton, one of {sorted(TO_H36M)})", path)
    return SKELETONS_BY_JOINTS[J]


def _read_h5(path: Path, fps: float | None, skeleton: str | None) -> Keypoints2D:
    try:
        with h5py.File(path, "r") as f:
            if "kp2d_px" not in f or "conf" not in f:
                raise InputError(f"HDF5 file has no kp2d_px/conf datasets (has {sorted(f)})", path)
            kp, conf = f["kp2d_px"][()], f["conf"][()]
            interp = f["interpolated"][()] if "interpolated" in f else None
            a = dict(f.attrs)
    except OSError as e:
        raise InputError(f"cannot read as HDF5 ({e})", path) from None
    size = tuple(int(v) for v in a["image_size"]) if "image_size" in a else None
    return Keypoints2D(kp, conf, skeleton or str(a.get("skeleton", "")) or _guess_skeleton(kp.shape[1], None, path),
                       float(a["fps"]) if "fps" in a else _need_fps(fps, path), str(a.get("source", path)),
                       size, interp)


def _read_npz(path: Path, fps: float | None, skeleton: str | None) -> Keypoints2D:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise InputError(f"npz holds pickled objects, which lift3d never loads ({e}); save plain arrays: "
                         "keypoints (T, J, 2 or 3), optional conf (T, J) and fps", path) from None
    except (OSError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read as npz ({e})", path) from None
    key = next((k for k in ("kp2d_px", "keypoints", "positions_2d") if k in arrays), None)
    if key is None:
        raise InputError(f"npz has none of kp2d_px, keypoints, positions_2d (has {sorted(arrays)})", path)
    kp = np.asarray(arrays[key], dtype=np.float32)
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise InputError(f"{key} must be (T, J, 2) or (T, J, 3), got {kp.shape}", path)
    if "conf" in arrays:
        conf = arrays["conf"]
    elif kp.shape[-1] == 3:
        conf = kp[..., 2]
    else:
        conf = np.where(np.isfinite(kp).all(-1), 1.0, 0.0)
    kp = np.nan_to_num(kp[..., :2])
    conf = np.nan_to_num(np.asarray(conf, dtype=np.float32))
    sk = str(arrays["skeleton"]) if "skeleton" in arrays else None
    interp = arrays.get("interpolated")
    rate = float(arrays["fps"]) if "fps" in arrays else _need_fps(fps, path)
    size = tuple(int(v) for v in arrays["image_size"]) if "image_size" in arrays else None
    source = str(arrays["source"]) if "source" in arrays else str(path)
    return Keypoints2D(kp, conf, skeleton or sk or _guess_skeleton(kp.shape[1], None, path), rate, source, size, interp)


def _read_json(path: Path, fps: float | None, skeleton: str | None, person) -> Keypoints2D:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not valid JSON ({e})", path) from None
    if isinstance(data, dict) and data.get("format") == "lift3d.pose3d":
        from lift3d.io.exports import read_result

        return read_result(path).keypoints()
    return read_coco_keypoints(data, path, fps, skeleton, person)


def read_coco_keypoints(data, path: Path, fps: float | None, skeleton: str | None, person) -> Keypoints2D:
    """COCO keypoint results or dataset JSON (already parsed) -> one tracked person per image, images in id order."""
    from lift3d.tracking.people import follow_person

    if isinstance(data, dict) and "annotations" in data:
        anns, flags = data["annotations"], True
        image_ids = sorted({img["id"] for img in data.get("images", [])} | {a["image_id"] for a in anns})
    elif isinstance(data, list):
        anns, flags = data, False
        image_ids = sorted({a["image_id"] for a in anns}) if all(isinstance(a, dict) and "image_id" in a for a in anns) else None
        if image_ids is None:
            raise InputError("COCO results must be a list of objects with image_id and keypoints", path)
    else:
        raise InputError("not a COCO keypoint file (expected a results list or a dict with annotations)", path)
    if not image_ids:
        raise InputError("COCO file holds no images or detections", path)
    per_image: dict = {i: [] for i in image_ids}
    J = None
    for a in anns:
        k = np.asarray(a.get("keypoints", []), dtype=np.float64)
        if k.size == 0 or k.size % 3:
            raise InputError(f"image {a.get('image_id')}: keypoints must be [x, y, v] * J, got {k.size} numbers", path)
        if J is None:
            J = k.size // 3
        elif k.size // 3 != J:
            raise InputError(f"detections have different joint counts ({J} and {k.size // 3})", path)
        per_image[a["image_id"]].append(k.reshape(J, 3))
    if J is None:
        raise InputError("COCO file holds no keypoints", path)
    frames = []
    for i in image_ids:
        people = np.stack(per_image[i]) if per_image[i] else np.zeros((0, J, 3))  # (P, J, 3)
        c = (people[..., 2] > 0).astype(np.float32) if flags else np.clip(people[..., 2], 0.0, 1.0).astype(np.float32)
        frames.append((people[..., :2].astype(np.float32), c))
    kp, conf, _ = follow_person(frames, person, num_joints=J)
    return Keypoints2D(kp, conf, _guess_skeleton(J, skeleton, path), _need_fps(fps, path), str(path))
