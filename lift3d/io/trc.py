"""OpenSim TRC marker files (tab-separated), as written by Pose2Sim, OpenSim and most mocap software.

Layout::

    PathFileType  4  (X/Y/Z)  <file name>
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    60        60          100        21          m      60            0                   100
    Frame#  Time  RHip          RKnee  ...
                  X1  Y1  Z1    X2  Y2  Z2  ...
    <optional blank line>
    1       0.0166  x  y  z     x  y  z  ...

A blank field is a missing marker (NaN here). TRC files are Y-up (OpenSim); :func:`trc_to_zup` converts
to lift3d's Z-up world as Pose2Sim's calibration uses it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lift3d.errors import InputError
from lift3d.io.atomic import atomic_write_text
from lift3d.skeletons import H36M17

__all__ = [
    "TrcData", "read_trc", "write_trc", "trc_to_zup", "zup_to_trc", "POSE2SIM_MARKERS", "POSE2SIM_TO_BODY25B",
    "POSE2SIM_TO_H36M", "limb_joints_zup",
]

_TO_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001}

# Pose2Sim's 21 markers for BODY_25B, in the order of its TRC files.
POSE2SIM_MARKERS = (
    "RHip", "RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel", "LHip", "LKnee", "LAnkle", "LBigToe",
    "LSmallToe", "LHeel", "Neck", "Head", "Nose", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow",
    "LWrist",
)
# Pose2Sim triangulates these markers from the BODY_25B keypoints of the same name (Neck is BODY_25B's
# upper neck, Head its head top).
POSE2SIM_TO_BODY25B = {m: m for m in POSE2SIM_MARKERS}
# Markers that are a joint of the lifting skeleton H36M17 as lift3d defines it (lift3d.skeletons.tables):
# lift3d's "neck" is the nose. Pose2Sim's Neck (upper neck) and Head (head top) are not lift3d's thorax
# (mid-shoulders) and head (mid-ears), so they have no entry; pelvis, spine and thorax are synthesised.
POSE2SIM_TO_H36M = {
    "RHip": "r_hip", "RKnee": "r_knee", "RAnkle": "r_ankle", "LHip": "l_hip", "LKnee": "l_knee",
    "LAnkle": "l_ankle", "Nose": "neck", "RShoulder": "r_shoulder", "RElbow": "r_elbow", "RWrist": "r_wrist",
    "LShoulder": "l_shoulder", "LElbow": "l_elbow", "LWrist": "l_wrist",
}


@dataclass(frozen=True)
class TrcData:
    """Marker trajectories of one TRC file.

    Attributes:
        marker_names: ``M`` names, in file order.
        positions_m: ``(T, M, 3)`` float64 metres in the file's axes (Y-up for OpenSim; see
            :func:`trc_to_zup`); NaN where a marker is blank.
        fps: ``DataRate``.
        frame_numbers: ``(T,)`` int64, the ``Frame#`` column.
        times: ``(T,)`` float64 seconds, the ``Time`` column.
        units: the file's declared ``Units`` (``m``, ``cm`` or ``mm``); ``positions_m`` is metres regardless.
    """

    marker_names: tuple[str, ...]
    positions_m: np.ndarray
    fps: float
    frame_numbers: np.ndarray
    times: np.ndarray
    units: str

    def __post_init__(self) -> None:
        T, M, _ = self.positions_m.shape
        assert M == len(self.marker_names) and self.frame_numbers.shape == (T,) and self.times.shape == (T,)

    def marker(self, name: str) -> np.ndarray:
        """``(T, 3)`` trajectory of one marker; ``KeyError`` listing the markers if absent."""
        if name not in self.marker_names:
            raise KeyError(f"no marker {name!r}; markers: {list(self.marker_names)}")
        return self.positions_m[:, self.marker_names.index(name)]


def read_trc(path: str | os.PathLike) -> TrcData:
    """Read a TRC file; positions in metres (``Units`` m, cm or mm), blanks as NaN.

    Raises:
        InputError: missing file, a malformed header (unknown units, marker count not matching
            ``NumMarkers``), a data row with the wrong number of columns or a non-numeric value, or fewer or
            more rows than ``NumFrames``. The message names the file and the line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except FileNotFoundError:
        raise InputError("TRC file not found", path) from None
    except OSError as e:
        raise InputError(f"cannot read TRC file: {e.strerror or e}", path) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not a text TRC file: {e}", path) from None
    if len(lines) < 5:
        raise InputError(f"truncated header: {len(lines)} lines, a TRC header has 5", path)
    if not lines[0].startswith("PathFileType"):
        raise InputError("line 1: expected 'PathFileType\t4\t(X/Y/Z)\t<name>' (not a TRC file?)", path)

    keys, values = _split(lines[1]), _split(lines[2])
    if len(values) < len(keys):
        raise InputError(f"line 3: {len(values)} values for the {len(keys)} header fields of line 2", path)
    header = dict(zip(keys, values))
    for key in ("DataRate", "NumFrames", "NumMarkers", "Units"):
        if key not in header:
            raise InputError(f"line 2: header field {key!r} missing (have {keys})", path)
    units = header["Units"].strip()
    if units not in _TO_METRES:
        raise InputError(f"line 3: Units {units!r} not supported; expected one of {list(_TO_METRES)}", path)
    try:
        fps = float(header["DataRate"])
        num_frames = int(float(header["NumFrames"]))
        num_markers = int(float(header["NumMarkers"]))
    except ValueError:
        raise InputError("line 3: DataRate, NumFrames and NumMarkers must be numbers", path) from None
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"line 3: DataRate must be > 0, got {header['DataRate']}", path)

    names = tuple(n.strip() for n in _split(lines[3])[2:] if n.strip())
    if len(names) != num_markers:
        raise InputError(f"line 4: {len(names)} marker names but NumMarkers = {num_markers}", path)
    ncols = 2 + 3 * num_markers

    rows, line_numbers = [], []
    for i, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        fields = line.split("\t")
        # Trailing empty fields (trailing tabs) are harmless; missing ones mean a truncated row.
        while len(fields) > ncols and not fields[-1].strip():
            fields.pop()
        if len(fields) != ncols:
            raise InputError(f"line {i}: {len(fields)} columns, expected {ncols} (Frame#, Time and X/Y/Z of "
                             f"{num_markers} markers){' - truncated row?' if len(fields) < ncols else ''}", path)
        try:
            rows.append([float(f) if f.strip() else math.nan for f in fields])
        except ValueError:
            bad = next(f for f in fields if f.strip() and not _is_float(f))
            raise InputError(f"line {i}: non-numeric value {bad!r}", path) from None
        line_numbers.append(i)
    if len(rows) != num_frames:
        raise InputError(f"{len(rows)} data rows but NumFrames = {num_frames} (truncated file?)", path)

    data = np.array(rows, dtype=np.float64).reshape(num_frames, ncols)  # (T, 2 + 3M)
    if not np.isfinite(data[:, :2]).all():
        bad = line_numbers[int(np.flatnonzero(~np.isfinite(data[:, :2]).all(axis=1))[0])]
        raise InputError(f"line {bad}: Frame# and Time must be numbers", path)
    if np.isinf(data).any():
        bad = line_numbers[int(np.flatnonzero(np.isinf(data).any(axis=1))[0])]
        raise InputError(f"line {bad}: infinite value; a missing marker is a blank field", path)
    positions_m = data[:, 2:].reshape(num_frames, num_markers, 3) * _TO_METRES[units]  # (T, M, 3)
    return TrcData(names, positions_m, fps, data[:, 0].astype(np.int64), data[:, 1].copy(), units)


