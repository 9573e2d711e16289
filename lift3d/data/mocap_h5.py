"""The multi-view mocap HDF5 format written by ``lift3d data build-mocap`` (schema ``lift3d.mocap-multiview``).

File attributes: ``format`` = ``lift3d.mocap-multiview``, ``format_version`` = 1, ``skeleton`` = ``h36m17``,
``joint_names``, ``parents``, ``lift3d_version``, ``config`` (the builder's resolved config as JSON).

One group per sequence (name: ``<dataset>__<folder>__<file stem>``), with attributes ``subject``, ``action``,
``fps``, ``split``, ``dataset``, ``source`` (path relative to the data folder), ``proportions_valid``, and:

| dataset | shape | dtype | meaning |
|---|---|---|---|
| ``pose3d_world_m`` | (T, 17, 3) | float32 | joints, metres, Z-up world, H36M-17 order |
| ``kp2d_px`` | (V, T, 17, 2) | float32 | 2D as a detector would give it (noise and dropouts per the config), px |
| ``conf`` | (V, T, 17) | float32 | confidence of ``kp2d_px``; 0 = missing (coordinates then 0) |
| ``kp2d_clean_px`` | (V, T, 17, 2) | float32 | exact projections of ``pose3d_world_m`` |
| ``cameras/K`` | (V, 3, 3) | float64 | intrinsics, px |
| ``cameras/R``, ``cameras/t`` | (V, 3, 3), (V, 3) | float64 | world-to-camera: ``X_cam = R X_world + t``, metres |
| ``cameras/dist`` | (V, 5) | float64 | OpenCV distortion (k1, k2, p1, p2, k3); zeros for virtual cameras |
| ``cameras/image_size`` | (V, 2) | int32 | width, height, px |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from lift3d.errors import InputError
from lift3d.io.atomic import atomic_output
from lift3d.io.hdf5 import open_format, write_header
from lift3d.io.kp2d import MultiViewShape
from lift3d.skeletons import H36M17

FORMAT = "lift3d.mocap-multiview"
FORMAT_VERSION = 1
GROUND_TRUTH_FIELDS = ("pose3d_world_m", "kp2d_clean_px")
CAMERA_FIELDS = ("K", "R", "t", "dist", "image_size")


@dataclass
class MultiViewSequence(MultiViewShape):
    """One sequence of the file. Fields not read (see :func:`read_multiview_h5`) are ``None``."""

    name: str
    attrs: dict
    kp2d_px: np.ndarray  # (V, T, 17, 2)
    conf: np.ndarray  # (V, T, 17)
    cameras: dict[str, np.ndarray]
    pose3d_world_m: np.ndarray | None = None  # (T, 17, 3)
    kp2d_clean_px: np.ndarray | None = None  # (V, T, 17, 2)

    @property
    def fps(self) -> float:
        return float(self.attrs["fps"])


@dataclass
class MultiViewWriter:
    """Write sequences to ``path`` through a temporary file that is renamed into place on :meth:`close`.

    Use as a context manager; if the block raises, the temporary file is removed and ``path`` is untouched.
    """

    path: Path
    config: dict = field(default_factory=dict)

    def __enter__(self) -> "MultiViewWriter":
        self._atomic = atomic_output(self.path)
        self._file = h5py.File(self._atomic.__enter__(), "w")
        write_header(self._file, FORMAT, FORMAT_VERSION, self.config)
        return self

    def write(self, name: str, attrs: dict, pose3d_world_m, kp2d_px, conf, kp2d_clean_px, cameras: dict) -> None:
        V, T, J, _ = kp2d_px.shape
        assert pose3d_world_m.shape == (T, J, 3) and conf.shape == (V, T, J) and kp2d_clean_px.shape == kp2d_px.shape
        g = self._file.create_group(name)
        for k, v in attrs.items():
            g.attrs[k] = v
        opts = dict(compression="gzip", compression_opts=4, shuffle=True)
        g.create_dataset("pose3d_world_m", data=np.asarray(pose3d_world_m, np.float32), **opts)
        g.create_dataset("kp2d_px", data=np.asarray(kp2d_px, np.float32), **opts)
        g.create_dataset("conf", data=np.asarray(conf, np.float32), **opts)
        g.create_dataset("kp2d_clean_px", data=np.asarray(kp2d_clean_px, np.float32), **opts)
        c = g.create_group("cameras")
        for k in CAMERA_FIELDS:
            dtype = np.int32 if k == "image_size" else np.float64
            c.create_dataset(k, data=np.asarray(cameras[k], dtype))

    def __exit__(self, exc_type, exc, tb) -> None:
        self._file.close()
        self._atomic.__exit__(exc_type, exc, tb)


def read_multiview_h5(
    path: str | Path, *, ground_truth: bool = True, names: list[str] | None = None
) -> list[MultiViewSequence]:
    """Read sequences of a ``lift3d.mocap-multiview`` file, validating its layout.

    Args:
        ground_truth: if False, ``pose3d_world_m`` and ``kp2d_clean_px`` are never read (self-supervised
            training must not see 3D ground truth).
        names: only these sequences (default all).
    """
    path = Path(path)
    with open_format(path, FORMAT, FORMAT_VERSION) as f:
        out = []
        for name in names if names is not None else list(f.keys()):
            if name not in f:
                raise InputError(f"no sequence {name!r}", path)
            out.append(_read_group(f[name], name, path, ground_truth))
    return out


def _read_group(g: h5py.Group, name: str, path: Path, ground_truth: bool) -> MultiViewSequence:
    for key in ("kp2d_px", "conf", "cameras", *(GROUND_TRUTH_FIELDS if ground_truth else ())):
        if key not in g:
            raise InputError(f"sequence {name!r} lacks {key!r}", path)
    kp = g["kp2d_px"][()]
    conf = g["conf"][()]
    if kp.ndim != 4 or kp.shape[2:] != (H36M17.num_joints, 2) or conf.shape != kp.shape[:3]:
        raise InputError(f"sequence {name!r}: kp2d_px {kp.shape} / conf {conf.shape} do not match (V, T, 17, 2) / (V, T, 17)", path)
    if not (np.isfinite(kp).all() and np.isfinite(conf).all()):
        raise InputError(f"sequence {name!r}: kp2d_px or conf holds NaN/inf", path)
    cams = {}
    for k in CAMERA_FIELDS:
        if k not in g["cameras"]:
            raise InputError(f"sequence {name!r} lacks cameras/{k}", path)
        cams[k] = g["cameras"][k][()]
        if cams[k].shape[0] != kp.shape[0]:
            raise InputError(f"sequence {name!r}: cameras/{k} has {cams[k].shape[0]} views, kp2d_px {kp.shape[0]}", path)
    seq = MultiViewSequence(name=name, attrs=dict(g.attrs), kp2d_px=kp, conf=conf, cameras=cams)
    if ground_truth:
        seq.pose3d_world_m = g["pose3d_world_m"][()]
        seq.kp2d_clean_px = g["kp2d_clean_px"][()]
        if seq.pose3d_world_m.shape != (kp.shape[1], H36M17.num_joints, 3):
            raise InputError(f"sequence {name!r}: pose3d_world_m shape {seq.pose3d_world_m.shape} != (T, 17, 3)", path)
    return seq
