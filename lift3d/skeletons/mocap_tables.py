"""Skeleton tables of the motion-capture formats in ``shared/data`` and their mappings to the lifting skeleton.

Each :class:`MocapTable` lists the nodes of one file skeleton exactly as the files name and order them:
BVH joints with End Sites as ``<Parent>_end``, or for ASF/AMC the node ``root`` followed by the bones,
each bone standing for its *end* point (``lfemur`` = knee). :func:`check_hierarchy` / :func:`match_bvh_table`
compare a parsed file against the tables.

Mapping to H36M-17 (see :mod:`lift3d.skeletons.mapping` for what each lifting joint means). Hips, knees,
ankles, shoulders (the glenohumeral joint: ``LeftArm`` in ``bvh_mb``, ``lclavicle``'s end in ASF), elbows
and wrists are file joints (the table's ``roles``). The two head joints are not file joints; the clip
loader (:mod:`lift3d.mocap.loader`) computes them from forward kinematics and appends them to the node array
as ``head_centre`` and ``nose`` before the :class:`~lift3d.skeletons.mapping.JointMap` is applied:

``head`` = the head centre, which matches the detectors' mid-ears. It is a point fixed to the head,
``head_centre = P[head_base] + R[head_frame] @ c_local``:

- BVH with a head End Site (``bvh_mb``, ``bvh_max``, ``accad22``): a point on the segment from the Head
  joint to its End Site, ``c_local = head_end_fraction * end_offset``: the midpoint (0.5) for CMU; for ACCAD
  0.05, because its Head joint already sits at ear level (0.22-0.23 m above mid-shoulders, against
  0.10-0.15 m in CMU) and its End Site overshoots the head top (1.88 m for Male1, whose forehead marker is at
  1.84 m), so the midpoint would land near the forehead top. Four staged cgspeed files have a zero Head End Site; there the
  Head joint's own OFFSET (the upper neck, about as long as the CMU head bone) stands in for it.
- ASF/AMC: the midpoint of the ``head`` bone, ``c_local = length * direction / 2`` (``head_base`` is
  ``upperneck``, whose end is the head bone's start).
- Daz figure (no head top): the point on the head's up axis (the rest-pose neck->head direction) at eye
  height less 1.5 cm, since the ear canals sit about that far below the eye centres (Frankfort plane).

``neck`` = a virtual nose, also fixed to the head: ``nose = head_centre + R[head_frame] @ o_local`` with
``o_local = s * (0.10 m * f_local - 0.03 m * u_local)``. ``u_local`` is the head's local up,
``c_local / |c_local|``. ``f_local`` is the head-local forward direction, estimated per file as the mean
over frames of ``R_head(t)^T @ forward_world(t)``, orthogonalised against ``u_local``; the body forward is
``trunk_up x (right - left)`` from the hips and shoulders. ``s = |c_local| / typical_head_centre_m``
(clipped to [0.75, 1.33]) scales the offset by the subject's head size relative to a typical head on the
same skeleton convention. A detector's 2D nose is the projection of the same kind of point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from lift3d.errors import InputError
from lift3d.skeletons.mapping import JointMap, h36m_map
from lift3d.skeletons.skeleton import Skeleton

#: Names of the two computed head points appended to a table's nodes before mapping to H36M-17.
HEAD_CENTRE = "head_centre"
NOSE = "nose"

#: Head-centre rules (how ``c_local`` is found; see the module docstring).
HEAD_RULES = ("end_site", "asf_bone", "eyes")


def _tree(name: str, spec: Sequence[tuple[str, str | None]], lr_pairs=()) -> Skeleton:
    """A skeleton from ``[(node, parent_name_or_None), ...]``."""
    joints = tuple(j for j, _ in spec)
    index = {j: i for i, j in enumerate(joints)}
    return Skeleton(name, joints, tuple(-1 if p is None else index[p] for _, p in spec), tuple(lr_pairs))


def _pairs(joints: Sequence[str], left: str, right: str) -> list[tuple[str, str]]:
    """``(left, right)`` name pairs: every joint starting with ``left`` whose ``right`` twin exists."""
    names = set(joints)
    return [(j, right + j[len(left):]) for j in joints if j.startswith(left) and right + j[len(left):] in names]


@dataclass(frozen=True)
class MocapTable:
    """A file skeleton, the roles its joints play, and how its head points are found.

    Attributes:
        skeleton: the nodes as the files have them.
        roles: ``h36m_map`` limb roles (``l_hip`` ... ``r_wrist``) -> node name.
        head_base: node at the head joint (skull base) from which ``c_local`` is applied.
        head_frame: node whose global rotation is the head's.
        head_rule: one of :data:`HEAD_RULES`.
        typical_head_centre_m: ``|c_local|`` of a typical subject on this skeleton, metres (nose scaling).
        head_end_fraction: for ``head_rule == "end_site"``, how far along Head -> End Site the centre lies.
        eyes: eye nodes (``head_rule == "eyes"``).
        aliases: names some files use -> table names (End Sites follow their joint).
    """

    skeleton: Skeleton
    roles: dict[str, str]
    head_base: str
    head_frame: str
    head_rule: str
    typical_head_centre_m: float
    eyes: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    head_end_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.head_rule not in HEAD_RULES:
            raise ValueError(f"table {self.name}: head_rule {self.head_rule!r} not in {HEAD_RULES}")
        for n in (*self.roles.values(), self.head_base, self.head_frame, *self.eyes):
            self.skeleton.index(n)

    @property
    def name(self) -> str:
        return self.skeleton.name

    @cached_property
    def lifting_source(self) -> Skeleton:
        """The table's nodes plus ``head_centre`` and ``nose`` (children of ``head_frame``), in that order."""
        s = self.skeleton
        h = s.index(self.head_frame)
        return Skeleton(f"{s.name}+head", (*s.joints, HEAD_CENTRE, NOSE), (*s.parents, h, h), s.lr_pairs)

    @cached_property
    def to_h36m(self) -> JointMap:
        """Map of ``lifting_source`` points to H36M-17."""
        return h36m_map(self.lifting_source, **self.roles, nose=NOSE, head=((HEAD_CENTRE, 1.0),))

    def canonical(self, name: str) -> str:
        """The table's name for a file's node name (resolving aliases, also for ``<alias>_end``)."""
        if name in self.aliases:
            return self.aliases[name]
        base, sep, suffix = name.rpartition("_end")
        if sep and not suffix and base in self.aliases:
            return self.aliases[base] + "_end"
        return name


