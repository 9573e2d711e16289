"""Skeletons as data: joint names, a kinematic tree, left/right pairs.

A :class:`Skeleton` is an immutable table. Losses, exports, renderers and format mappings take one instead
of hard-coding joint indices. The tables themselves live in :mod:`lift3d.skeletons.tables` (2D detector
formats and the lifting skeleton) and :mod:`lift3d.skeletons.mocap_tables` (motion-capture skeletons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class Skeleton:
    """A named joint set with a kinematic tree.

    Attributes:
        name: short identifier, e.g. ``"h36m17"``.
        joints: joint names in the format's own order.
        parents: index of each joint's parent, ``-1`` for the root. Exactly one root.
        lr_pairs: ``(left_name, right_name)`` pairs swapped by a horizontal flip.
        extra_bones: drawing/limb edges that are not tree edges (e.g. shoulder-hip in COCO), by name.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    lr_pairs: tuple[tuple[str, str], ...] = ()
    extra_bones: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            raise ValueError(f"skeleton {self.name}: {len(self.joints)} joints but {len(self.parents)} parents")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"skeleton {self.name}: duplicate joint names")
        roots = [i for i, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"skeleton {self.name}: expected one root, found {len(roots)}")
        for i, p in enumerate(self.parents):
            if not -1 <= p < len(self.joints) or p == i:
                raise ValueError(f"skeleton {self.name}: joint {self.joints[i]} has invalid parent {p}")
        # Every joint must reach the root (no cycles).
        for i in range(len(self.joints)):
            seen, j = set(), i
            while j != -1:
                if j in seen:
                    raise ValueError(f"skeleton {self.name}: cycle through joint {self.joints[i]}")
                seen.add(j)
                j = self.parents[j]
        for a, b in (*self.lr_pairs, *self.extra_bones):
            for n in (a, b):
                if n not in self.joints:
                    raise ValueError(f"skeleton {self.name}: pair names unknown joint {n!r}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    def index(self, name: str) -> int:
        """Index of a joint by name; ``KeyError`` naming the skeleton if absent."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"skeleton {self.name} has no joint {name!r}") from None

    @cached_property
    def _index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.joints)}

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """``(parent, child)`` index pairs of the kinematic tree, in joint order."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p != -1)

    @cached_property
    def draw_bones(self) -> tuple[tuple[int, int], ...]:
        """Tree bones plus ``extra_bones``, for drawing."""
        return self.bones + tuple((self.index(a), self.index(b)) for a, b in self.extra_bones)

    @cached_property
    def lr_index_pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple((self.index(a), self.index(b)) for a, b in self.lr_pairs)

    @cached_property
    def flip_permutation(self) -> tuple[int, ...]:
        """Index permutation that swaps left and right joints (for horizontal-flip augmentation)."""
        perm = list(range(self.num_joints))
        for a, b in self.lr_index_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    @cached_property
    def outward_bones(self) -> tuple[int, ...]:
        """Indices into :attr:`bones` ordered outwards from the root: a bone's parent joint is the root or the
        child of an earlier bone, whatever the joint order."""
        depth = [0] * self.num_joints
        for j in range(self.num_joints):
            p = self.parents[j]
            while p != -1:
                depth[j] += 1
                p = self.parents[p]
        return tuple(sorted(range(len(self.bones)), key=lambda k: depth[self.bones[k][1]]))

    def scale_bones(self, pose, scale):
        """A numpy ``pose (..., J, 3)`` rebuilt outwards from the root with each bone's vector (parent to child,
        :attr:`bones`) multiplied by its factor: directions kept, the root in place. ``scale (..., B)`` holds
        bone ``k``'s factor at ``[..., k]`` and broadcasts over the leading axes (one factor per bone, or per
        frame and bone)."""
        out = pose.copy()
        for k in self.outward_bones:
            p, c = self.bones[k]
            out[..., c, :] = out[..., p, :] + scale[..., k, None] * (pose[..., c, :] - pose[..., p, :])
        return out

    @cached_property
    def symmetric_bones(self) -> tuple[tuple[int, int], ...]:
        """Pairs of bone indices (into :attr:`bones`) that mirror each other, for bone-symmetry losses."""
        perm = self.flip_permutation
        bone_id = {b: k for k, b in enumerate(self.bones)}
        pairs = []
        for k, (p, c) in enumerate(self.bones):
            mirror = bone_id.get((perm[p], perm[c]))
            if mirror is not None and k < mirror:
                pairs.append((k, mirror))
        return tuple(pairs)
