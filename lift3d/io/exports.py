"""Writing and re-reading ``lift3d infer`` results (:class:`lift3d.infer.Pose3DResult`) in five formats.

Every format holds the same numbers (re-reading gives them back exactly; TRC holds the 3D only). Schemas:

* ``.h5``: datasets ``pose3d_cam_m (T, 17, 3)``, ``kp2d_px (T, 17, 2)``, ``conf (T, 17)`` float32,
  ``interpolated (T,)`` bool; attributes ``format`` = ``lift3d.pose3d``, ``format_version``, ``fps``,
  ``joint_names``, ``parents``, ``source``, ``checkpoint_id``, ``skeleton`` = ``h36m17``, ``image_size``
  (width, height; absent if unknown), ``lift3d_version``.
* ``.npz``: the same arrays under the same names, plus 0-d/1-d arrays ``fps``, ``joint_names`` (str),
  ``parents``, ``source``, ``checkpoint_id``, ``format``, ``image_size``; no pickled objects.
* ``.json``: ``{"format": "lift3d.pose3d", "format_version": 1, "fps", "joint_names", "parents", "source",
  "checkpoint_id", "image_size", "frames": [{"pose3d_cam_m": [[x, y, z] x 17], "kp2d_px": [[u, v] x 17],
  "conf": [17], "interpolated": bool}, ...]}``.
* ``.csv``: ``#`` comment lines ``key=value`` (format, format_version, fps, source, checkpoint_id, image_size,
  parents), then a header row and one row per frame: ``frame, time_s, interpolated``, then per joint
  ``<joint>_x_m, <joint>_y_m, <joint>_z_m`` (camera frame), then per joint ``<joint>_u_px, <joint>_v_px,
  <joint>_conf``.
* ``.trc``: OpenSim marker file, one marker per joint, metres, in a Y-up frame made from the camera frame by a
  half turn about its x axis (``X = x, Y = -y, Z = -z``), so the person stands upright. Root-relative, or
  placed in the scene (``pose3d_cam_m + root_cam_m``) when the result has a root.

Optional fields, present only when the result has them (``lift3d infer --iso``, ``--plausibility``):
``root_cam_m (T, 3)`` the root in the camera frame (metres), ``camera_K (3, 3)`` and ``camera_dist (4|5,)``
the camera ISO fitted with (``project(pose3d_cam_m + root_cam_m, camera_K, camera_dist)`` gives pixels),
``plausibility (T,)`` the pose discriminator's score. h5 and npz: arrays of those names; json: ``camera_K`` and
``camera_dist`` at the top level, ``root_cam_m`` and ``plausibility`` in each frame; csv: ``# camera_K=`` and
``# camera_dist=`` comment lines (row-major, comma-separated) and columns ``root_x_m, root_y_m, root_z_m`` and
``plausibility`` after the per-joint ones.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import h5py
import numpy as np

from lift3d import __version__
from lift3d.errors import InputError
from lift3d.infer import Pose3DResult
from lift3d.io.atomic import atomic_output, atomic_write_text
from lift3d.io.trc import read_trc, write_trc
from lift3d.skeletons import H36M17

FORMAT = "lift3d.pose3d"
FORMAT_VERSION = 1
OUTPUT_FORMATS = ("h5", "npz", "json", "csv", "trc")
_SUFFIXES = {".h5": "h5", ".hdf5": "h5", ".npz": "npz", ".json": "json", ".csv": "csv", ".trc": "trc"}
CAM_TO_TRC = np.diag([1.0, -1.0, -1.0])  # camera (y down, z forward) -> Y-up, a half turn about x
PER_FRAME_OPTIONAL = ("root_cam_m", "plausibility")  # (T, ...) arrays a result may carry
CAMERA_OPTIONAL = ("camera_K", "camera_dist")
OPTIONAL = PER_FRAME_OPTIONAL + CAMERA_OPTIONAL


def output_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The export format of ``path``: ``fmt`` if given, else from the suffix."""
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {fmt!r}; known: {list(OUTPUT_FORMATS)}", path)
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(f"cannot tell the output format from the suffix {suffix!r}; use one of "
                         f"{sorted(_SUFFIXES)} or --format", path)
    return _SUFFIXES[suffix]


def _meta(r: Pose3DResult) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "fps": float(r.fps), "source": r.source,
            "checkpoint_id": r.checkpoint_id, "skeleton": H36M17.name, "joint_names": list(H36M17.joints),
            "parents": list(H36M17.parents),
            "image_size": list(r.image_size) if r.image_size is not None else None}


