"""Load one mocap take of ``shared/data`` as lifting-skeleton joints in metres, in a Z-up world.

:func:`load_clip` reads a :class:`~lift3d.mocap.clip.ClipInfo`'s file (BVH, or AMC with its ASF beside it),
runs forward kinematics, and then, in this order:

1. converts to metres (:data:`UNIT_M`: CMU ASF units 0.0254/0.45 m, ACCAD and Daz cm, ``cmu_salsa_daz``
   scaled by 1/128 so 1.28 m per unit; ASF files state their own unit) and rotates the Y-up files into a
   Z-up world, ``(x, y, z) -> (x, -z, y)``;
2. sets the true frame rate: CMU captured some subjects at 60 fps although cgspeed wrote 120 into every
   BVH (:data:`CMU_60FPS_SUBJECTS`); applied only where the header says 120;
3. drops a leading reference pose: a T-pose frame shows as a jump between frames 0 and 1 that is large
   against the clip's own motion (it is not all zeros: 01_01's has hip angles of 17 and 5 degrees). The
   cgspeed Daz release also blends from that T-pose into the motion over about 40 ms; those blend frames
   are dropped with it (:func:`leading_reference_frames`);
4. adds the head centre and the virtual nose (:mod:`lift3d.skeletons.mocap_tables` defines them) and maps
   the nodes to H36M-17;
5. resamples to ``fps`` if asked (:func:`resample`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lift3d.errors import InputError
from lift3d.io import asf_amc, bvh
from lift3d.mocap.clip import ClipInfo, MocapClip
from lift3d.skeletons.mocap_tables import CMU_ASF, MocapTable, check_hierarchy, match_bvh_table

log = logging.getLogger(__name__)

#: Metres per CMU ASF length unit (``:units length 0.45``: a unit is 1/0.45 inch).
CMU_UNIT_M = 0.0254 / 0.45

#: Metres per file unit of the BVH skeletons, by (dataset, table name).
UNIT_M: dict[tuple[str, str], float] = {
    ("cmu_mocap", "bvh_mb"): CMU_UNIT_M,
    ("cmu_mocap", "bvh_max"): CMU_UNIT_M,
    ("cmu_mocap", "daz"): 0.01,
    ("cmu_salsa_daz", "daz"): 1.28,  # the uploader divided the Daz centimetres by 128
    ("accad_mocap", "accad22"): 0.01,
}

#: CMU subjects captured at 60 fps (``cmu_mocap/SOURCE.md``, from CMU's own list); cgspeed's BVH say 120.
CMU_60FPS_SUBJECTS = frozenset({33, 34, 42, 60, 61, 62, 74, 75, 77, 79, 80, 87, 88, 89, 136})

#: CMU ASF/AMC files carry no frame rate; the database's rate.
CMU_AMC_FPS = 120.0

# Y-up file world -> Z-up lift3d world: x stays, the file's y (up) becomes z, the file's z becomes -y.
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# Nose placement relative to the head centre for a typical head (see mocap_tables).
_NOSE_FORWARD_M = 0.10
_NOSE_DOWN_M = 0.03
_EAR_BELOW_EYE_M = 0.015


@dataclass(frozen=True, eq=False)
class MocapNodes:
    """Forward-kinematics result of one take, before mapping to H36M-17.

    Attributes:
        table: the file skeleton.
        pos_m: ``(T, J, 3)`` node positions, metres, Z-up world, table node order.
        rot: ``(T, J, 3, 3)`` node rotations (local frame -> Z-up world).
        fps: true frame rate.
        head_local_m: ``c_local`` of the head centre in the head frame, metres.
        num_dropped: leading frames dropped as reference pose / blend.
    """

    table: MocapTable
    pos_m: np.ndarray
    rot: np.ndarray
    fps: float
    head_local_m: np.ndarray
    num_dropped: int


class _FileNodes(NamedTuple):
    """What a format reader hands to :func:`load_nodes`: FK in the file's own units and Y-up world."""

    table: MocapTable
    pos: np.ndarray  # (T, J, 3) file units
    rot: np.ndarray  # (T, J, 3, 3)
    unit_m: float  # metres per file unit
    fps: float  # as the file (or the format) states it
    head_local_m: np.ndarray  # (3,) c_local of the head centre, metres


def _bvh_nodes(info: ClipInfo) -> _FileNodes:
    motion = bvh.read_bvh(info.path)
    table = match_bvh_table(motion.names, motion.parents, info.path)
    key = (info.dataset, table.name)
    if key not in UNIT_M:
        raise InputError(f"no length unit known for skeleton {table.name} in dataset {info.dataset}; "
                         f"known: {sorted(UNIT_M)}", info.path)
    unit = UNIT_M[key]
    pos, rot = bvh.forward_kinematics(motion)
    return _FileNodes(table, pos, rot, unit, nominal_fps(motion.fps), _bvh_head_local(motion, table, unit) * unit)