def write_trc(
    path: str | os.PathLike,
    marker_names,
    positions_m: np.ndarray,
    fps: float,
    *,
    frame_numbers: np.ndarray | None = None,
    times: np.ndarray | None = None,
    units: str = "m",
) -> None:
    """Write ``positions_m (T, M, 3)`` metres (NaN: blank) as a TRC file that :func:`read_trc` reads back.

    ``frame_numbers`` default to ``1..T`` and ``times`` to ``(frame_numbers - frame_numbers[0]) / fps``.
    Values are written in ``units`` (m, cm or mm) with ``repr`` precision, so metres round-trip exactly
    and other units to ~1e-15 m. The file goes to a temporary file in the same directory first and is
    moved into place with ``os.replace``.
    """
    path = Path(path)
    names = tuple(str(n) for n in marker_names)
    pos = np.asarray(positions_m, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[1:] != (len(names), 3):
        raise InputError(f"positions_m must be (T, {len(names)}, 3) for {len(names)} markers, got {pos.shape}")
    if units not in _TO_METRES:
        raise InputError(f"units must be one of {list(_TO_METRES)}, got {units!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be > 0, got {fps}")
    if any(not n or "\t" in n or "\n" in n for n in names):
        raise InputError(f"marker names must be non-empty and hold no tabs or newlines: {names}")
    if np.isinf(pos).any():
        raise InputError("positions_m holds inf; use NaN for a missing marker")
    T, M, _ = pos.shape
    frames = np.arange(1, T + 1) if frame_numbers is None else np.asarray(frame_numbers).astype(np.int64)
    if frames.shape != (T,):
        raise InputError(f"frame_numbers must have shape ({T},), got {frames.shape}")
    t = (frames - frames[0]) / fps if times is None else np.asarray(times, dtype=np.float64)
    if t.shape != (T,) or not np.isfinite(t).all():
        raise InputError(f"times must be ({T},) finite seconds")

    values = pos.reshape(T, 3 * M) / _TO_METRES[units]  # (T, 3M)
    rate = str(int(fps)) if float(fps).is_integer() else repr(float(fps))
    out = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{T}\t{M}\t{units}\t{rate}\t{frames[0] if T else 1}\t{T}",
        "Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names),
        "\t\t" + "\t".join(f"X{m}\tY{m}\tZ{m}" for m in range(1, M + 1)),
        "",
    ]
    for f, ti, row in zip(frames.tolist(), t.tolist(), values):
        out.append(f"{f}\t{ti!r}\t" + "\t".join("" if math.isnan(v) else repr(v) for v in row.tolist()))
    atomic_write_text(path, "\n".join(out) + "\n")


