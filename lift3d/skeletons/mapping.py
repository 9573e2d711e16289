"""Mappings between skeleton formats, as tables of weighted source joints.

Each target joint is an affine combination of source joints (weights sum to 1): a joint the source has is
``((name, 1.0),)``; a joint it lacks is synthesised, e.g. pelvis = ``(("left_hip", .5), ("right_hip", .5))``.
A synthesised joint's confidence is the minimum of its sources' confidences, so it is only as trusted as
its weakest input. Mappings apply to 2D or 3D points alike (affine combinations commute with translation,
rotation and scale; under perspective they hold to first order, which is all that is asked of them here).

Definitions of the lifting skeleton's synthesised joints, the same for every source (see
:data:`lift3d.skeletons.tables.H36M17`): pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis,
thorax), neck = nose, head = mid-ears.

Fallbacks: a target joint may list alternative recipes with a confidence discount, used where they are more
trusted than the primary one. They are geometric, not guesses: in a profile view one ear is hidden, but the
two ears then project almost onto each other, so the visible ear stands in for mid-ears; from behind, the
hidden nose projects near mid-ears. For each joint and frame the candidate with the highest
``discount * confidence`` wins (the primary on ties), and its discounted confidence is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from lift3d.errors import InputError
from lift3d.skeletons.skeleton import Skeleton
from lift3d.skeletons.tables import BLAZEPOSE33, BODY25, BODY25B, COCO17, H36M17

Recipe = tuple[tuple[str, float], ...]
Fallback = tuple[str, float, Recipe]  # (target joint, confidence discount in (0, 1], recipe)


@dataclass(frozen=True)
class JointMap:
    """Map points of ``source`` to ``target`` by per-joint recipes of weighted source joints."""

    source: Skeleton
    target: Skeleton
    recipes: tuple[Recipe, ...]
    fallbacks: tuple[Fallback, ...] = ()

    def __post_init__(self) -> None:
        if len(self.recipes) != self.target.num_joints:
            raise ValueError(
                f"map {self.source.name}->{self.target.name}: {len(self.recipes)} recipes for "
                f"{self.target.num_joints} target joints"
            )
        for tj, recipe in zip(self.target.joints, self.recipes):
            if not recipe:
                raise ValueError(f"map {self.source.name}->{self.target.name}: empty recipe for {tj}")
            for name, _ in recipe:
                self.source.index(name)  # raises KeyError naming the skeleton
            if abs(sum(w for _, w in recipe) - 1.0) > 1e-9:
                raise ValueError(f"map {self.source.name}->{self.target.name}: weights of {tj} do not sum to 1")
        for tj, discount, recipe in self.fallbacks:
            self.target.index(tj)
            for name, _ in recipe:
                self.source.index(name)
            if not 0 < discount <= 1 or abs(sum(w for _, w in recipe) - 1.0) > 1e-9:
                raise ValueError(f"map {self.source.name}->{self.target.name}: bad fallback for {tj}")

    @cached_property
    def matrix(self) -> np.ndarray:
        """``(J_target, J_source)`` weight matrix of the primary recipes."""
        return self._levels[0][0]

    @cached_property
    def _levels(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Candidate levels: the primary recipes, then one level per fallback.

        Each level is ``(weights (J_target, J_source), discount (J_target))``; a fallback level's other
        rows have discount -1 so that they never win.
        """
        Jt, Js = self.target.num_joints, self.source.num_joints
        primary = np.zeros((Jt, Js))
        for t, recipe in enumerate(self.recipes):
            for name, w in recipe:
                primary[t, self.source.index(name)] += w
        levels = [(primary, np.ones(Jt))]
        for tj, discount, recipe in self.fallbacks:
            m, d = primary.copy(), np.full(Jt, -1.0)
            t = self.target.index(tj)
            m[t] = 0.0
            for name, w in recipe:
                m[t, self.source.index(name)] += w
            d[t] = discount
            levels.append((m, d))
        return levels

    @cached_property
    def support(self) -> np.ndarray:
        """``(J_target, J_source)`` boolean: which source joints each primary recipe uses."""
        return self.matrix != 0

    def apply(self, points, conf=None):
        """Map ``points (..., J_source, C)`` and ``conf (..., J_source)`` to the target skeleton.

        Works on NumPy arrays and torch tensors alike. Returns ``(points (..., J_target, C),
        conf (..., J_target))``; with ``conf=None`` only the primary recipes are used and the returned
        confidence is ``None``.
        """
        if points.shape[-2] != self.source.num_joints:
            raise InputError(
                f"expected {self.source.num_joints} joints of {self.source.name}, got {points.shape[-2]} "
                f"(shape {tuple(points.shape)})"
            )
        if conf is not None and tuple(conf.shape) != tuple(points.shape[:-1]):
            raise InputError(f"conf shape {tuple(conf.shape)} does not match points {tuple(points.shape)}")
        if isinstance(points, torch.Tensor):
            return self._apply_torch(points, conf)
        points = np.asarray(points)
        if conf is None:
            return np.einsum("ts,...sc->...tc", self.matrix, points).astype(points.dtype, copy=False), None
        conf = np.asarray(conf)
        outs, confs = [], []
        for m, discount in self._levels:
            outs.append(np.einsum("ts,...sc->...tc", m, points))  # (..., J_target, C)
            c = np.where(m != 0, conf[..., None, :], np.inf).min(axis=-1)  # (..., J_target)
            confs.append(np.where(discount > 0, c * discount, -1.0))
        confs = np.stack(confs)  # (L, ..., J_target)
        best = confs.argmax(axis=0)[None]  # first maximum: the primary wins ties
        out = np.take_along_axis(np.stack(outs), best[..., None], axis=0)[0]
        c = np.take_along_axis(confs, best, axis=0)[0]
        return out.astype(points.dtype, copy=False), c.astype(conf.dtype, copy=False)

    def _apply_torch(self, points: torch.Tensor, conf: torch.Tensor | None):
        levels = [
            (torch.as_tensor(m, dtype=points.dtype, device=points.device), torch.as_tensor(d, dtype=points.dtype, device=points.device))
            for m, d in self._levels
        ]
        if conf is None:
            return torch.einsum("ts,...sc->...tc", levels[0][0], points), None
        outs, confs = [], []
        for m, discount in levels:
            outs.append(torch.einsum("ts,...sc->...tc", m, points))  # (..., J_target, C)
            c = torch.where(m != 0, conf.unsqueeze(-2), torch.full_like(conf, float("inf")).unsqueeze(-2)).amin(dim=-1)
            confs.append(torch.where(discount > 0, c * discount, torch.full_like(c, -1.0)))
        confs_t = torch.stack(confs)  # (L, ..., J_target)
        best = confs_t.argmax(dim=0, keepdim=True)  # first maximum: the primary wins ties
        out = torch.gather(torch.stack(outs), 0, best.unsqueeze(-1).expand(1, *outs[0].shape))[0]
        return out, torch.gather(confs_t, 0, best)[0]


