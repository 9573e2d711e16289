"""Motion-capture clips as lift3d uses them: lifting-skeleton joints in metres, in a Z-up world."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClipInfo:
    """One mocap file of ``shared/data`` and where it belongs.

    Attributes:
        path: the file (for ASF/AMC, the ``.amc``; its ``.asf`` is found beside it).
        dataset: ``cmu_mocap``, ``accad_mocap``, ``cmu_salsa_daz`` or ``ui_prmd_vicon``.
        subject: dataset-qualified subject id, e.g. ``cmu:01``, ``accad:Male2``, ``ui_prmd:s09``.
        action: short action label (CMU description, ACCAD action, UI-PRMD movement).
        split: ``train``, ``val`` or ``test`` (see ``shared/data/README.md``).
        proportions_valid: False where the skeleton's bone lengths are not the person's (Daz figure,
            ACCAD Female1): fine for motion, not for bone-length priors or bone-length metrics.
    """

    path: Path
    dataset: str
    subject: str
    action: str
    split: str
    proportions_valid: bool = True

    @property
    def name(self) -> str:
        """A unique, path-safe sequence name, e.g. ``cmu_mocap/bvh_mb/01_01`` (all file suffixes dropped)."""
        return f"{self.dataset}/{self.path.parent.name}/{self.path.name.split('.')[0]}"


@dataclass(frozen=True)
class MocapClip:
    """Lifting-skeleton (H36M-17) joint positions of one take.

    Attributes:
        info: where the take comes from.
        fps: frame rate of ``pose3d_world_m`` (after any resampling).
        pose3d_world_m: ``(T, 17, 3)`` float64, metres, Z-up world (x, y horizontal, z up), joint order of
            :data:`lift3d.skeletons.H36M17`.
    """

    info: ClipInfo
    fps: float
    pose3d_world_m: np.ndarray

    def __post_init__(self) -> None:
        p = self.pose3d_world_m
        assert p.ndim == 3 and p.shape[1:] == (17, 3), p.shape
        assert np.isfinite(p).all()