def check_hierarchy(table: MocapTable, names: Sequence[str], parents: Sequence[int], path=None) -> None:
    """Raise :class:`InputError` (naming ``path``) unless the parsed nodes equal ``table``'s, in order."""
    skel = table.skeleton
    names = [table.canonical(n) for n in names]
    if len(names) != skel.num_joints:
        raise InputError(
            f"skeleton has {len(names)} nodes, table {table.name} has {skel.num_joints}", path)
    for i, (n, p) in enumerate(zip(names, parents)):
        want_p = skel.parents[i]
        if n != skel.joints[i] or p != want_p:
            got_parent = names[p] if p >= 0 else None
            want_parent = skel.joints[want_p] if want_p >= 0 else None
            raise InputError(
                f"node {i} is {n!r} (parent {got_parent!r}); table {table.name} expects "
                f"{skel.joints[i]!r} (parent {want_parent!r})", path)


def match_bvh_table(names: Sequence[str], parents: Sequence[int], path=None) -> MocapTable:
    """The BVH table whose hierarchy the parsed file matches; :class:`InputError` listing why none does."""
    reasons = []
    for table in BVH_TABLES:
        try:
            check_hierarchy(table, names, parents)
        except InputError as e:
            reasons.append(f"{table.name}: {e.problem}")
        else:
            return table
    raise InputError("hierarchy matches no known BVH skeleton (" + "; ".join(reasons) + ")", path)