def nominal_fps(fps: float) -> float:
    """Snap a rate read from a rounded frame time (``.0083333`` -> 120.0005) to the whole number it stands for.

    Rates within 0.01 % of an integer become that integer, so that 120 -> 30 resampling picks frames exactly;
    others (33.33 fps from 0.03 s) are kept.
    """
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) < 1e-4 * fps else fps


def _bvh_head_local(motion: bvh.BvhMotion, table: MocapTable, unit_m: float) -> np.ndarray:
    """``c_local`` in file units (see :mod:`lift3d.skeletons.mocap_tables`)."""
    names = [table.canonical(n) for n in motion.names]
    if table.head_rule == "end_site":
        end = motion.offsets[names.index(table.head_frame + "_end")]
        if np.linalg.norm(end) < 1e-9:
            # Some re-saved cgspeed files zero every End Site; the upper-neck OFFSET is about as long as
            # the head bone and, in the cgspeed rest pose (all frames world-aligned), points the same way.
            log.debug("%s: zero head End Site; using the %s OFFSET instead", motion.path, table.head_frame)
            end = motion.offsets[names.index(table.head_frame)]
        return end * table.head_end_fraction
    if table.head_rule == "eyes":
        mid_eye = np.mean([motion.offsets[names.index(e)] for e in table.eyes], axis=0)
        up = motion.offsets[names.index(table.head_frame)]
        up = up / np.linalg.norm(up)
        return (mid_eye @ up - _EAR_BELOW_EYE_M / unit_m) * up
    raise InputError(f"head rule {table.head_rule!r} does not apply to BVH", motion.path)


def _amc_nodes(info: ClipInfo) -> _FileNodes:
    asf_path = info.path.with_name(info.path.stem.split("_")[0] + ".asf")
    if not asf_path.is_file():
        raise InputError(f"no ASF skeleton {asf_path.name} beside the AMC file", info.path)
    asf = asf_amc.read_asf(asf_path)
    check_hierarchy(CMU_ASF, asf.names, asf.parents, asf_path)
    motion = asf_amc.read_amc(info.path, asf)
    pos, rot = asf_amc.forward_kinematics(motion)
    h = asf.index(CMU_ASF.head_frame)
    head_local = asf.lengths[h] * asf.directions[h] / 2
    return _FileNodes(CMU_ASF, pos, rot, asf.unit_m, CMU_AMC_FPS, head_local * asf.unit_m)


# Readers by file suffix. A new dataset with another format adds its reader here.
_READERS = {".bvh": _bvh_nodes, ".amc": _amc_nodes}


def _cmu_subjects(subject: str) -> list[int]:
    """``cmu:60/61`` -> ``[60, 61]``."""
    return [int(s) for s in re.findall(r"\d+", subject.partition(":")[2])]


def true_fps(info: ClipInfo, header_fps: float) -> float:
    """The capture rate of a take: 60 for CMU 60-fps subjects whose file says 120, else the header's."""
    if info.dataset in ("cmu_mocap", "cmu_salsa_daz") and abs(header_fps - 120.0) < 0.5:
        subjects = _cmu_subjects(info.subject)
        if subjects and all(s in CMU_60FPS_SUBJECTS for s in subjects):
            return 60.0
    return header_fps


def leading_reference_frames(pos_m: np.ndarray, fps: float) -> int:
    """How many leading frames are a reference pose (and blend into the motion), from the jump at frame 0.

    The largest root-relative joint displacement per frame, ``jump[t]``, is compared with the 99th
    percentile of the clip's own jumps away from the start. On the staged data frame 0 of a T-pose take
    jumps at least 2.5x that percentile and motion frames at most 1.3x; 2x is the threshold. Frames after
    the T-pose keep being dropped while their jump stays above it, for at most 0.1 s (the cgspeed Daz
    blend).
    """
    T = pos_m.shape[0]
    if T < 3:
        return 0
    rel = pos_m - pos_m[:, :1]  # (T, J, 3) root-relative
    jump = np.linalg.norm(np.diff(rel, axis=0), axis=-1).max(axis=-1)  # (T-1,)
    start = 10 if T > 40 else 1
    threshold = 2.0 * max(np.percentile(jump[start:], 99), 1e-6)
    if jump[0] <= threshold:
        return 0
    n = 1
    while n < min(T - 1, int(round(0.1 * fps)) + 1) and jump[n] > threshold:
        n += 1
    return n


