"""Build the multi-view mocap dataset: mocap takes seen by virtual synchronized cameras.

For every selected take: load the lifting-skeleton joints (metres, Z-up), resample to ``fps``, place a rig of
virtual cameras around the subject (:mod:`lift3d.data.virtual_cameras`), project, corrupt the 2D like a
detector would (:mod:`lift3d.data.noise_2d`) and write everything to one HDF5 file
(:mod:`lift3d.data.mocap_h5`). Each take's random draws depend only on ``(seed, take name)``, so building a
subset reproduces exactly the same cameras and noise as the full build.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from lift3d.config import to_dict
from lift3d.data.mocap_h5 import MultiViewWriter
from lift3d.data.noise_2d import NoiseConfig, corrupt_2d
from lift3d.data.virtual_cameras import VirtualCameraConfig, in_frame, project, sample_rig
from lift3d.errors import InputError
from lift3d.mocap.clip import ClipInfo, MocapClip
from lift3d.paths import shared_data_dir

log = logging.getLogger(__name__)

DATASETS = ("cmu_mocap", "accad_mocap", "cmu_salsa_daz", "ui_prmd_vicon")


@dataclass
class BuildMocapConfig:
    """What ``lift3d data build-mocap`` builds (defaults in ``configs/data/mocap.yaml``).

    Attributes:
        views: cameras per take.
        fps: frame rate of the output (takes are resampled).
        seed: base seed; each take's draws use ``(seed, crc32(take name))``.
        split: which split to build (``all`` for every split); ignored when ``subjects`` is set.
        subjects: explicit subject ids (``cmu:11``, ``accad:Male2``, ``ui_prmd:s09``, or a bare CMU number).
        datasets: which datasets of ``shared/data`` to draw takes from.
        min_frames: takes shorter than this after resampling are skipped.
        cameras, noise: see :class:`VirtualCameraConfig` and :class:`NoiseConfig`.
    """

    views: int = 4
    fps: float = 30.0
    seed: int = 0
    split: Literal["train", "val", "test", "all"] = "all"
    subjects: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    min_frames: int = 30
    cameras: VirtualCameraConfig = field(default_factory=VirtualCameraConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)


def list_takes(datasets: list[str] | tuple[str, ...], data_dir: Path | None = None) -> list[ClipInfo]:
    """Every mocap take of the given datasets, with subject, action and split."""
    from lift3d.mocap.catalog import catalog
    from lift3d.mocap.ui_prmd import ui_prmd_catalog

    data_dir = Path(data_dir) if data_dir is not None else shared_data_dir()
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise InputError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    for d in datasets:
        if not (data_dir / d).is_dir():
            raise InputError(f"dataset folder {d} not found in {data_dir}")
    infos = list(catalog(data_dir, datasets=tuple(d for d in datasets if d != "ui_prmd_vicon")))
    if "ui_prmd_vicon" in datasets:
        infos += ui_prmd_catalog(data_dir)
    return infos


def load_take(info: ClipInfo, fps: float) -> MocapClip:
    """Load one take at ``fps``, whatever its dataset."""
    if info.dataset == "ui_prmd_vicon":
        from lift3d.mocap.ui_prmd import load_ui_prmd_clip

        return load_ui_prmd_clip(info, fps=fps)
    from lift3d.mocap.loader import load_clip

    return load_clip(info, fps=fps)


def subject_matches(subject: str, wanted: str) -> bool:
    """``cmu:011`` matches ``cmu:11``, ``11`` (a bare CMU number) and itself."""
    if ":" in wanted:
        ds, sid = wanted.split(":", 1)
        s_ds, s_id = subject.split(":", 1)
        return ds == s_ds and (sid == s_id or (sid.isdigit() and s_id.isdigit() and int(sid) == int(s_id)))
    s_ds, s_id = subject.split(":", 1)
    return s_ds == "cmu" and wanted.isdigit() and s_id.isdigit() and int(wanted) == int(s_id)


def select_takes(infos: list[ClipInfo], cfg: BuildMocapConfig) -> list[ClipInfo]:
    if cfg.subjects:
        chosen = [i for i in infos if any(subject_matches(i.subject, w) for w in cfg.subjects)]
        missing = [w for w in cfg.subjects if not any(subject_matches(i.subject, w) for i in infos)]
        if missing:
            known = sorted({i.subject for i in infos})
            raise InputError(f"no takes for subject(s) {missing}; known subjects: {known}")
        return chosen
    return [i for i in infos if cfg.split == "all" or i.split == cfg.split]


def take_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def render_views(pose3d_world_m: np.ndarray, cfg: BuildMocapConfig, rng: np.random.Generator):
    """Rig, clean and corrupted 2D of one take: ``(rig, kp2d_clean (V,T,J,2), kp2d (V,T,J,2), conf (V,T,J))``."""
    rig = sample_rig(pose3d_world_m, cfg.views, cfg.cameras, rng)
    clean, noisy, confs = [], [], []
    for v in range(rig.num_views):
        px, depth = project(pose3d_world_m, rig.K[v], rig.R[v], rig.t[v])  # (T, J, 2), (T, J)
        kp, conf = corrupt_2d(px, cfg.noise, rng)
        visible = in_frame(px, depth, rig.image_size[v])
        conf = np.where(visible, conf, 0.0).astype(np.float32)
        kp[conf == 0] = 0.0
        clean.append(px.astype(np.float32))
        noisy.append(kp)
        confs.append(conf)
    return rig, np.stack(clean), np.stack(noisy), np.stack(confs)


def build_mocap_dataset(
    cfg: BuildMocapConfig, out_path: str | Path, data_dir: Path | None = None, progress: bool = True
) -> dict:
    """Build the dataset to ``out_path`` (written atomically). Returns a summary (takes, frames, per split)."""
    if cfg.views < 1:
        raise InputError(f"views must be >= 1, got {cfg.views}")
    if cfg.fps <= 0:
        raise InputError(f"fps must be > 0, got {cfg.fps}")
    data_dir = Path(data_dir) if data_dir is not None else shared_data_dir()
    takes = select_takes(list_takes(cfg.datasets, data_dir), cfg)
    if not takes:
        raise InputError(f"no takes selected (split={cfg.split}, subjects={cfg.subjects}, datasets={cfg.datasets})")
    summary = {"takes": 0, "frames": 0, "skipped": [], "per_split": {}}
    with MultiViewWriter(Path(out_path), config=to_dict(cfg)) as writer:
        for info in tqdm(takes, desc="build-mocap", unit="take", disable=not progress):
            clip = load_take(info, cfg.fps)
            T = clip.pose3d_world_m.shape[0]
            if T < cfg.min_frames:
                summary["skipped"].append(f"{info.name}: {T} frames < min_frames {cfg.min_frames}")
                continue
            rig, clean, noisy, conf = render_views(clip.pose3d_world_m, cfg, take_rng(cfg.seed, info.name))
            attrs = dict(
                subject=info.subject, action=info.action, fps=float(clip.fps), split=info.split,
                dataset=info.dataset, source=str(info.path.relative_to(data_dir)) if info.path.is_relative_to(data_dir) else str(info.path),
                proportions_valid=bool(info.proportions_valid),
            )
            cameras = dict(K=rig.K, R=rig.R, t=rig.t, dist=np.zeros((rig.num_views, 5)), image_size=rig.image_size)
            writer.write(info.name.replace("/", "__"), attrs, clip.pose3d_world_m, noisy, conf, clean, cameras)
            summary["takes"] += 1
            summary["frames"] += T
            s = summary["per_split"].setdefault(info.split, {"takes": 0, "frames": 0})
            s["takes"] += 1
            s["frames"] += T
    for line in summary["skipped"]:
        log.info("skipped %s", line)
    return summary