# ---------------------------------------------------------------------------------------------------------
# cgspeed's CMU BVH, MotionBuilder-friendly release (cmu_mocap/bvh_mb, bvh_motionedit, bvh_mb_fbx_isaac).
_BVH_MB = [
    ("Hips", None), ("LHipJoint", "Hips"), ("LeftUpLeg", "LHipJoint"), ("LeftLeg", "LeftUpLeg"),
    ("LeftFoot", "LeftLeg"), ("LeftToeBase", "LeftFoot"), ("LeftToeBase_end", "LeftToeBase"),
    ("RHipJoint", "Hips"), ("RightUpLeg", "RHipJoint"), ("RightLeg", "RightUpLeg"), ("RightFoot", "RightLeg"),
    ("RightToeBase", "RightFoot"), ("RightToeBase_end", "RightToeBase"),
    ("LowerBack", "Hips"), ("Spine", "LowerBack"), ("Spine1", "Spine"), ("Neck", "Spine1"), ("Neck1", "Neck"),
    ("Head", "Neck1"), ("Head_end", "Head"),
    ("LeftShoulder", "Spine1"), ("LeftArm", "LeftShoulder"), ("LeftForeArm", "LeftArm"), ("LeftHand", "LeftForeArm"),
    ("LeftFingerBase", "LeftHand"), ("LeftHandIndex1", "LeftFingerBase"), ("LeftHandIndex1_end", "LeftHandIndex1"),
    ("LThumb", "LeftHand"), ("LThumb_end", "LThumb"),
    ("RightShoulder", "Spine1"), ("RightArm", "RightShoulder"), ("RightForeArm", "RightArm"),
    ("RightHand", "RightForeArm"), ("RightFingerBase", "RightHand"), ("RightHandIndex1", "RightFingerBase"),
    ("RightHandIndex1_end", "RightHandIndex1"), ("RThumb", "RightHand"), ("RThumb_end", "RThumb"),
]
_BVH_MB_NAMES = [n for n, _ in _BVH_MB]

BVH_MB = MocapTable(
    skeleton=_tree(
        "bvh_mb", _BVH_MB,
        _pairs(_BVH_MB_NAMES, "Left", "Right") + [("LHipJoint", "RHipJoint"), ("LThumb", "RThumb"),
                                                   ("LThumb_end", "RThumb_end")]),
    roles=dict(l_hip="LeftUpLeg", r_hip="RightUpLeg", l_knee="LeftLeg", r_knee="RightLeg",
               l_ankle="LeftFoot", r_ankle="RightFoot", l_shoulder="LeftArm", r_shoulder="RightArm",
               l_elbow="LeftForeArm", r_elbow="RightForeArm", l_wrist="LeftHand", r_wrist="RightHand"),
    head_base="Head", head_frame="Head", head_rule="end_site",
    # Half the CMU ASF head bone (1.77 units of 0.0564 m, subject 1).
    typical_head_centre_m=0.050,
    # 01_01 (the older cgspeed release) names the finger joints as bvh_max does.
    aliases={"LFingers": "LeftHandIndex1", "RFingers": "RightHandIndex1"},
)

# The same release for 3dsMax (cmu_mocap/bvh_max): same topology and node order, other names.
_MB_TO_MAX = {
    "LeftUpLeg": "LeftHip", "LeftLeg": "LeftKnee", "LeftFoot": "LeftAnkle", "LeftToeBase": "LeftToe",
    "RightUpLeg": "RightHip", "RightLeg": "RightKnee", "RightFoot": "RightAnkle", "RightToeBase": "RightToe",
    "LowerBack": "lowerback", "Spine": "Chest", "Spine1": "Chest2", "Neck": "lowerneck", "Neck1": "Neck",
    "LeftShoulder": "LeftCollar", "LeftArm": "LeftShoulder", "LeftForeArm": "LeftElbow", "LeftHand": "LeftWrist",
    "LeftFingerBase": "lhand", "LeftHandIndex1": "LFingers",
    "RightShoulder": "RightCollar", "RightArm": "RightShoulder", "RightForeArm": "RightElbow",
    "RightHand": "RightWrist", "RightFingerBase": "rhand", "RightHandIndex1": "RFingers",
}