def trc_to_zup(positions):
    """TRC (OpenSim, Y-up) to lift3d's Z-up world: ``X_world = Z_trc, Y_world = X_trc, Z_world = Y_trc``.

    ``positions (..., 3)``, NumPy or torch. This is the axis change that puts Pose2Sim's TRC into the frame
    of its calibration (``shared/data/pose2sim_demo/SOURCE.md``); it is a rotation (a cyclic permutation).
    """
    return positions[..., [2, 0, 1]]


def limb_joints_zup(trc: TrcData) -> tuple[list[int], np.ndarray]:
    """The 12 limb markers of a Pose2Sim TRC (hips, knees, ankles, shoulders, elbows, wrists) as joints of the
    lifting skeleton, for comparisons joint for joint: their ``H36M17`` indices and their ``(T, 12, 3)``
    positions in lift3d's Z-up world (:func:`trc_to_zup`). The nose, a face point, is left out."""
    limbs = {m: j for m, j in POSE2SIM_TO_H36M.items() if m != "Nose"}
    joints = [H36M17.joints.index(j) for j in limbs.values()]
    return joints, trc_to_zup(trc.positions_m)[:, [trc.marker_names.index(m) for m in limbs]]


def zup_to_trc(positions):
    """Inverse of :func:`trc_to_zup`: ``(..., 3)`` Z-up world to TRC's Y-up axes."""
    return positions[..., [1, 2, 0]]


def _split(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
