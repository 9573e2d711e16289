"""Keep one person across frames of multi-person 2D detections (OpenPose JSON, BlazePose with several poses).

Rule: ``person`` picks whom to follow where there is no track (the first frame with anyone in it, or after the
track was lost for ``max_lost`` frames): ``"largest"`` (largest box around confident joints),
``"most_confident"`` (highest mean confidence), or an ``int`` (that index in every frame, untracked). While
tracking, the candidate nearest the last pick (mean pixel distance over joints confident in both, divided by
the last pick's box diagonal) is kept if within ``track_gate``, whatever its size or confidence, so a bystander
is not swapped in; if no candidate is that near, the person counts as missed in that frame (confidence 0).
"""

from __future__ import annotations

import math

import numpy as np

from lift3d.errors import InputError

PERSON_RULES = ("largest", "most_confident")


def check_tracking_args(person, track_gate, max_lost) -> None:
    """Raise :class:`InputError` for an unknown ``person`` rule, a non-positive gate or a bad ``max_lost``."""
    if isinstance(person, bool) or not (person in PERSON_RULES or (isinstance(person, int) and person >= 0)):
        raise InputError(f"person must be one of {list(PERSON_RULES)} or an index >= 0, got {person!r}")
    if track_gate is not None and not track_gate > 0:
        raise InputError(f"track_gate must be > 0 or None, got {track_gate!r}")
    if isinstance(max_lost, bool) or not isinstance(max_lost, int) or max_lost < 0:
        raise InputError(f"max_lost must be an int >= 0, got {max_lost!r}")


def follow_person(
    frames: list[tuple[np.ndarray, np.ndarray]],
    person: str | int = "largest",
    *,
    min_conf: float = 0.1,
    track_gate: float | None = 0.3,
    max_lost: int = 10,
    merge_fragments: bool = False,
    num_joints: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's ``kp2d_px (T, J, 2)``, ``conf (T, J)`` (float32) and ``person_index (T,)`` (-1: none).

    Args:
        frames: per frame, all candidates ``kp (P, J, 2)`` and ``conf (P, J)`` (``P`` may be 0).
        person, track_gate, max_lost: see the module docstring; ``track_gate=None`` disables tracking.
        min_conf: joints above it count for boxes and distances; returned confidences are untouched.
        merge_fragments: other candidates within the gate whose confident joints do not overlap the pick
            fill its missing joints (OpenPose sometimes splits one person in two).
        num_joints: ``J`` when every frame is empty.
    """
    check_tracking_args(person, track_gate, max_lost)
    T = len(frames)
    J = frames[0][0].shape[1] if T else (num_joints or 0)
    kp2d_px = np.zeros((T, J, 2), dtype=np.float32)
    conf = np.zeros((T, J), dtype=np.float32)
    person_index = np.full(T, -1, dtype=np.int64)
    ref, lost = None, 0  # (kp (J, 2), conf (J,)) of the last pick; frames since it
    for i, (kp, c) in enumerate(frames):
        tracking = ref is not None and track_gate is not None and lost < max_lost
        if isinstance(person, int):
            pick = person if person < len(c) else -1
            picked = (kp[pick], c[pick]) if pick >= 0 else None
        elif tracking:
            pick, picked = _follow(kp, c, ref, min_conf, track_gate, merge_fragments)
        else:
            pick = _best(kp, c, person, min_conf)
            picked = (kp[pick], c[pick]) if pick >= 0 else None
        if pick >= 0:
            kp2d_px[i], conf[i] = picked
            person_index[i] = pick
            ref, lost = picked, 0
        else:
            lost += 1
    return kp2d_px, conf, person_index


def _follow(kp: np.ndarray, conf: np.ndarray, ref, min_conf: float, track_gate: float, merge_fragments: bool):
    """The tracked person in one frame: ``(index, (kp (J, 2), conf (J,)))``, or ``(-1, None)``."""
    ok = conf > min_conf  # (P, J)
    candidates = np.flatnonzero(ok.any(axis=1))
    if candidates.size == 0:
        return -1, None
    ref_kp, ref_conf = ref
    ref_ok = ref_conf > min_conf
    diag = max(float(np.linalg.norm(box_size(ref_kp, ref_ok))), 1.0)
    dist = np.array([_distance(kp[p], ok[p], ref_kp, ref_ok) for p in candidates]) / diag
    order = np.argsort(dist, kind="stable")
    if dist[order[0]] > track_gate:
        return -1, None
    pick = int(candidates[order[0]])
    out_kp, out_conf, out_ok = kp[pick].copy(), conf[pick].copy(), ok[pick].copy()
    if merge_fragments:
        for j in order[1:]:
            p = int(candidates[j])
            if dist[j] <= track_gate and not (ok[p] & out_ok).any():
                out_kp[ok[p]], out_conf[ok[p]] = kp[p][ok[p]], conf[p][ok[p]]
                out_ok |= ok[p]
    return pick, (out_kp, out_conf)


def _best(kp: np.ndarray, conf: np.ndarray, person: str, min_conf: float) -> int:
    """Index of the largest or most confident person, or -1 if nobody has a confident joint."""
    ok = conf > min_conf  # (P, J)
    candidates = np.flatnonzero(ok.any(axis=1))
    if candidates.size == 0:
        return -1
    if person == "largest":
        score = np.array([np.prod(box_size(kp[p], ok[p])) for p in candidates])
    else:
        score = conf[candidates].mean(axis=1)
    return int(candidates[int(np.argmax(score))])


def box_size(kp: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(2,)`` width and height of the box around the joints in ``ok``."""
    if not ok.any():
        return np.zeros(2)
    pts = kp[ok]  # (n, 2)
    return pts.max(axis=0) - pts.min(axis=0)


def _distance(kp: np.ndarray, ok: np.ndarray, ref_kp: np.ndarray, ref_ok: np.ndarray) -> float:
    """Mean distance over joints confident in both, else the distance between the boxes' centres."""
    shared = ok & ref_ok
    if shared.any():
        return float(np.linalg.norm(kp[shared] - ref_kp[shared], axis=1).mean())
    if not ref_ok.any():
        return math.inf
    centre = 0.5 * (kp[ok].min(axis=0) + kp[ok].max(axis=0))
    ref_centre = 0.5 * (ref_kp[ref_ok].min(axis=0) + ref_kp[ref_ok].max(axis=0))
    return float(np.linalg.norm(centre - ref_centre))