def _max_name(mb: str) -> str:
    base, sep, _ = mb.partition("_end")
    return _MB_TO_MAX.get(base, base) + sep


_BVH_MAX = [(_max_name(n), None if p is None else _max_name(p)) for n, p in _BVH_MB]
_BVH_MAX_NAMES = [n for n, _ in _BVH_MAX]

BVH_MAX = MocapTable(
    skeleton=_tree(
        "bvh_max", _BVH_MAX,
        _pairs(_BVH_MAX_NAMES, "Left", "Right") + [
            ("LHipJoint", "RHipJoint"), ("lhand", "rhand"), ("LFingers", "RFingers"),
            ("LFingers_end", "RFingers_end"), ("LThumb", "RThumb"), ("LThumb_end", "RThumb_end")]),
    roles=dict(l_hip="LeftHip", r_hip="RightHip", l_knee="LeftKnee", r_knee="RightKnee",
               l_ankle="LeftAnkle", r_ankle="RightAnkle", l_shoulder="LeftShoulder", r_shoulder="RightShoulder",
               l_elbow="LeftElbow", r_elbow="RightElbow", l_wrist="LeftWrist", r_wrist="RightWrist"),
    head_base="Head", head_frame="Head", head_rule="end_site", typical_head_centre_m=0.050,
)

# ---------------------------------------------------------------------------------------------------------
# CMU ASF/AMC: node "root" then the 30 bones in :bonedata order; each bone node is the bone's end.
_CMU_ASF = [
    ("root", None), ("lhipjoint", "root"), ("lfemur", "lhipjoint"), ("ltibia", "lfemur"), ("lfoot", "ltibia"),
    ("ltoes", "lfoot"), ("rhipjoint", "root"), ("rfemur", "rhipjoint"), ("rtibia", "rfemur"), ("rfoot", "rtibia"),
    ("rtoes", "rfoot"), ("lowerback", "root"), ("upperback", "lowerback"), ("thorax", "upperback"),
    ("lowerneck", "thorax"), ("upperneck", "lowerneck"), ("head", "upperneck"),
    ("lclavicle", "thorax"), ("lhumerus", "lclavicle"), ("lradius", "lhumerus"), ("lwrist", "lradius"),
    ("lhand", "lwrist"), ("lfingers", "lhand"), ("lthumb", "lwrist"),
    ("rclavicle", "thorax"), ("rhumerus", "rclavicle"), ("rradius", "rhumerus"), ("rwrist", "rradius"),
    ("rhand", "rwrist"), ("rfingers", "rhand"), ("rthumb", "rwrist"),
]

CMU_ASF = MocapTable(
    skeleton=_tree("cmu_asf", _CMU_ASF, _pairs([n for n, _ in _CMU_ASF], "l", "r")),
    # Bone ends: hip = end of lhipjoint, knee = end of lfemur, ankle = end of ltibia, shoulder = end of
    # lclavicle, elbow = end of lhumerus, wrist = end of lradius.
    roles=dict(l_hip="lhipjoint", r_hip="rhipjoint", l_knee="lfemur", r_knee="rfemur",
               l_ankle="ltibia", r_ankle="rtibia", l_shoulder="lclavicle", r_shoulder="rclavicle",
               l_elbow="lhumerus", r_elbow="rhumerus", l_wrist="lradius", r_wrist="rradius"),
    head_base="upperneck", head_frame="head", head_rule="asf_bone", typical_head_centre_m=0.050,
)

# ---------------------------------------------------------------------------------------------------------
# cgspeed's Daz/Poser-friendly release: one fixed figure for every subject (cmu_mocap/bvh_daz_*,
# cmu_salsa_daz). Arms come before legs; each hand has two-joint thumb, index, mid, ring and pinky.
_FINGERS = ("Thumb", "Index", "Mid", "Ring", "Pinky")


