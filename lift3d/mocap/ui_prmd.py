"""UI-PRMD Vicon marker files: reading, gap filling, and lifting-skeleton joint centres from Plug-in-Gait markers.

UI-PRMD (Vakanski et al., *Data* 2018, 3(1):2) ships 39 Vicon Plug-in-Gait (PiG) marker positions per frame and
no joint centres. This module derives the lifting skeleton (:data:`lift3d.skeletons.H36M17`, joint meanings as in
:mod:`lift3d.skeletons.mapping`) from them with the published models, see :func:`joint_centres`:

- hips: Harrington et al. 2007, *J Biomech* 40:595, from pelvic width and depth (ASIS/PSIS markers);
- knee, ankle: PiG chord function (Davis et al. 1991, *Hum Mov Sci* 10:575; Kadaba et al. 1990,
  *J Orthop Res* 8:383): the epicondyle / malleolus marker moved medially by half the joint width plus the marker
  radius, in the plane of the thigh / tibia wand marker;
- elbow: the epicondyle marker moved medially the same way, along the flexion axis solved from the shoulder
  centre, ELB and the wrist centre (:func:`three_point_axis`);
- shoulder: the acromion marker moved down the PiG thorax axis (the PiG shoulder offset);
- wrist: mid wrist bar; head centre: mean of the 4 head markers; nose: a fixed offset in the head markers' frame.

Coordinates: the files are millimetres in a Z-up lab frame; joints come out in metres, same frame.
Known limits of the data (numbers from ``tools/inspect_ui_prmd.py``): in deep knee flexion (squat, sit to stand)
the knee and pelvis markers slide on the skin, so thigh and shank lengths vary by 1-3 cm (std) within such takes
(under 1 mm in the standing shoulder takes); the forearm comes out 2-4 cm shorter with the elbow bent than
straight, and the upper arm 1-2 cm longer with the arm raised.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from lift3d.errors import InputError
from lift3d.mocap.clip import ClipInfo, MocapClip
from lift3d.skeletons.tables import H36M17

log = logging.getLogger(__name__)

DATASET = "ui_prmd_vicon"
FPS = 100.0 / 3.0  # every 3rd frame of the 100 Hz capture is kept (shared/data/ui_prmd_vicon/SOURCE.md)

# The 39 Vicon Plug-in-Gait full-body markers in file order (SOURCE.md; checked against the geometry in
# tests/mocap/test_ui_prmd.py::test_marker_order_matches_geometry).
MARKERS: tuple[str, ...] = (
    "LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN", "RBAK",
    "LSHO", "LUPA", "LELB", "LFRM", "LWRA", "LWRB", "LFIN",
    "RSHO", "RUPA", "RELB", "RFRM", "RWRA", "RWRB", "RFIN",
    "LASI", "RASI", "LPSI", "RPSI",
    "LTHI", "LKNE", "LTIB", "LANK", "LHEE", "LTOE",
    "RTHI", "RKNE", "RTIB", "RANK", "RHEE", "RTOE",
)
_COLUMNS = 3 * len(MARKERS)

MOVEMENTS: dict[str, str] = {
    "m01": "deep squat",
    "m02": "hurdle step",
    "m03": "inline lunge",
    "m04": "side lunge",
    "m05": "sit to stand",
    "m06": "standing active straight leg raise",
    "m07": "standing shoulder abduction",
    "m08": "standing shoulder extension",
    "m09": "standing shoulder internal-external rotation",
    "m10": "standing shoulder scaption",
}
_SPLIT = {"s08": "val", "s09": "test", "s10": "test"}  # all others train (shared/data/README.md)

# Groups of markers on one rigid segment, used to fill a missing marker from the others (rigid-body fill).
CLUSTERS: dict[str, tuple[str, ...]] = {
    "head": ("LFHD", "RFHD", "LBHD", "RBHD"),
    "thorax": ("C7", "T10", "CLAV", "STRN"),
    "pelvis": ("LASI", "RASI", "LPSI", "RPSI"),
    "l_wrist": ("LWRA", "LWRB", "LFIN", "LFRM"),
    "r_wrist": ("RWRA", "RWRB", "RFIN", "RFRM"),
}

# Markers the joint centres are computed from; a frame missing one of these (after filling) is unusable.
REQUIRED: tuple[str, ...] = (
    "LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN",
    "LSHO", "LELB", "LWRA", "LWRB", "RSHO", "RELB", "RWRA", "RWRB",
    "LASI", "RASI", "LPSI", "RPSI", "LKNE", "LANK", "RKNE", "RANK",
)


@dataclass(frozen=True)
class BodyModel:
    """Anthropometric constants of the marker-to-joint model (millimetres unless named otherwise).

    Widths are adult averages for a reference shank (knee-to-ankle marker distance) of ``ref_shank_mm``;
    :func:`joint_centres` scales them by the take's own shank length.

    Attributes:
        marker_radius_mm: Vicon markers of 14 mm diameter (the PiG standard).
        knee_width_mm, ankle_width_mm, elbow_width_mm: femoral epicondyles, malleoli, humeral epicondyles.
        ref_shank_mm: shank marker length that the widths belong to.
        shoulder_drop_frac: shoulder centre below the acromion marker along the thorax axis, as a fraction of
            the bi-acromial marker distance. PiG moves SHO down by a measured shoulder offset (typically
            40-50 mm) plus the marker radius, i.e. 0.12-0.15 of a 350-400 mm bi-acromial distance; 0.13 is the
            value in that range that keeps the upper arm length steadiest while the arm is raised, on the
            training subjects (s01-s04, s06, s07). Rab et al. 2002 (Gait Posture 15:113) use 0.17, which
            lets the upper arm stretch by ~1 cm more as the arm goes overhead.
        nose_forward_m, nose_down_m: nose relative to the head centre, in the levelled head frame.
        head_pitch_deg: how far the head markers' plane tilts up at the front in a level head. Standing, the
            forehead pair sits above the occiput pair by 6-24 degrees (median 15 over the training subjects);
            the head frame is turned down by this much before placing the nose (PiG levels its head
            segment the same way, with a per-subject offset from a static trial).
    """

    marker_radius_mm: float = 7.0
    knee_width_mm: float = 100.0
    ankle_width_mm: float = 70.0
    elbow_width_mm: float = 65.0
    ref_shank_mm: float = 430.0
    shoulder_drop_frac: float = 0.13
    nose_forward_m: float = 0.10
    nose_down_m: float = 0.03
    head_pitch_deg: float = 15.0


def _idx(name: str) -> int:
    return MARKERS.index(name)


def _m(markers: np.ndarray, name: str) -> np.ndarray:
    return markers[:, MARKERS.index(name)]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _nanmedian(x: np.ndarray) -> float:
    """Median of the finite values, NaN (without a warning) if there are none."""
    x = np.asarray(x)[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


# --------------------------------------------------------------------------------------------- reading


def read_ui_prmd(path: str | Path) -> tuple[np.ndarray, float]:
    """Read one UI-PRMD Vicon positions file (``mXX_sYY_eZZ_positions.txt.gz``).

    Returns ``(markers_mm, fps)``: ``(T, 39, 3)`` float64 millimetres in the lab frame (Z up), marker order
    :data:`MARKERS`, NaN where the file has a missing marker (written as exactly ``0, 0, 0``); and the frame
    rate of the staged files, :data:`FPS`.

    Raises :class:`InputError` naming the file if it is not gzip, empty, has a row without 117 values, a
    non-numeric or non-finite value, or a blank line.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise InputError(f"not a readable gzipped text file ({e})", path) from None
    lines = text.splitlines()
    if not lines:
        raise InputError(f"no frames (expected lines of {_COLUMNS} comma-separated floats)", path)
    for i, line in enumerate(lines):
        if not line.strip():
            raise InputError(f"line {i + 1} is blank (expected {_COLUMNS} comma-separated floats)", path)
    try:
        flat = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except ValueError as e:
        raise InputError(f"expected {_COLUMNS} comma-separated floats per line: {e}", path) from None
    if flat.shape[1] != _COLUMNS:
        raise InputError(f"expected {_COLUMNS} values per line (39 markers x xyz), got {flat.shape[1]}", path)
    if not np.isfinite(flat).all():
        row = int(np.nonzero(~np.isfinite(flat).all(axis=1))[0][0])
        raise InputError(f"non-finite value on line {row + 1}", path)
    markers = flat.reshape(len(flat), len(MARKERS), 3)  # (T, 39, 3)
    markers[(markers == 0.0).all(axis=-1)] = np.nan
    return markers, FPS


