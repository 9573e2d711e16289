"""``lift3d pseudo-label`` as a library: views (and optionally a calibration) in, a label file out."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lift3d.data.mocap_h5 import FORMAT as MOCAP_FORMAT
from lift3d.data.mocap_h5 import read_multiview_h5
from lift3d.errors import InputError
from lift3d.geometry import CameraSet
from lift3d.multiview.labels import LabelConfig, Labels, triangulate_views
from lift3d.multiview.labels_h5 import LabelledSequence, write_labels
from lift3d.multiview.selfcal import label_uncalibrated
from lift3d.multiview.views import MultiView2D, from_mocap_sequence, load_views, match_cameras

log = logging.getLogger(__name__)

MIN_LABELLED = 0.2  # below this fraction of the joint-frames seen in 2+ views, the calibration is taken as wrong


def make_labels(views: MultiView2D, cfg: LabelConfig, cameras: CameraSet | None = None, *,
                calibrated: bool = True, K: np.ndarray | None = None, where=None) -> Labels:
    """Labels of one sequence: triangulated with ``cameras`` when ``calibrated``, else self-calibrated (with
    ``K``, the cameras' intrinsics, or intrinsics guessed from the image size)."""
    if calibrated:
        if cameras is None:
            raise InputError("calibrated labels need a calibration (--calib), or ask for --uncalibrated")
        labels = triangulate_views(views, cameras, cfg)
        if _labelled_fraction(views, labels, cfg) < MIN_LABELLED:
            # Few labels: either the cameras see the joints along nearly parallel rays (reported below as
            # degenerate geometry) or the calibration is not these views'. Without the ray-angle rule only the
            # second stays unlabelled.
            loose = triangulate_views(views, cameras, replace(cfg, min_ray_angle_deg=0.0))
            frac = _labelled_fraction(views, loose, cfg)
            if frac < MIN_LABELLED:
                raise InputError(f"only {100 * frac:.0f}% of the joints seen in two or more views triangulate "
                                 f"consistently with this calibration: its cameras do not match the views "
                                 f"{list(views.names)} (wrong order, other cameras, or views not synchronised)", where)
    else:
        if K is None and cameras is not None:
            K = cameras.K.detach().cpu().numpy()
        labels = label_uncalibrated(views, cfg, K)
    if not labels.frame_valid.any():
        raise InputError(f"no frame has {cfg.min_joints} or more joints labelled: too few confident joints seen "
                         "from two or more views, or degenerate camera geometry", where)
    return labels


def _labelled_fraction(views: MultiView2D, labels: Labels, cfg: LabelConfig) -> float:
    seen2 = (views.conf > cfg.min_conf).sum(0) >= 2  # (T, J)
    return float((labels.conf > 0)[seen2].mean()) if seen2.any() else 0.0


def is_mocap_file(path: Path) -> bool:
    import h5py

    if not (path.is_file() and path.suffix.lower() in (".h5", ".hdf5")):
        return False
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == MOCAP_FORMAT
    except OSError:
        return False


def pseudo_label(view_paths: list[Path], output: Path, cfg: LabelConfig, *, calib: Path | None = None,
                 uncalibrated: bool = False, image_size: tuple[int, int] | None = None, fps: float | None = None,
                 skeleton: str | None = None, person="largest", name: str = "sequence", limit: int = 0,
                 progress: bool = True) -> list[LabelledSequence]:
    """Label the views (or every sequence of a multi-view mocap file) and write ``output``."""
    from lift3d.io.calibration import read_calibration_qca, read_calibration_toml

    if len(view_paths) == 1 and is_mocap_file(view_paths[0]):
        if calib is not None:
            raise InputError("a multi-view mocap file carries its own cameras; drop --calib", calib)
        seqs = read_multiview_h5(view_paths[0], ground_truth=False)
        seqs = seqs[:limit] if limit else seqs
        out = []
        for seq in tqdm(seqs, desc="labelling", disable=not progress):
            views, cams = from_mocap_sequence(seq)
            labels = make_labels(views, cfg, cams, calibrated=not uncalibrated, where=f"{view_paths[0]}:{seq.name}")
            out.append(LabelledSequence(seq.name, views, labels))
    else:
        views = load_views(view_paths, fps=fps, skeleton=skeleton, person=person)
        if image_size is not None:
            views.image_size = np.tile(np.asarray(image_size, np.float64), (views.num_views, 1))
        cams = None
        if calib is not None:
            cal = read_calibration_qca(calib) if calib.name.endswith(".qca.txt") else read_calibration_toml(calib)
            cams = match_cameras(views, cal, calib)
        labels = make_labels(views, cfg, cams, calibrated=cams is not None and not uncalibrated, where=view_paths[0])
        out = [LabelledSequence(name, views, labels)]
    write_labels(output, out, config={**asdict(cfg), "uncalibrated": uncalibrated})
    return out