def _mid(*names: str) -> Recipe:
    return tuple((n, 1.0 / len(names)) for n in names)


def _one(name: str) -> Recipe:
    return ((name, 1.0),)


def h36m_map(
    source: Skeleton,
    *,
    l_hip: str, r_hip: str, l_knee: str, r_knee: str, l_ankle: str, r_ankle: str,
    l_shoulder: str, r_shoulder: str, l_elbow: str, r_elbow: str, l_wrist: str, r_wrist: str,
    nose: str, head: Recipe, fallbacks: tuple[Fallback, ...] = (),
) -> JointMap:
    """The standard recipe set to the lifting skeleton, given which source joints play each role."""
    recipes = {
        "pelvis": _mid(l_hip, r_hip),
        "r_hip": _one(r_hip), "r_knee": _one(r_knee), "r_ankle": _one(r_ankle),
        "l_hip": _one(l_hip), "l_knee": _one(l_knee), "l_ankle": _one(l_ankle),
        "spine": _mid(l_hip, r_hip, l_shoulder, r_shoulder),
        "thorax": _mid(l_shoulder, r_shoulder),
        "neck": _one(nose),
        "head": head,
        "l_shoulder": _one(l_shoulder), "l_elbow": _one(l_elbow), "l_wrist": _one(l_wrist),
        "r_shoulder": _one(r_shoulder), "r_elbow": _one(r_elbow), "r_wrist": _one(r_wrist),
    }
    return JointMap(source, H36M17, tuple(recipes[j] for j in H36M17.joints), fallbacks)


def ear_fallbacks(l_ear: str, r_ear: str) -> tuple[Fallback, ...]:
    """Head from one visible ear (profile views); nose from mid-ears (back views). See the module docstring."""
    return (("head", 0.8, _one(l_ear)), ("head", 0.8, _one(r_ear)), ("neck", 0.5, _mid(l_ear, r_ear)))


_LOWER = dict(
    l_hip="left_hip", r_hip="right_hip", l_knee="left_knee", r_knee="right_knee",
    l_ankle="left_ankle", r_ankle="right_ankle", l_shoulder="left_shoulder", r_shoulder="right_shoulder",
    l_elbow="left_elbow", r_elbow="right_elbow", l_wrist="left_wrist", r_wrist="right_wrist", nose="nose",
)
_OPENPOSE = dict(
    l_hip="LHip", r_hip="RHip", l_knee="LKnee", r_knee="RKnee", l_ankle="LAnkle", r_ankle="RAnkle",
    l_shoulder="LShoulder", r_shoulder="RShoulder", l_elbow="LElbow", r_elbow="RElbow",
    l_wrist="LWrist", r_wrist="RWrist", nose="Nose",
)

_EARS = ear_fallbacks("left_ear", "right_ear")
_OP_EARS = ear_fallbacks("LEar", "REar")
COCO17_TO_H36M = h36m_map(COCO17, **_LOWER, head=_mid("left_ear", "right_ear"), fallbacks=_EARS)
BLAZEPOSE33_TO_H36M = h36m_map(BLAZEPOSE33, **_LOWER, head=_mid("left_ear", "right_ear"), fallbacks=_EARS)
BODY25_TO_H36M = h36m_map(BODY25, **_OPENPOSE, head=_mid("LEar", "REar"), fallbacks=_OP_EARS)
# BODY_25B has a head-top keypoint, but lift3d's head joint is the head centre for every source.
BODY25B_TO_H36M = h36m_map(BODY25B, **_OPENPOSE, head=_mid("LEar", "REar"), fallbacks=_OP_EARS)
H36M_IDENTITY = JointMap(H36M17, H36M17, tuple(_one(j) for j in H36M17.joints))

TO_H36M: dict[str, JointMap] = {
    m.source.name: m
    for m in (COCO17_TO_H36M, BLAZEPOSE33_TO_H36M, BODY25_TO_H36M, BODY25B_TO_H36M, H36M_IDENTITY)
}


def to_h36m(points, conf, source: str | Skeleton):
    """Map ``points (..., J, C)`` and ``conf (..., J)`` of a named format to the lifting skeleton."""
    name = source if isinstance(source, str) else source.name
    if name not in TO_H36M:
        raise InputError(f"no mapping from skeleton {name!r} to h36m17; known: {sorted(TO_H36M)}")
    return TO_H36M[name].apply(points, conf)