def _daz_arm(s: str) -> list[tuple[str, str]]:
    out = [(f"{s}Collar", "chest"), (f"{s}Shldr", f"{s}Collar"), (f"{s}ForeArm", f"{s}Shldr"),
           (f"{s}Hand", f"{s}ForeArm")]
    for f in _FINGERS:
        out += [(f"{s}{f}1", f"{s}Hand"), (f"{s}{f}2", f"{s}{f}1"), (f"{s}{f}2_end", f"{s}{f}2")]
    return out


def _daz_leg(s: str) -> list[tuple[str, str]]:
    return [(f"{s}Buttock", "hip"), (f"{s}Thigh", f"{s}Buttock"), (f"{s}Shin", f"{s}Thigh"),
            (f"{s}Foot", f"{s}Shin"), (f"{s}Foot_end", f"{s}Foot")]


_DAZ = [
    ("hip", None), ("abdomen", "hip"), ("chest", "abdomen"), ("neck", "chest"), ("head", "neck"),
    ("leftEye", "head"), ("leftEye_end", "leftEye"), ("rightEye", "head"), ("rightEye_end", "rightEye"),
    *_daz_arm("r"), *_daz_arm("l"), *_daz_leg("r"), *_daz_leg("l"),
]
_DAZ_NAMES = [n for n, _ in _DAZ]

DAZ = MocapTable(
    skeleton=_tree("daz", _DAZ, _pairs(_DAZ_NAMES, "l", "r") + [("leftEye", "rightEye"),
                                                                 ("leftEye_end", "rightEye_end")]),
    roles=dict(l_hip="lThigh", r_hip="rThigh", l_knee="lShin", r_knee="rShin", l_ankle="lFoot", r_ankle="rFoot",
               l_shoulder="lShldr", r_shoulder="rShldr", l_elbow="lForeArm", r_elbow="rForeArm",
               l_wrist="lHand", r_wrist="rHand"),
    head_base="head", head_frame="head", head_rule="eyes", eyes=("leftEye", "rightEye"),
    # The figure's own value (one figure for everyone): eye height above the head joint less 1.5 cm.
    typical_head_centre_m=0.078,
)

# ---------------------------------------------------------------------------------------------------------
# ACCAD Open Motion Project (accad_mocap): 22 joints, 5 End Sites, legs after arms.
_ACCAD = [
    ("Hips", None), ("ToSpine", "Hips"), ("Spine", "ToSpine"), ("Spine1", "Spine"), ("Neck", "Spine1"),
    ("Head", "Neck"), ("Head_end", "Head"),
    ("LeftShoulder", "Spine1"), ("LeftArm", "LeftShoulder"), ("LeftForeArm", "LeftArm"), ("LeftHand", "LeftForeArm"),
    ("LeftHand_end", "LeftHand"),
    ("RightShoulder", "Spine1"), ("RightArm", "RightShoulder"), ("RightForeArm", "RightArm"),
    ("RightHand", "RightForeArm"), ("RightHand_end", "RightHand"),
    ("LeftUpLeg", "Hips"), ("LeftLeg", "LeftUpLeg"), ("LeftFoot", "LeftLeg"), ("LeftToeBase", "LeftFoot"),
    ("LeftToeBase_end", "LeftToeBase"),
    ("RightUpLeg", "Hips"), ("RightLeg", "RightUpLeg"), ("RightFoot", "RightLeg"), ("RightToeBase", "RightFoot"),
    ("RightToeBase_end", "RightToeBase"),
]

ACCAD22 = MocapTable(
    skeleton=_tree("accad22", _ACCAD, _pairs([n for n, _ in _ACCAD], "Left", "Right")),
    roles=dict(BVH_MB.roles),
    head_base="Head", head_frame="Head", head_rule="end_site", head_end_fraction=0.05,
    # 0.05 of the Male1/Male2 head End Site (16.65 cm); ACCAD's head joint sits at ear level.
    typical_head_centre_m=0.05 * 0.1665,
)

#: Tables a BVH file is matched against, in order.
BVH_TABLES: tuple[MocapTable, ...] = (BVH_MB, BVH_MAX, DAZ, ACCAD22)
#: Every mocap table by name.
MOCAP_TABLES: dict[str, MocapTable] = {t.name: t for t in (*BVH_TABLES, CMU_ASF)}