def _head_points(nodes: MocapNodes) -> tuple[np.ndarray, np.ndarray]:
    """Head centre and virtual nose ``(T, 3)`` each (definitions in :mod:`lift3d.skeletons.mocap_tables`)."""
    table, pos, rot = nodes.table, nodes.pos_m, nodes.rot
    idx = table.skeleton.index
    r_head = rot[:, idx(table.head_frame)]  # (T, 3, 3)
    c_local = nodes.head_local_m
    centre = pos[:, idx(table.head_base)] + r_head @ c_local

    roles = table.roles
    l_hip, r_hip = pos[:, idx(roles["l_hip"])], pos[:, idx(roles["r_hip"])]
    l_sh, r_sh = pos[:, idx(roles["l_shoulder"])], pos[:, idx(roles["r_shoulder"])]
    trunk_up = (l_sh + r_sh - l_hip - r_hip) / 2
    right = (r_hip - l_hip) + (r_sh - l_sh)
    forward = np.cross(trunk_up, right)  # (T, 3): up x right = forward in a right-handed world
    forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)

    up_local = c_local / np.linalg.norm(c_local)
    f_local = np.einsum("tba,tb->a", r_head, forward) / len(forward)  # mean of R^T @ forward
    f_local -= (f_local @ up_local) * up_local
    norm = np.linalg.norm(f_local)
    if norm < 0.1:
        raise InputError(f"cannot tell where the head faces (mean head-local forward has norm {norm:.3f})")
    f_local /= norm
    scale = np.clip(np.linalg.norm(c_local) / table.typical_head_centre_m, 0.75, 1.33)
    o_local = scale * (_NOSE_FORWARD_M * f_local - _NOSE_DOWN_M * up_local)
    return centre, centre + r_head @ o_local


def load_nodes(info: ClipInfo) -> MocapNodes:
    """Steps 1-3 of :func:`load_clip`: the file's own nodes in metres, Z-up, true fps, reference pose dropped."""
    if not info.path.is_file():
        raise InputError("mocap file not found", info.path)
    reader = _READERS.get(info.path.suffix.lower())
    if reader is None:
        raise InputError(f"no mocap reader for {info.path.suffix!r} files; known: {sorted(_READERS)}", info.path)
    raw = reader(info)
    pos = (raw.pos * raw.unit_m) @ _Y_UP_TO_Z_UP.T  # (T, J, 3) metres, Z-up
    rot = _Y_UP_TO_Z_UP @ raw.rot  # (T, J, 3, 3)
    fps = true_fps(info, raw.fps)
    if fps != raw.fps:
        log.info("%s: header says %.0f fps; CMU captured subject %s at %.0f fps", info.path, raw.fps,
                 info.subject, fps)
    drop = leading_reference_frames(pos, fps)
    if drop:
        log.debug("%s: dropping %d leading reference-pose frame(s)", info.path, drop)
    return MocapNodes(raw.table, pos[drop:], rot[drop:], fps, raw.head_local_m, drop)


def load_clip(info: ClipInfo, fps: float | None = None) -> MocapClip:
    """Load a take as H36M-17 joints ``(T, 17, 3)``, metres, Z-up, at its true rate or resampled to ``fps``."""
    _check_fps(fps, info)
    return nodes_to_clip(info, load_nodes(info), fps)


def _check_fps(fps: float | None, info: ClipInfo) -> None:
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps!r}", info.path)


def nodes_to_clip(info: ClipInfo, nodes: MocapNodes, fps: float | None = None) -> MocapClip:
    """Steps 4-5 of :func:`load_clip` on the result of :func:`load_nodes`."""
    _check_fps(fps, info)
    if nodes.pos_m.shape[0] == 0:
        raise InputError("no motion frames left after dropping the reference pose", info.path)
    try:
        centre, nose = _head_points(nodes)
    except InputError as e:
        raise InputError(e.problem, info.path) from None
    points = np.concatenate([nodes.pos_m, centre[:, None], nose[:, None]], axis=1)  # (T, J+2, 3)
    pose, _ = nodes.table.to_h36m.apply(points)  # (T, 17, 3)
    if not np.isfinite(pose).all():
        raise InputError("non-finite joint positions after forward kinematics", info.path)
    out_fps = nodes.fps
    if fps is not None:
        pose = resample(pose, nodes.fps, fps)
        out_fps = float(fps)
    return MocapClip(info=info, fps=out_fps, pose3d_world_m=pose)


def resample(x: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly interpolate ``x (T, ...)`` sampled at ``fps_in`` at the times ``k / fps_out`` within the clip.

    Frame ``k`` of the output is at input position ``k * fps_in / fps_out``; positions that are whole
    numbers (all of them for integer ratios such as 120 -> 30) copy input frames exactly. The output has
    ``floor((T - 1) * fps_out / fps_in) + 1`` frames.
    """
    T = x.shape[0]
    if T == 0:
        raise InputError("cannot resample an empty clip")
    step = fps_in / fps_out
    n = int(np.floor((T - 1) / step + 1e-9)) + 1
    t = np.arange(n) * step
    t = np.where(np.abs(t - np.rint(t)) < 1e-9, np.rint(t), t)
    i0 = np.minimum(np.floor(t).astype(int), T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return x[i0] * (1 - w) + x[i1] * w