def _optional(r: Pose3DResult) -> dict[str, np.ndarray]:
    """The optional arrays ``r`` has: float32 per-frame ones, float64 camera ones."""
    out = {}
    for k in OPTIONAL:
        v = getattr(r, k)
        if v is not None:
            out[k] = np.asarray(v, np.float32 if k in PER_FRAME_OPTIONAL else np.float64)
    return out


def write_result(path: str | os.PathLike, r: Pose3DResult, fmt: str | None = None) -> Path:
    """Write ``r`` atomically (a temporary file renamed into place); returns the path."""
    path = Path(path)
    fmt = output_format(path, fmt)
    meta = _meta(r)
    extra = _optional(r)
    if fmt == "h5":
        with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update({k: v for k, v in meta.items() if v is not None}, lift3d_version=__version__)
            f["pose3d_cam_m"], f["kp2d_px"], f["conf"] = r.pose3d_cam_m, r.kp2d_px, r.conf
            f["interpolated"] = r.interpolated
            for k, v in extra.items():
                f[k] = v
    elif fmt == "npz":
        arrays = {k: np.asarray(v) for k, v in meta.items() if v is not None}
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, pose3d_cam_m=r.pose3d_cam_m, kp2d_px=r.kp2d_px, conf=r.conf,
                     interpolated=r.interpolated, **extra, **arrays)
    elif fmt == "json":
        frames = [{"pose3d_cam_m": p.tolist(), "kp2d_px": k.tolist(), "conf": c.tolist(), "interpolated": bool(i)}
                  for p, k, c, i in zip(r.pose3d_cam_m.astype(np.float64), r.kp2d_px.astype(np.float64),
                                        r.conf.astype(np.float64), r.interpolated)]
        for k in PER_FRAME_OPTIONAL:
            if k in extra:
                for frame, v in zip(frames, extra[k].astype(np.float64)):
                    frame[k] = v.tolist()
        cams = {k: extra[k].tolist() for k in CAMERA_OPTIONAL if k in extra}
        atomic_write_text(path, json.dumps({**meta, **cams, "frames": frames}) + "\n")
    elif fmt == "csv":
        atomic_write_text(path, _csv_text(r, meta, extra))
    else:
        pos = r.pose3d_cam_m.astype(np.float64)  # (T, 17, 3)
        if r.root_cam_m is not None:
            pos = pos + r.root_cam_m.astype(np.float64)[:, None]
        pos = pos @ CAM_TO_TRC.T
        write_trc(path, H36M17.joints, pos, r.fps)
    return path


_CSV_EXTRA_COLUMNS = {"root_cam_m": ["root_x_m", "root_y_m", "root_z_m"], "plausibility": ["plausibility"]}


def _csv_text(r: Pose3DResult, meta: dict, extra: dict[str, np.ndarray]) -> str:
    buf = io.StringIO()
    for key in ("format", "format_version", "fps", "source", "checkpoint_id"):
        buf.write(f"# {key}={meta[key]}\n")
    if r.image_size is not None:
        buf.write(f"# image_size={r.image_size[0]},{r.image_size[1]}\n")
    buf.write(f"# parents={','.join(map(str, H36M17.parents))}\n")
    for key in CAMERA_OPTIONAL:
        if key in extra:
            buf.write(f"# {key}={','.join(repr(float(v)) for v in extra[key].ravel())}\n")
    w = csv.writer(buf, lineterminator="\n")
    names = H36M17.joints
    per_frame = [k for k in PER_FRAME_OPTIONAL if k in extra]
    w.writerow(["frame", "time_s", "interpolated"] + [f"{j}_{a}_m" for j in names for a in "xyz"]
               + [f"{j}_{a}" for j in names for a in ("u_px", "v_px", "conf")]
               + [c for k in per_frame for c in _CSV_EXTRA_COLUMNS[k]])
    for t in range(r.num_frames):
        p = r.pose3d_cam_m[t].astype(np.float64).ravel().tolist()
        kc = np.concatenate([r.kp2d_px[t], r.conf[t][:, None]], axis=1).astype(np.float64).ravel().tolist()
        ex = [v for k in per_frame for v in np.atleast_1d(extra[k][t]).astype(np.float64).tolist()]
        w.writerow([t, repr(t / r.fps), int(r.interpolated[t])] + [repr(v) for v in p + kc + ex])
    return buf.getvalue()