# --------------------------------------------------------------------------------------------- gap filling


def interpolate_gaps(markers_mm: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """Fill interior runs of at most ``max_gap`` missing frames of each marker by linear interpolation in time.

    ``markers_mm (T, M, 3)`` with NaN for missing; returns a copy. Runs touching the first or last frame and
    longer runs stay NaN.
    """
    out = np.array(markers_mm, dtype=np.float64, copy=True)
    T = out.shape[0]
    miss = np.isnan(out).any(axis=-1)  # (T, M)
    for j in np.nonzero(miss.any(axis=0))[0]:
        edges = np.diff(np.r_[0, miss[:, j].astype(np.int8), 0])
        for s, e in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            if s == 0 or e == T or e - s > max_gap:
                continue
            w = (np.arange(s, e) - (s - 1))[:, None] / (e - (s - 1))  # (run, 1)
            out[s:e, j] = (1 - w) * out[s - 1, j] + w * out[e, j]
    return out


def _kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rigid ``R (N, 3, 3)``, ``t (N, 3)`` with ``dst ≈ src @ R^T + t`` for point sets ``(N, K, 3)``."""
    cs, cd = src.mean(axis=1), dst.mean(axis=1)  # (N, 3)
    h = np.einsum("nki,nkj->nij", src - cs[:, None], dst - cd[:, None])  # (N, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nji,nkj->nik", vt, u)))  # det(V U^T)
    v = np.swapaxes(vt, 1, 2).copy()
    v[:, :, 2] *= d[:, None]
    r = np.einsum("nij,nkj->nik", v, u)  # V D U^T
    return r, cd - np.einsum("nij,nj->ni", r, cs)


def cluster_templates(
    markers_mm: np.ndarray, names: Iterable[str] | None = None, max_frames: int = 200
) -> dict[str, np.ndarray]:
    """Mean shape ``(K, 3)`` of :data:`CLUSTERS` groups (all, or ``names``) over frames where all are seen.

    Frames are aligned by generalised Procrustes (rigid, no scale); clusters never fully seen are left out.
    """
    out = {}
    for name in CLUSTERS if names is None else names:
        members = CLUSTERS[name]
        pts = markers_mm[:, [_idx(n) for n in members]]  # (T, K, 3)
        pts = pts[~np.isnan(pts).any(axis=(1, 2))]
        if len(pts) == 0:
            continue
        pts = pts[np.linspace(0, len(pts) - 1, min(max_frames, len(pts))).astype(int)]
        mean = pts[0] - pts[0].mean(axis=0)
        for _ in range(3):
            r, t = _kabsch(pts, np.broadcast_to(mean, pts.shape))
            aligned = np.einsum("nij,nkj->nki", r, pts) + t[:, None]  # (N, K, 3)
            mean = aligned.mean(axis=0)
            mean -= mean.mean(axis=0)
        out[name] = mean
    return out


def rigid_fill(markers_mm: np.ndarray, templates: dict[str, np.ndarray]) -> np.ndarray:
    """Fill markers of a cluster that are missing in frames where at least 3 of its markers are seen.

    The cluster's template ``(K, 3)`` is fitted rigidly (Kabsch) to the seen markers and gives the missing
    ones; this is the rigid-body gap fill of Vicon Nexus. Returns a copy.
    """
    out = np.array(markers_mm, dtype=np.float64, copy=True)
    for name, tpl in templates.items():
        cols = [_idx(n) for n in CLUSTERS[name]]
        seen = ~np.isnan(out[:, cols]).any(axis=-1)  # (T, K)
        todo = (seen.sum(axis=1) >= 3) & ~seen.all(axis=1)
        for pattern in np.unique(seen[todo], axis=0):
            rows = np.nonzero(todo & (seen == pattern).all(axis=1))[0]
            obs = out[np.ix_(rows, cols)][:, pattern]  # (N, k, 3)
            r, t = _kabsch(np.broadcast_to(tpl[pattern], obs.shape), obs)
            fill = np.einsum("nij,kj->nki", r, tpl[~pattern]) + t[:, None]  # (N, K-k, 3)
            out[np.ix_(rows, [c for c, s in zip(cols, pattern) if not s])] = fill
    return out


def fill_gaps(
    markers_mm: np.ndarray, max_gap: int = 10, templates: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Interpolate short gaps in time (:func:`interpolate_gaps`), then fill from rigid clusters (:func:`rigid_fill`).

    The cluster templates come from the take itself; ``templates`` supplies those the take cannot (a marker
    missing for the whole take), e.g. from another take of the same subject (see :func:`load_ui_prmd_clip`).
    """
    out = interpolate_gaps(markers_mm, max_gap)
    gappy = [c for c, members in CLUSTERS.items() if np.isnan(out[:, [_idx(n) for n in members]]).any()]
    if not gappy:
        return out
    own = cluster_templates(out, gappy)
    return rigid_fill(out, {**{c: t for c, t in (templates or {}).items() if c in gappy}, **own})


# --------------------------------------------------------------------------------------------- joint centres


def pelvis_frame(lasi, rasi, lpsi, rpsi) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis origin (mid-ASIS) ``(..., 3)`` and axes ``(..., 3, 3)`` whose columns are anterior, left, up.

    Left runs from the right to the left ASIS; anterior is mid-PSIS to mid-ASIS made orthogonal to it
    (the PiG / ISB pelvis frame, axes renamed).
    """
    origin = 0.5 * (lasi + rasi)
    left = _unit(lasi - rasi)
    ant = origin - 0.5 * (lpsi + rpsi)
    ant = _unit(ant - _dot(ant, left)[..., None] * left)
    up = np.cross(ant, left)
    return origin, np.stack([ant, left, up], axis=-1)


def harrington_hip_centres(pelvis_width_mm: float, pelvis_depth_mm: float) -> np.ndarray:
    """Left and right hip centres ``(2, 3)`` in the :func:`pelvis_frame` (anterior, left, up), millimetres.

    Harrington et al. 2007 (J Biomech 40:595), width/depth equations in the ISB pelvis frame (origin mid-ASIS,
    x anterior, y superior, z right): x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = ±(0.33 PW + 7.3), with PW the
    inter-ASIS distance and PD the mid-ASIS to mid-PSIS distance.
    """
    ant = -0.24 * pelvis_depth_mm - 9.9
    up = -0.30 * pelvis_width_mm - 10.9
    lat = 0.33 * pelvis_width_mm + 7.3
    return np.array([[ant, lat, up], [ant, -lat, up]])


def pelvis_size(markers_mm: np.ndarray) -> tuple[float, float]:
    """Median pelvic width and depth (mm) of a take, as Harrington's regression defines them."""
    la, ra, lp, rp = (_m(markers_mm, n) for n in ("LASI", "RASI", "LPSI", "RPSI"))
    pw = _nanmedian(np.linalg.norm(la - ra, axis=-1))
    pd = _nanmedian(np.linalg.norm(0.5 * (la + ra) - 0.5 * (lp + rp), axis=-1))
    return pw, pd


@np.errstate(invalid="ignore", divide="ignore")
def hinge_axis(a: np.ndarray, b: np.ndarray, ca, cb, side: float) -> np.ndarray:
    """Unit vectors ``l (..., 3)`` with ``a·l = ca``, ``b·l = cb``, on the ``side`` (+1/-1) of ``n = a × b``.

    For a hinge whose marker ``M`` sits on the flexion axis at distance ``d`` from the joint centre ``J = M + d l``,
    the proximal and distal joint centres lie in the plane through ``J`` normal to the axis; with ``a = P - M``
    and ``b = D - M`` that gives ``a·l = d`` and ``b·l = d`` (less any lateral offset of the distal marker).
    ``l`` is then fixed up to its mirror image in the plane of ``a, b``; the anatomical flexion direction picks
    the side (``side=0`` takes the point between them: the axis in that plane, exact for a straight limb).
    """
    aa, bb, ab = _dot(a, a), _dot(b, b), _dot(a, b)
    det = aa * bb - ab**2
    det = np.where(det > 1e-9 * aa * bb, det, np.nan)  # collinear points: no axis
    alpha = (ca * bb - cb * ab) / det
    beta = (cb * aa - ca * ab) / det
    l0 = alpha[..., None] * a + beta[..., None] * b
    n = _unit(np.cross(a, b))
    gamma = side * np.sqrt(np.clip(1.0 - _dot(l0, l0), 0.0, None))
    return _unit(l0 + gamma[..., None] * n)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def three_point_axis(prox, marker, dist, d_marker: float, d_dist: float, side: float) -> np.ndarray:
    """Medial flexion axis ``(..., 3)`` of a hinge from its proximal centre, lateral marker and distal point.

    :func:`hinge_axis` with the anatomical side once the joint is clearly flexed (more than 30 degrees), the
    in-plane solution near straight (under 10 degrees) and a smooth blend between. Three points cannot tell
    slight flexion from slight hyperextension, whose axes are mirror images; at 5 degrees either way the wrong
    one moves the joint centre by about half the offset, the in-plane one by a quarter.
    ``d_dist`` is the lateral offset of the distal point (0 for a joint centre).
    """
    a, b = prox - marker, dist - marker
    l_flexed = hinge_axis(a, b, d_marker, d_marker - d_dist, side)
    l_plane = hinge_axis(a, b, d_marker, d_marker - d_dist, 0.0)
    centre = marker + d_marker * l_flexed
    cos = _dot(_unit(prox - centre), _unit(dist + d_dist * l_flexed - centre))
    flexion = 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    w = _smoothstep(flexion, 10.0, 30.0)[..., None]
    return _unit((1.0 - w) * l_plane + w * l_flexed)


def chord_centre(prox, marker, aux, offset: float) -> np.ndarray:
    """PiG chord function: the joint centre ``(..., 3)`` from a lateral marker and a wand marker.

    The centre lies in the plane of ``prox``, ``marker`` and ``aux`` (the thigh or tibia wand, placed in the
    plane of the joint's flexion axis), ``offset`` from ``marker`` on the side away from ``aux``, with a right
    angle at the centre between ``prox`` and ``marker`` (Davis et al. 1991; Vicon Plug-in Gait).
    """
    a = prox - marker
    length = np.linalg.norm(a, axis=-1, keepdims=True)
    a_hat = a / length
    t = aux - marker
    medial = -_unit(t - _dot(t, a_hat)[..., None] * a_hat)
    c = offset / length
    return marker + offset * (c * a_hat + np.sqrt(np.clip(1.0 - c**2, 0.0, None)) * medial)


@np.errstate(invalid="ignore", divide="ignore")  # NaN markers give NaN joints, quietly
def joint_centres(
    markers_mm: np.ndarray,
    pelvis_size_mm: tuple[float, float] | None = None,
    model: BodyModel = BodyModel(),
) -> np.ndarray:
    """Lifting-skeleton joints ``(T, 17, 3)`` in metres (order :data:`~lift3d.skeletons.H36M17`) from PiG markers.

    ``markers_mm (T, 39, 3)`` as from :func:`read_ui_prmd` (gaps filled or not): a joint is NaN in a frame
    where a marker it needs is missing. ``pelvis_size_mm`` (width, depth) overrides the take's own median ASIS
    / PSIS geometry for Harrington's hip regression (for subjects whose pelvis markers are misplaced).

    Model (sources in the module docstring):
        hips: Harrington's regression, fixed in the pelvis marker frame (:func:`pelvis_frame`).
        knee: KNE moved medially by half the knee width plus the marker radius by the PiG chord function in the
            plane of hip centre, THI and KNE (:func:`chord_centre`); where THI is missing, along the axis solved
            from hip centre, KNE and ANK (:func:`three_point_axis`).
        ankle: ANK moved medially by half the ankle width plus the marker radius by the chord function in the
            plane of knee centre, TIB and ANK; where TIB is missing, along the knee axis made perpendicular to
            the shank (ignoring tibial torsion: TIB's plane is 13-40 degrees off the knee axis in these subjects).
        shoulder: SHO moved down the PiG thorax axis (mid(STRN, T10) to mid(CLAV, C7)) by
            ``model.shoulder_drop_frac`` of the median bi-acromial distance; it does not follow the scapula.
        elbow: ELB moved medially by half the elbow width plus the marker radius along the axis solved from
            shoulder centre, ELB and wrist centre (:func:`three_point_axis`): the arm has no wand marker.
        wrist: midpoint of the wrist bar markers WRA, WRB.
        head: centre of LFHD, RFHD, LBHD, RBHD; nose (the ``neck`` joint): ``nose_forward_m`` ahead and
            ``nose_down_m`` below it in the head markers' frame (forward = front pair minus back pair), levelled
            by ``model.head_pitch_deg``.
        pelvis, thorax, spine: mid-hips, mid-shoulders, their midpoint (lift3d.skeletons.mapping).
    Widths are scaled by the take's median knee-to-ankle marker distance over ``model.ref_shank_mm``.
    """
    markers_mm = np.asarray(markers_mm, dtype=np.float64)
    if markers_mm.ndim != 3 or markers_mm.shape[1:] != (len(MARKERS), 3):
        raise InputError(f"expected markers of shape (T, {len(MARKERS)}, 3), got {markers_mm.shape}")
    mk = {n: markers_mm[:, i] for i, n in enumerate(MARKERS)}
    T = markers_mm.shape[0]
    r = model.marker_radius_mm

    origin, axes = pelvis_frame(mk["LASI"], mk["RASI"], mk["LPSI"], mk["RPSI"])
    pw, pd = pelvis_size(markers_mm) if pelvis_size_mm is None else pelvis_size_mm
    hips = origin[:, None] + np.einsum("tij,kj->tki", axes, harrington_hip_centres(pw, pd))  # (T, 2, 3) L, R

    shank = _nanmedian(np.linalg.norm(np.stack([mk["LKNE"] - mk["LANK"], mk["RKNE"] - mk["RANK"]]), axis=-1))
    scale = float(np.clip(shank / model.ref_shank_mm, 0.8, 1.25)) if np.isfinite(shank) else 1.0
    d_knee = 0.5 * scale * model.knee_width_mm + r
    d_ankle = 0.5 * scale * model.ankle_width_mm + r
    d_elbow = 0.5 * scale * model.elbow_width_mm + r

    up = _unit(0.5 * (mk["CLAV"] + mk["C7"]) - 0.5 * (mk["STRN"] + mk["T10"]))  # PiG thorax axis
    drop = model.shoulder_drop_frac * _nanmedian(np.linalg.norm(mk["LSHO"] - mk["RSHO"], axis=-1))

    j = {}
    for s, (side, leg_side, arm_side) in enumerate((("l", 1.0, -1.0), ("r", -1.0, 1.0))):
        p = side.upper()
        hip, kne, ank, thi, tib = hips[:, s], mk[p + "KNE"], mk[p + "ANK"], mk[p + "THI"], mk[p + "TIB"]
        knee = chord_centre(hip, kne, thi, d_knee)
        # Without the thigh wand, fall back to the knee's own three points.
        fallback = kne + d_knee * three_point_axis(hip, kne, ank, d_knee, d_ankle, leg_side)
        knee = np.where(np.isnan(thi).any(axis=-1, keepdims=True), fallback, knee)
        ankle = chord_centre(knee, ank, tib, d_ankle)
        # Without the tibia wand: the knee axis made perpendicular to the shank (ignores tibial torsion).
        axis = _unit(knee - kne)
        shank_dir = _unit(knee - ank)
        fallback = ank + d_ankle * _unit(axis - _dot(axis, shank_dir)[..., None] * shank_dir)
        ankle = np.where(np.isnan(tib).any(axis=-1, keepdims=True), fallback, ankle)
        sho = mk[p + "SHO"] - drop * up
        wrist = 0.5 * (mk[p + "WRA"] + mk[p + "WRB"])
        elb = mk[p + "ELB"]
        elbow = elb + d_elbow * three_point_axis(sho, elb, wrist, d_elbow, 0.0, arm_side)
        j.update({f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
                  f"{side}_shoulder": sho, f"{side}_elbow": elbow, f"{side}_wrist": wrist})

    head_pts = np.stack([mk[n] for n in CLUSTERS["head"]], axis=1)  # (T, 4, 3)
    head = head_pts.mean(axis=1)
    front = 0.5 * (mk["LFHD"] + mk["RFHD"]) - 0.5 * (mk["LBHD"] + mk["RBHD"])
    left = 0.5 * (mk["LFHD"] + mk["LBHD"]) - 0.5 * (mk["RFHD"] + mk["RBHD"])
    head_up = _unit(np.cross(front, left))
    fwd = _unit(np.cross(left, head_up))
    c, s_ = np.cos(np.radians(model.head_pitch_deg)), np.sin(np.radians(model.head_pitch_deg))
    fwd, head_up = c * fwd - s_ * head_up, s_ * fwd + c * head_up  # level the marker plane
    j["head"] = head
    j["neck"] = head + 1000.0 * (model.nose_forward_m * fwd - model.nose_down_m * head_up)
    j["pelvis"] = 0.5 * (j["l_hip"] + j["r_hip"])
    j["thorax"] = 0.5 * (j["l_shoulder"] + j["r_shoulder"])
    j["spine"] = 0.5 * (j["pelvis"] + j["thorax"])
    out = np.stack([j[name] for name in H36M17.joints], axis=1) / 1000.0  # (T, 17, 3) metres
    assert out.shape == (T, H36M17.num_joints, 3)
    return out


# --------------------------------------------------------------------------------------------- takes and catalog

_NAME = re.compile(r"^(m\d\d)_(s\d\d)_(e\d\d)_positions\.txt\.gz$")

# Pelvic width and depth (mm) for subjects whose ASIS/PSIS markers are not on the landmarks. s05's "ASIS" markers
# sit 443 mm apart (others 242-283 mm) and its "PSIS" 155 mm (others 84-117), so Harrington's regression on them
# would put its hips ~5 cm too far out and too low. A functional (sphere-fit) hip centre is no way out here: the
# thigh and knee markers slide too much in these squats and lunges, and flexion-only motion leaves the centre's
# lateral position undetermined (fitted on the other subjects, such centres move by 5-15 cm between movements).
# So s05's width and depth are predicted from stature instead: the training subjects s01-s04, s06, s07 have
# PW = 0.162 H (sd 0.010) and PD = 0.111 H (sd 0.011), H being the head-marker centre height standing (first
# frames of m07, m08, m10); s05 stands at H = 1.770 m (one sd in the ratios moves its hip centres by ~6 mm). The
# pelvis frame still comes from s05's own markers. With these, s05's standing hip height and hip width over
# stature fall inside the other nine subjects' ranges; tests/mocap/test_ui_prmd.py re-derives the numbers and
# tools/inspect_ui_prmd.py prints them.
PELVIS_SIZE_MM: dict[str, tuple[float, float]] = {"ui_prmd:s05": (287.0, 197.0)}

# Takes whose bone lengths are not the person's (ClipInfo.proportions_valid = False):
# - s05, all: hips from the stature regression above, and the markers were re-applied between sessions
#   (in m07 and m09 the thigh markers sit 8 cm higher and RKNE-RANK is 46 mm shorter than in its other takes);
# - s10 m04, m09, m10: knee markers ~5 cm lower than in its other seven movements (KNE-ANK 383 against
#   441 mm), which shortens the shank and lengthens the thigh by as much.
_PROPORTIONS_INVALID = {("s05", None), ("s10", "m04"), ("s10", "m09"), ("s10", "m10")}


def _parse_name(path: Path) -> tuple[str, str, str]:
    match = _NAME.match(path.name)
    if not match:
        raise InputError("not a UI-PRMD positions file name (expected mXX_sYY_eZZ_positions.txt.gz)", path)
    return match.group(1), match.group(2), match.group(3)


def _templates_from_other_takes(path: Path, markers_mm: np.ndarray, clusters: set[str]) -> dict[str, np.ndarray]:
    """Cluster templates for ``clusters`` from the same subject's other takes in ``path``'s folder.

    Takes of the same movement (one recording session) come first; only if none of them has the cluster are
    the other movements tried, and of those the template that best fits this take's seen markers of the
    cluster is kept, since markers were sometimes re-applied between sessions.
    """
    movement, subject, _ = _parse_name(path)
    siblings = sorted(p for p in path.parent.glob(f"m??_{subject}_e??_positions.txt.gz") if p != path)
    same = [p for p in siblings if p.name.startswith(movement)]
    other = [p for p in siblings if not p.name.startswith(movement)]
    found: dict[str, np.ndarray] = {}
    for group in (same, other):
        candidates: dict[str, list[np.ndarray]] = {}
        for p in group:
            tpl = cluster_templates(interpolate_gaps(read_ui_prmd(p)[0]), clusters - found.keys())
            for name in clusters - found.keys():
                if name in tpl:
                    candidates.setdefault(name, []).append(tpl[name])
        for name, tpls in candidates.items():
            found[name] = min(tpls, key=lambda t: _fit_residual(markers_mm, name, t))
        if clusters <= found.keys():
            break
    return found


def _fit_residual(markers_mm: np.ndarray, cluster: str, tpl: np.ndarray) -> float:
    """RMS distance (mm) between a take's seen markers of ``cluster`` and the rigidly fitted template."""
    pts = markers_mm[:, [_idx(n) for n in CLUSTERS[cluster]]]  # (T, K, 3)
    seen = ~np.isnan(pts).any(axis=-1)
    best = np.inf
    for pattern in np.unique(seen[seen.sum(axis=1) >= 3], axis=0):
        obs = pts[(seen == pattern).all(axis=1)][:, pattern]  # (N, k, 3)
        src = np.broadcast_to(tpl[pattern], obs.shape)
        r, t = _kabsch(src, obs)
        res = np.einsum("nij,nkj->nki", r, src) + t[:, None] - obs
        best = min(best, float(np.sqrt((res**2).sum(-1).mean())))
    return best


def _resample(pose: np.ndarray, t_s: np.ndarray, fps: float) -> np.ndarray:
    """Linear interpolation of ``pose (T, J, 3)`` sampled at times ``t_s (T,)`` onto a grid of ``fps``."""
    T, J, C = pose.shape
    grid = t_s[0] + np.arange(int(np.floor((t_s[-1] - t_s[0]) * fps + 1e-9)) + 1) / fps
    flat = pose.reshape(T, J * C)  # (T, J*3)
    out = np.stack([np.interp(grid, t_s, flat[:, k]) for k in range(J * C)], axis=1)  # (T', J*3)
    return out.reshape(len(grid), J, C)


def load_ui_prmd_clip(
    info: ClipInfo, fps: float | None = None, max_gap: int = 10, model: BodyModel = BodyModel()
) -> MocapClip:
    """Read a UI-PRMD take and derive its lifting-skeleton joints (metres, Z-up lab frame).

    Gaps are filled (:func:`fill_gaps`; a marker missing for the whole take from the subject's other takes),
    joints come from :func:`joint_centres` (with a per-subject pelvis size where the pelvis markers are
    misplaced), and frames still missing a needed marker are dropped with a warning. With ``fps``, the joints
    are resampled by linear interpolation onto that rate. Raises :class:`InputError` naming the file when no
    frame is usable.
    """
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps}", info.path)
    path = Path(info.path)
    markers, native_fps = read_ui_prmd(path)
    filled = fill_gaps(markers, max_gap)
    required = [_idx(n) for n in REQUIRED]
    missing = np.isnan(filled[:, required]).any(axis=-1)  # (T, R)
    unfilled = {c for c, members in CLUSTERS.items() for n in members
                if n in REQUIRED and missing[:, REQUIRED.index(n)].any()}
    if unfilled and _NAME.match(path.name):
        templates = _templates_from_other_takes(path, filled, unfilled)
        if templates:
            log.info("%s: filling %s from the subject's other takes", path, sorted(templates))
            filled = fill_gaps(markers, max_gap, templates)
    pose = joint_centres(filled, PELVIS_SIZE_MM.get(info.subject), model)
    ok = np.isfinite(pose).all(axis=(1, 2))
    if not ok.any():
        raise InputError(f"no usable frame: needed markers missing in all {len(pose)} frames", path)
    if not ok.all():
        gone = sorted({REQUIRED[k] for k in np.nonzero(np.isnan(filled[~ok][:, required]).any(axis=(0, 2)))[0]})
        log.warning("%s: dropped %d of %d frames missing markers %s", path, int((~ok).sum()), len(ok), gone)
    t_s = np.nonzero(ok)[0] / native_fps
    pose = pose[ok]
    if fps is None:
        return MocapClip(info, native_fps, pose)
    if len(pose) < 2:
        raise InputError(f"cannot resample a single usable frame to {fps} fps", path)
    return MocapClip(info, float(fps), _resample(pose, t_s, float(fps)))


