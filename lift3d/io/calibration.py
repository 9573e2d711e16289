"""Multi-camera calibration files: Pose2Sim / aniposelib TOML, and Qualisys ``.qca.txt`` XML.

TOML layout (Pose2Sim, aniposelib): one table per camera plus an optional ``[metadata]`` table::

    [cam_01]                      # any table name; Calib_scene.toml uses [int_cam01_img]
    name = "cam_01"               # optional here (defaults to the table name)
    size = [1088.0, 1920.0]       # [width, height] in pixels
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2]   # OpenCV order; a fifth value k3 is accepted
    rotation = [rx, ry, rz]       # Rodrigues vector of the world-to-camera rotation
    translation = [tx, ty, tz]    # metres: x_cam = R @ X_world + t (OpenCV convention)
    fisheye = false               # optional; fisheye cameras are not supported

Cameras keep the file's order. Rodrigues vectors are converted with OpenCV's ``cv2.Rodrigues``; this module
is the NumPy/file edge and hands torch tensors to :class:`lift3d.geometry.CameraSet`.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from lift3d.errors import InputError
from lift3d.io.atomic import atomic_write_text
from lift3d.geometry import CameraSet

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_calibration_toml", "write_calibration_toml", "read_calibration_qca"]

_REQUIRED = ("size", "matrix", "distortions", "rotation", "translation")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def read_calibration_toml(path: str | os.PathLike) -> CameraSet:
    """Read a Pose2Sim / aniposelib calibration TOML into a :class:`CameraSet` (float64, file order).

    Raises:
        InputError: missing or unreadable file, invalid TOML, no camera table, a camera table with a missing
            field, a wrong shape, a non-finite value, a non-positive focal length, ``fisheye = true`` or
            duplicate camera names. The message names the file and the camera table.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise InputError("calibration file not found", path) from None
    except OSError as e:
        raise InputError(f"cannot read calibration file: {e.strerror or e}", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not a valid TOML file: {e}", path) from None

    names, Ks, Rs, ts, dists, sizes = [], [], [], [], [], []
    for key, table in doc.items():
        if key == "metadata":
            continue
        if not isinstance(table, dict):
            raise InputError(
                f"top-level key {key!r} is not a camera table; expected one [camera] table per camera "
                "(and optionally [metadata])",
                path,
            )
        try:
            name, K, R, t, dist, size = _parse_camera_table(key, table)
        except ValueError as e:
            raise InputError(f"camera table [{key}]: {e}", path) from None
        names.append(name)
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
        dists.append(dist)
        sizes.append(size)
    if not names:
        raise InputError("no camera table found (expected tables with matrix, rotation, translation, ...)", path)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicate camera names {dupes}; every camera needs a distinct name", path)
    return _camera_set(path, names, Ks, Rs, ts, dists, sizes)


def write_calibration_toml(cameras: CameraSet, path: str | os.PathLike) -> None:
    """Write ``cameras`` as a Pose2Sim-style TOML that :func:`read_calibration_toml` reads back.

    Floats are written with ``repr`` (shortest exact form), so intrinsics, translations and distortions
    round-trip exactly and rotations to ~1e-15 (through Rodrigues vectors). ``distortions`` has 4 values
    when k3 is 0 (Pose2Sim's form), else 5. The file is written to a temporary file in the same directory
    and moved into place with ``os.replace``, so a reader never sees half a file.
    """
    path = Path(path)
    K = _to_numpy(cameras.K)  # (V, 3, 3)
    R = _to_numpy(cameras.R)  # (V, 3, 3)
    t = _to_numpy(cameras.t)  # (V, 3)
    dist = _to_numpy(cameras.dist)  # (V, 5)
    size = _to_numpy(cameras.image_size)  # (V, 2)
    names = tuple(cameras.names)
    if len(set(names)) != len(names) or "metadata" in names:
        raise InputError(f"camera names must be distinct and not 'metadata', got {names}", path)
    for what, arr in (("K", K), ("R", R), ("t", t), ("dist", dist), ("image_size", size)):
        if not np.isfinite(arr).all():
            raise InputError(f"camera {what} holds NaN or inf; refusing to write it", path)

    blocks = []
    for v, name in enumerate(names):
        rvec = cv2.Rodrigues(R[v])[0].reshape(3)
        d = dist[v] if dist[v, 4] != 0 else dist[v, :4]
        blocks.append(
            "\n".join(
                [
                    f"[{_toml_key(name)}]",
                    f"name = {_toml_str(name)}",
                    f"size = {_toml_list(size[v])}",
                    "matrix = [" + ", ".join(_toml_list(row) for row in K[v]) + "]",
                    f"distortions = {_toml_list(d)}",
                    f"rotation = {_toml_list(rvec)}",
                    f"translation = {_toml_list(t[v])}",
                    "fisheye = false",
                ]
            )
        )
    blocks.append("[metadata]\nadjusted = false\nerror = 0.0")
    atomic_write_text(path, "\n\n".join(blocks) + "\n")


def read_calibration_qca(path: str | os.PathLike) -> CameraSet:
    """Read a Qualisys ``.qca.txt`` calibration (XML) into a :class:`CameraSet` (Z-up world, metres).

    Per ``<camera>``: ``<transform>`` holds ``r11..r33`` and the camera position ``x, y, z`` in mm;
    ``<intrinsic>`` holds focal length and principal point in 1/64-pixel sensor units and the distortion
    coefficients. The Qualisys camera frame has y up and z backwards, so the OpenCV world-to-camera rotation
    is ``diag(1, -1, -1) @ r`` with ``r[i-1, j-1] = r_ij`` (a rotation by pi about x), and
    ``t = -R @ position``. This reproduces Pose2Sim's ``Calib_qualisys.toml`` extrinsics and intrinsics to
    1e-15, except for distortion: Pose2Sim divides the coefficients by 64, this reader keeps them as written
    (k1 ~ -0.046, in line with the independently estimated ``Calib_scene.toml``). Image size comes from
    ``<fov_video>``. Names are the ``serial`` attributes.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise InputError("calibration file not found", path) from None
    except OSError as e:
        raise InputError(f"cannot read calibration file: {e.strerror or e}", path) from None
    except ET.ParseError as e:
        raise InputError(f"not a valid Qualisys XML calibration: {e}", path) from None

    flip = np.diag([1.0, -1.0, -1.0])
    names, Ks, Rs, ts, dists, sizes = [], [], [], [], [], []
    for i, cam in enumerate(root.iter("camera")):
        name = cam.get("serial") or f"cam{i + 1:02d}"
        try:
            tr, it, fov = cam.find("transform"), cam.find("intrinsic"), cam.find("fov_video")
            if tr is None or it is None or fov is None:
                raise ValueError("expected <transform>, <intrinsic> and <fov_video> elements")
            r = np.array([[_attr(tr, f"r{a}{b}") for b in (1, 2, 3)] for a in (1, 2, 3)])
            position_m = np.array([_attr(tr, c) for c in "xyz"]) / 1000.0
            R = flip @ r
            K = np.array(
                [
                    [_attr(it, "focalLengthU") / 64.0, 0.0, _attr(it, "centerPointU") / 64.0],
                    [0.0, _attr(it, "focalLengthV") / 64.0, _attr(it, "centerPointV") / 64.0],
                    [0.0, 0.0, 1.0],
                ]
            )
            dist = np.array(
                [
                    _attr(it, "radialDistortion1"), _attr(it, "radialDistortion2"),
                    _attr(it, "tangentalDistortion1"), _attr(it, "tangentalDistortion2"),
                    _attr(it, "radialDistortion3", default=0.0),
                ]
            )
            size = np.array(
                [_attr(fov, "right") - _attr(fov, "left") + 1, _attr(fov, "bottom") - _attr(fov, "top") + 1]
            )
            if abs(np.linalg.det(r) - 1.0) > 1e-6 or np.abs(r @ r.T - np.eye(3)).max() > 1e-6:
                raise ValueError("r11..r33 is not a rotation matrix")
        except ValueError as e:
            raise InputError(f"camera {name!r}: {e}", path) from None
        names.append(name)
        Ks.append(K)
        Rs.append(R)
        ts.append(-R @ position_m)
        dists.append(dist)
        sizes.append(size)
    if not names:
        raise InputError("no <camera> element found", path)
    return _camera_set(path, names, Ks, Rs, ts, dists, sizes)


def _camera_set(path: Path, names, Ks, Rs, ts, dists, sizes) -> CameraSet:
    try:
        # NumPy float64 arrays; CameraSet converts them to float64 CPU tensors.
        return CameraSet(
            K=np.stack(Ks), R=np.stack(Rs), t=np.stack(ts), dist=np.stack(dists), image_size=np.stack(sizes),
            names=tuple(names),
        )
    except InputError as e:  # CameraSet's own checks; name the file
        raise InputError(e.problem, path) from None


def _parse_camera_table(key: str, table: dict):
    """Validate one camera table; ``ValueError`` with a message a user can act on."""
    missing = [f for f in _REQUIRED if f not in table]
    if missing:
        raise ValueError(f"missing field(s) {missing}; a camera table needs {list(_REQUIRED)}")
    fisheye = table.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise ValueError(f"fisheye must be true or false, got {fisheye!r}")
    if fisheye:
        raise ValueError("fisheye = true: fisheye (Kannala-Brandt) cameras are not supported, only the pinhole "
                         "model with OpenCV radial-tangential distortion")
    name = table.get("name", key)
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    K = _numbers(table["matrix"], "matrix", (3, 3))
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"matrix: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
    if np.abs(K[2] - [0.0, 0.0, 1.0]).max() > 1e-9 or K[1, 0] != 0:
        raise ValueError(f"matrix must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
    dist = _numbers(table["distortions"], "distortions", None)
    if dist.ndim != 1 or dist.size not in (4, 5):
        raise ValueError(f"distortions must be [k1, k2, p1, p2] or [k1, k2, p1, p2, k3], got shape {dist.shape}")
    dist = np.concatenate([dist, np.zeros(5 - dist.size)])
    rvec = _numbers(table["rotation"], "rotation", (3,))
    R = cv2.Rodrigues(rvec.reshape(3, 1))[0]
    t = _numbers(table["translation"], "translation", (3,))
    size = _numbers(table["size"], "size", (2,))
    if (size <= 0).any():
        raise ValueError(f"size must be [width, height] > 0, got {size.tolist()}")
    return name, K, R, t, dist, size


def _numbers(value, field: str, shape) -> np.ndarray:
    """A finite float64 array of ``shape`` (None: any) from a TOML value."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be an array of numbers{_shape_text(shape)}, got {value!r}") from None
    if _has_bool(value):
        raise ValueError(f"{field} must be an array of numbers{_shape_text(shape)}, got {value!r}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{field} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{field} holds NaN or inf: {value!r}")
    return arr


def _shape_text(shape) -> str:
    return "" if shape is None else f" of shape {shape}"


def _has_bool(value) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list) and any(_has_bool(v) for v in value)


def _attr(element, name: str, default: float | None = None) -> float:
    raw = element.get(name)
    if raw is None:
        if default is not None:
            return default
        raise ValueError(f"<{element.tag}> lacks attribute {name!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"<{element.tag}> attribute {name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"<{element.tag}> attribute {name}={raw!r} is not finite")
    return value


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _toml_list(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _toml_str(s: str) -> str:
    escaped = s.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _toml_key(s: str) -> str:
    return s if _BARE_KEY.match(s) else _toml_str(s)