def read_result(path: str | os.PathLike, fmt: str | None = None) -> Pose3DResult:
    """Read a result written by :func:`write_result` (h5, npz, json or csv; TRC: :func:`read_trc_pose3d`)."""
    path = Path(path)
    fmt = output_format(path, fmt)
    if not path.is_file():
        raise InputError("result file not found", path)
    try:
        if fmt == "h5":
            with h5py.File(path, "r") as f:
                meta = dict(f.attrs)
                arrays = {k: f[k][()] for k in ("pose3d_cam_m", "kp2d_px", "conf", "interpolated") + OPTIONAL
                          if k in f}
        elif fmt == "npz":
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = {k: arrays.pop(k).tolist() for k in list(arrays) if arrays[k].ndim == 0 or k in (
                "joint_names", "parents", "image_size")}
        elif fmt == "json":
            data = json.loads(path.read_text(encoding="utf-8"))
            frames = data.pop("frames")
            meta = data
            arrays = {k: np.array([f[k] for f in frames], dtype=bool if k == "interpolated" else np.float32)
                      for k in ("pose3d_cam_m", "kp2d_px", "conf", "interpolated") + PER_FRAME_OPTIONAL
                      if k not in PER_FRAME_OPTIONAL or (frames and k in frames[0])}
            arrays.update({k: np.array(meta.pop(k), np.float64) for k in CAMERA_OPTIONAL if k in meta})
        elif fmt == "csv":
            meta, arrays = _read_csv(path)
        else:
            raise InputError("TRC holds 3D only; read it with read_trc_pose3d", path)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"cannot read as a lift3d {fmt} result ({type(e).__name__}: {e})", path) from None
    if meta.get("format") != FORMAT:
        raise InputError(f"not a lift3d result (format {meta.get('format')!r}, expected {FORMAT!r})", path)
    missing = [k for k in ("pose3d_cam_m", "kp2d_px", "conf") if k not in arrays]
    if missing:
        raise InputError(f"result lacks {missing}", path)
    size = meta.get("image_size")
    T = arrays["pose3d_cam_m"].shape[0]
    optional = {k: np.asarray(arrays[k], np.float32 if k in PER_FRAME_OPTIONAL else np.float64)
                for k in OPTIONAL if k in arrays}
    return Pose3DResult(
        np.asarray(arrays["pose3d_cam_m"], np.float32), np.asarray(arrays["kp2d_px"], np.float32),
        np.asarray(arrays["conf"], np.float32), np.asarray(arrays.get("interpolated", np.zeros(T, bool)), bool),
        float(meta["fps"]), str(meta.get("source", "")), str(meta.get("checkpoint_id", "")),
        tuple(int(v) for v in size) if size is not None else None, **optional,
    )


def _read_csv(path: Path) -> tuple[dict, dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    meta = {}
    while lines and lines[0].startswith("#"):
        key, _, value = lines.pop(0)[1:].strip().partition("=")
        meta[key] = value
    meta["fps"] = float(meta["fps"])
    if "image_size" in meta:
        meta["image_size"] = [int(v) for v in meta["image_size"].split(",")]
    rows = list(csv.reader(lines))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64).reshape(-1, len(rows[0]))
    J = H36M17.num_joints
    base = 3 + 6 * J
    tail = header[base:]
    per_frame = [k for k in PER_FRAME_OPTIONAL if _CSV_EXTRA_COLUMNS[k][0] in tail]
    if len(header) < base or tail != [c for k in per_frame for c in _CSV_EXTRA_COLUMNS[k]]:
        raise ValueError(f"expected {base} columns (plus optional {_CSV_EXTRA_COLUMNS}), got header {header[:3]}... "
                         f"of {len(header)}")
    T = body.shape[0]
    kc = body[:, 3 + 3 * J:base].reshape(T, J, 3)
    arrays = {"interpolated": body[:, 2] > 0, "pose3d_cam_m": body[:, 3:3 + 3 * J].reshape(T, J, 3),
              "kp2d_px": kc[..., :2], "conf": kc[..., 2]}
    col = base
    for k in per_frame:
        n = len(_CSV_EXTRA_COLUMNS[k])
        arrays[k] = body[:, col:col + n] if k == "root_cam_m" else body[:, col]
        col += n
    if "camera_K" in meta:
        arrays["camera_K"] = np.array([float(v) for v in meta.pop("camera_K").split(",")]).reshape(3, 3)
    if "camera_dist" in meta:
        arrays["camera_dist"] = np.array([float(v) for v in meta.pop("camera_dist").split(",")])
    return meta, arrays


def read_trc_pose3d(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """A TRC written by :func:`write_result`: camera-frame 3D ``(T, 17, 3)`` float64 (root-relative, or placed in
    the scene when the result had ``root_cam_m``) and fps."""
    trc = read_trc(path)
    if tuple(trc.marker_names) != tuple(H36M17.joints):
        raise InputError(f"TRC markers {trc.marker_names} are not lift3d's {H36M17.joints}", path)
    return trc.positions_m @ CAM_TO_TRC, trc.fps  # CAM_TO_TRC is its own inverse