def ui_prmd_catalog(data_dir: str | Path) -> list[ClipInfo]:
    """All UI-PRMD takes listed in ``files.csv``, as :class:`ClipInfo` (dataset ``ui_prmd_vicon``).

    ``data_dir`` is the ``ui_prmd_vicon`` folder or the ``shared/data`` folder holding it. Subjects are
    ``ui_prmd:sNN``, actions the movement names of :data:`MOVEMENTS`; split: s09, s10 test, s08 val, others
    train. Raises :class:`InputError` if ``files.csv`` is missing or malformed or names a missing file.
    """
    root = Path(data_dir)
    if not (root / "files.csv").is_file() and (root / DATASET / "files.csv").is_file():
        root = root / DATASET
    index = root / "files.csv"
    if not index.is_file():
        raise InputError("UI-PRMD index files.csv not found", index)
    with open(index, newline="") as f:
        reader = csv.DictReader(f)
        need = {"file", "movement", "subject", "episode"}
        if not need <= set(reader.fieldnames or ()):
            raise InputError(f"expected columns {sorted(need)}, got {reader.fieldnames}", index)
        rows = list(reader)
    out = []
    for line, row in enumerate(rows, start=2):
        path = root / row["file"]
        movement, subject = row["movement"], row["subject"]
        if movement not in MOVEMENTS or not re.fullmatch(r"s\d\d", subject or ""):
            raise InputError(f"line {line}: unknown movement {movement!r} or subject {subject!r}", index)
        if not path.is_file():
            raise InputError(f"line {line}: listed file is missing", path)
        valid = (subject, None) not in _PROPORTIONS_INVALID and (subject, movement) not in _PROPORTIONS_INVALID
        out.append(ClipInfo(path=path, dataset=DATASET, subject=f"ui_prmd:{subject}",
                            action=MOVEMENTS[movement], split=_SPLIT.get(subject, "train"),
                            proportions_valid=valid))
    return out
