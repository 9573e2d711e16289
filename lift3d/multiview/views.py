"""Synchronised 2D views of one person: loading, checking, and pairing them with a calibration.

A :class:`MultiView2D` holds ``V`` views of the same ``T`` frames on the lifting skeleton (H36M-17):
``kp2d_px (V, T, 17, 2)`` and ``conf (V, T, 17)`` (0 = missing). Views come from ``lift3d track`` files,
OpenPose JSON folders, COCO JSON, npz (anything :func:`lift3d.io.kp2d.read_keypoints` reads), or a sequence of
the multi-view mocap dataset. Views that do not share a frame count and frame rate are refused: lift3d does
not guess a synchronisation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lift3d.errors import InputError
from lift3d.geometry import CameraSet
from lift3d.io.kp2d import Keypoints2D, MultiViewShape, read_keypoints

log = logging.getLogger(__name__)


@dataclass
class MultiView2D(MultiViewShape):
    """``V`` synchronised views of one person.

    Attributes:
        kp2d_px: ``(V, T, 17, 2)`` float64 pixels (distorted, as detected); 0 where ``conf`` is 0.
        conf: ``(V, T, 17)`` float64 in [0, 1].
        fps: frames per second (all views).
        names: ``V`` view names (file stems, or the dataset's camera names).
        image_size: ``(V, 2)`` (width, height) px, or ``None`` when some view does not record it.
        sources: ``V`` paths the views came from.
    """

    kp2d_px: np.ndarray
    conf: np.ndarray
    fps: float
    names: tuple[str, ...]
    image_size: np.ndarray | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.kp2d_px = np.asarray(self.kp2d_px, dtype=np.float64)
        self.conf = np.asarray(self.conf, dtype=np.float64)
        if self.kp2d_px.ndim != 4 or self.kp2d_px.shape[-2:] != (17, 2):
            raise InputError(f"multi-view 2D must be (V, T, 17, 2), got {self.kp2d_px.shape}")
        V, T = self.kp2d_px.shape[:2]
        if self.conf.shape != (V, T, 17):
            raise InputError(f"multi-view confidences must be ({V}, {T}, 17), got {self.conf.shape}")
        if V < 2:
            raise InputError(f"need at least 2 views, got {V}")
        if T == 0:
            raise InputError("the views have no frames")
        if len(self.names) != V:
            raise InputError(f"{V} views but {len(self.names)} names")
        if self.image_size is not None:
            self.image_size = np.asarray(self.image_size, dtype=np.float64).reshape(V, 2)


def from_keypoints(views: list[Keypoints2D], names: list[str] | None = None) -> MultiView2D:
    """Stack single-view sequences (any skeleton) into a :class:`MultiView2D`, checking they are synchronised."""
    if len(views) < 2:
        raise InputError(f"need at least 2 views, got {len(views)}")
    ref = views[0]
    for v in views[1:]:
        if v.num_frames != ref.num_frames:
            raise InputError(f"views of different lengths: {ref.num_frames} frames in {ref.source} but "
                             f"{v.num_frames} in {v.source}; trim them to the same synchronised frames", v.source)
        if abs(v.fps - ref.fps) > 1e-3 * ref.fps:
            raise InputError(f"views at different frame rates: {ref.fps:g} fps in {ref.source} but {v.fps:g} in "
                             f"{v.source}; resample them to one rate first", v.source)
    h36m = [v.to_h36m() for v in views]
    sizes = None
    if all(v.image_size is not None for v in views):
        sizes = np.asarray([v.image_size for v in views], dtype=np.float64)
    names = names or [view_name(v.source) for v in views]
    if len(set(names)) != len(names):
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    return MultiView2D(
        kp2d_px=np.stack([v.kp2d_px for v in h36m]), conf=np.stack([v.conf for v in h36m]), fps=ref.fps,
        names=tuple(names), image_size=sizes, sources=tuple(v.source for v in views),
    )


def view_name(source: str) -> str:
    """A view's name from its path: the stem without a ``_json`` or ``_2d`` suffix (``cam01_json`` -> ``cam01``)."""
    stem = Path(source).name
    stem = stem.split(".")[0] if "." in stem else stem
    return re.sub(r"[_-](json|2d|kp2d|pose2d)$", "", stem, flags=re.IGNORECASE) or stem


def load_views(paths: list[Path], *, fps: float | None = None, skeleton: str | None = None,
               person: str | int = "largest") -> MultiView2D:
    """Read one 2D sequence per path (see :func:`lift3d.io.kp2d.read_keypoints`) and stack them."""
    if len(paths) < 2:
        raise InputError(f"need at least 2 views (one per camera), got {len(paths)}")
    return from_keypoints([read_keypoints(p, fps=fps, skeleton=skeleton, person=person) for p in paths])


def match_cameras(views: MultiView2D, cameras: CameraSet, where: str | Path | None = None) -> CameraSet:
    """The cameras of ``views``, in view order.

    Views are paired with cameras by name when each view name, ignoring case and separators, equals or
    contains exactly one camera name or is contained in it (view ``cam01`` with camera ``cam_01`` or
    ``int_cam01_img``, never ``cam010``); otherwise by order, which needs as many cameras as views. Image sizes are compared where both are known.
    """
    V = views.num_views
    order = _by_name(views.names, cameras.names)
    if order is None:
        if cameras.num_views != V:
            raise InputError(f"the calibration has {cameras.num_views} cameras {list(cameras.names)} but there are "
                             f"{V} views {list(views.names)}, and their names do not pair them up", where)
        order = list(range(V))
        log.info("pairing views with cameras by order: %s", list(zip(views.names, cameras.names)))
    cams = cameras.subset(order)
    if views.image_size is not None:
        cam_size = cams.image_size.detach().cpu().numpy()
        for v in range(V):
            if not np.allclose(cam_size[v], views.image_size[v], rtol=0.02):
                raise InputError(f"view {views.names[v]} is {views.image_size[v].astype(int).tolist()} px but its "
                                 f"camera {cams.names[v]} is {cam_size[v].astype(int).tolist()} px", where)
    return cams


def _by_name(view_names: tuple[str, ...], cam_names: tuple[str, ...]) -> list[int] | None:
    order = []
    for vn in map(_canonical, view_names):
        cns = [_canonical(c) for c in cam_names]
        hits = [i for i, cn in enumerate(cns) if cn == vn]
        if not hits:
            hits = [i for i, cn in enumerate(cns) if _token_in(cn, vn) or _token_in(vn, cn)]
        if len(hits) != 1:
            return None
        order.append(hits[0])
    return order if len(set(order)) == len(order) else None


def _canonical(name: str) -> str:
    """Lower case without separators: ``cam_01``, ``Cam-01`` and ``cam01`` are one name."""
    return re.sub(r"[\s_\-.]", "", name.lower())


def _token_in(part: str, whole: str) -> bool:
    """``part`` occurs in ``whole`` not glued to further digits (``cam1`` is not in ``cam10``)."""
    return re.search(rf"(?<![0-9]){re.escape(part)}(?![0-9])", whole) is not None


def from_mocap_sequence(seq) -> tuple[MultiView2D, CameraSet]:
    """A sequence of the multi-view mocap dataset (:class:`lift3d.data.mocap_h5.MultiViewSequence`) as views
    plus its cameras. Reads only the detector-like 2D, never the ground truth."""
    c = seq.cameras
    names = tuple(f"view{v}" for v in range(seq.num_views))
    views = MultiView2D(kp2d_px=seq.kp2d_px, conf=seq.conf, fps=seq.fps, names=names, image_size=c["image_size"],
                        sources=tuple(f"{seq.name}/view{v}" for v in range(seq.num_views)))
    cams = CameraSet.from_numpy(K=c["K"], R=c["R"], t=c["t"], dist=c["dist"], image_size=c["image_size"], names=names)
    return views, cams
