"""The label file written by ``lift3d pseudo-label`` (schema ``lift3d.multiview-labels``, version 1).

It holds everything self-supervised training needs and nothing it must not see: the views' 2D, the epipolar
labels and the cameras. It never holds ground-truth 3D, even when the labels were made from the mocap dataset.

File attributes: ``format``, ``format_version`` = 1, ``skeleton`` = ``h36m17``, ``joint_names``, ``parents``,
``lift3d_version``, ``config`` (the label config as JSON). One group per sequence, with attributes ``fps``,
``calibrated`` (bool), ``scale_m_per_unit`` (1 when calibrated), ``view_names``, ``sources``, and:

| dataset | shape | dtype | meaning |
|---|---|---|---|
| ``pose3d_world_m`` | (T, 17, 3) | float32 | labels, world frame (the calibration's; view 0's camera frame when uncalibrated), metres; 0 where ``conf`` is 0 |
| ``conf`` | (T, 17) | float32 | label confidence in [0, 1]; 0 = no label |
| ``frame_valid`` | (T,) | bool | enough joints labelled |
| ``reproj_px`` | (V, T, 17) | float32 | reprojection error of the label in each view, px; NaN where not labelled |
| ``views_used`` | (V, T, 17) | bool | the views each label joint was triangulated from |
| ``kp2d_px`` | (V, T, 17, 2) | float32 | the views' 2D (H36M-17, as detected, distorted), px |
| ``conf2d`` | (V, T, 17) | float32 | their confidence; 0 = missing |
| ``cameras/K``, ``R``, ``t``, ``dist``, ``image_size`` | (V, 3, 3), (V, 3, 3), (V, 3), (V, 5), (V, 2) | float64 | cameras used or estimated (world to camera, metres) |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from lift3d.errors import InputError
from lift3d.geometry import CameraSet
from lift3d.io.atomic import atomic_output
from lift3d.io.hdf5 import open_format, write_header
from lift3d.multiview.labels import Labels
from lift3d.multiview.views import MultiView2D

FORMAT = "lift3d.multiview-labels"
FORMAT_VERSION = 1
_FIELDS = {  # name: (shape with V, T placeholders, dtype)
    "pose3d_world_m": (("T", 17, 3), np.float32),
    "conf": (("T", 17), np.float32),
    "frame_valid": (("T",), bool),
    "reproj_px": (("V", "T", 17), np.float32),
    "views_used": (("V", "T", 17), bool),
    "kp2d_px": (("V", "T", 17, 2), np.float32),
    "conf2d": (("V", "T", 17), np.float32),
}


@dataclass
class LabelledSequence:
    """One sequence of a label file: its views and its labels."""

    name: str
    views: MultiView2D
    labels: Labels


def write_labels(path: str | Path, sequences: list[LabelledSequence], config: dict | None = None) -> None:
    """Write ``sequences`` to ``path`` atomically (a temporary file renamed into place)."""
    if not sequences:
        raise InputError("no labelled sequences to write", path)
    with atomic_output(Path(path)) as tmp, h5py.File(tmp, "w") as f:
        write_header(f, FORMAT, FORMAT_VERSION, config or {})
        for s in sequences:
            g = f.create_group(s.name)
            lab, v = s.labels, s.views
            g.attrs.update(fps=v.fps, calibrated=lab.calibrated, scale_m_per_unit=lab.scale_m_per_unit,
                           view_names=list(v.names), sources=list(v.sources))
            data = dict(pose3d_world_m=lab.pose3d_world_m, conf=lab.conf, frame_valid=lab.frame_valid,
                        reproj_px=lab.reproj_px, views_used=lab.views_used, kp2d_px=v.kp2d_px, conf2d=v.conf)
            opts = dict(compression="gzip", compression_opts=4, shuffle=True)
            for name, (_, dtype) in _FIELDS.items():
                g.create_dataset(name, data=np.asarray(data[name], dtype=dtype), **opts)
            c = g.create_group("cameras")
            cams = lab.cameras
            for name in ("K", "R", "t", "dist", "image_size"):
                c.create_dataset(name, data=getattr(cams, name).detach().cpu().numpy().astype(np.float64))


def read_labels(path: str | Path, names: list[str] | None = None) -> list[LabelledSequence]:
    """Read (and validate) the sequences of a label file."""
    path = Path(path)
    with open_format(path, FORMAT, FORMAT_VERSION, missing="label file not found",
                     hint="; make one with lift3d pseudo-label") as f:
        out = []
        for name in names if names is not None else list(f.keys()):
            if name not in f:
                raise InputError(f"no sequence {name!r}", path)
            out.append(_read_group(f[name], name, path))
    if not out:
        raise InputError("the label file holds no sequences", path)
    return out


def _read_group(g: h5py.Group, name: str, path: Path) -> LabelledSequence:
    where = f"{path}:{name}"
    missing = [k for k in _FIELDS if k not in g] + [f"cameras/{k}" for k in ("K", "R", "t") if f"cameras/{k}" not in g]
    if missing:
        raise InputError(f"missing datasets {missing}", where)
    V, T = g["kp2d_px"].shape[:2]
    arrays = {}
    for k, (shape, dtype) in _FIELDS.items():
        want = tuple({"V": V, "T": T}.get(d, d) for d in shape)
        a = g[k][()]
        if a.shape != want:
            raise InputError(f"{k} has shape {a.shape}, expected {want}", where)
        arrays[k] = a.astype(dtype)
    c = g["cameras"]
    cams = CameraSet.from_numpy(K=c["K"][()], R=c["R"][()], t=c["t"][()], dist=c["dist"][()] if "dist" in c else None,
                                image_size=c["image_size"][()] if "image_size" in c else None,
                                names=[str(n) for n in g.attrs["view_names"]])
    if cams.num_views != V:
        raise InputError(f"{cams.num_views} cameras for {V} views", where)
    sources = tuple(str(s) for s in g.attrs.get("sources", []))
    views = MultiView2D(kp2d_px=arrays["kp2d_px"], conf=arrays["conf2d"], fps=float(g.attrs["fps"]),
                        names=cams.names, image_size=cams.image_size.numpy(), sources=sources)
    labels = Labels(pose3d_world_m=arrays["pose3d_world_m"].astype(np.float64), conf=arrays["conf"].astype(np.float64),
                    frame_valid=arrays["frame_valid"], reproj_px=arrays["reproj_px"], views_used=arrays["views_used"],
                    cameras=cams, calibrated=bool(g.attrs["calibrated"]),
                    scale_m_per_unit=float(g.attrs.get("scale_m_per_unit", 1.0)))
    if not (np.isfinite(labels.pose3d_world_m).all() and np.isfinite(labels.conf).all()):
        raise InputError("labels contain NaN or inf", where)
    return LabelledSequence(name=name, views=views, labels=labels)
