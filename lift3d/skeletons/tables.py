"""Skeleton tables of the lifting skeleton and the 2D detector formats.

Sources for the joint orders: Human3.6M's 17-joint subset as used by VideoPose3D; COCO keypoints (and MoveNet,
which uses the same 17); MediaPipe BlazePose's 33 pose landmarks; OpenPose's BODY_25 and BODY_25B output
(the latter as written in ``shared/data/pose2sim_demo/SOURCE.md``). Parents give a kinematic tree for each;
where a format's natural skeleton is a graph (COCO, BlazePose), the tree is a spanning tree and the remaining
edges are ``extra_bones``.
"""

from __future__ import annotations

from lift3d.skeletons.skeleton import Skeleton


def _tree(name, spec, lr_pairs=(), extra_bones=()) -> Skeleton:
    """Build a skeleton from ``[(joint, parent_name_or_None), ...]``."""
    joints = tuple(j for j, _ in spec)
    index = {j: i for i, j in enumerate(joints)}
    parents = tuple(-1 if p is None else index[p] for _, p in spec)
    return Skeleton(name, joints, parents, tuple(lr_pairs), tuple(extra_bones))


# The lifting skeleton. Joint meanings as lift3d defines them for every source, so that 2D from any detector
# and 3D from any mocap format agree (see lift3d.skeletons.mapping):
#   pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax), neck = nose, head = head centre
#   (mid-ears for detectors; the skull centre for mocap).
H36M17 = _tree(
    "h36m17",
    [
        ("pelvis", None),
        ("r_hip", "pelvis"),
        ("r_knee", "r_hip"),
        ("r_ankle", "r_knee"),
        ("l_hip", "pelvis"),
        ("l_knee", "l_hip"),
        ("l_ankle", "l_knee"),
        ("spine", "pelvis"),
        ("thorax", "spine"),
        ("neck", "thorax"),
        ("head", "neck"),
        ("l_shoulder", "thorax"),
        ("l_elbow", "l_shoulder"),
        ("l_wrist", "l_elbow"),
        ("r_shoulder", "thorax"),
        ("r_elbow", "r_shoulder"),
        ("r_wrist", "r_elbow"),
    ],
    lr_pairs=[
        ("l_hip", "r_hip"), ("l_knee", "r_knee"), ("l_ankle", "r_ankle"),
        ("l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist"),
    ],
)

COCO17 = _tree(
    "coco17",
    [
        ("nose", None),
        ("left_eye", "nose"),
        ("right_eye", "nose"),
        ("left_ear", "left_eye"),
        ("right_ear", "right_eye"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
    ],
    lr_pairs=[
        ("left_eye", "right_eye"), ("left_ear", "right_ear"), ("left_shoulder", "right_shoulder"),
        ("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"), ("left_hip", "right_hip"),
        ("left_knee", "right_knee"), ("left_ankle", "right_ankle"),
    ],
    extra_bones=[("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")],
)

_BLAZE_SIDES = [
    ("eye_inner", "eye"), ("eye", None), ("eye_outer", "eye"), ("ear", "eye_outer"), ("mouth", None),
    ("shoulder", None), ("elbow", "shoulder"), ("wrist", "elbow"), ("pinky", "wrist"), ("index", "wrist"),
    ("thumb", "wrist"), ("hip", "shoulder"), ("knee", "hip"), ("ankle", "knee"), ("heel", "ankle"),
    ("foot_index", "ankle"),
]

BLAZEPOSE33 = _tree(
    "blazepose33",
    [
        ("nose", None),
        ("left_eye_inner", "nose"),
        ("left_eye", "left_eye_inner"),
        ("left_eye_outer", "left_eye"),
        ("right_eye_inner", "nose"),
        ("right_eye", "right_eye_inner"),
        ("right_eye_outer", "right_eye"),
        ("left_ear", "left_eye_outer"),
        ("right_ear", "right_eye_outer"),
        ("mouth_left", "nose"),
        ("mouth_right", "nose"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_pinky", "left_wrist"),
        ("right_pinky", "right_wrist"),
        ("left_index", "left_wrist"),
        ("right_index", "right_wrist"),
        ("left_thumb", "left_wrist"),
        ("right_thumb", "right_wrist"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("left_heel", "left_ankle"),
        ("right_heel", "right_ankle"),
        ("left_foot_index", "left_ankle"),
        ("right_foot_index", "right_ankle"),
    ],
    lr_pairs=[(f"left_{s}", f"right_{s}") for s, _ in _BLAZE_SIDES if s != "mouth"] + [("mouth_left", "mouth_right")],
    extra_bones=[
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("mouth_left", "mouth_right"),
        ("left_pinky", "left_index"), ("right_pinky", "right_index"),
        ("left_heel", "left_foot_index"), ("right_heel", "right_foot_index"),
    ],
)

BODY25 = _tree(
    "body25",
    [
        ("Nose", "Neck"),
        ("Neck", "MidHip"),
        ("RShoulder", "Neck"),
        ("RElbow", "RShoulder"),
        ("RWrist", "RElbow"),
        ("LShoulder", "Neck"),
        ("LElbow", "LShoulder"),
        ("LWrist", "LElbow"),
        ("MidHip", None),
        ("RHip", "MidHip"),
        ("RKnee", "RHip"),
        ("RAnkle", "RKnee"),
        ("LHip", "MidHip"),
        ("LKnee", "LHip"),
        ("LAnkle", "LKnee"),
        ("REye", "Nose"),
        ("LEye", "Nose"),
        ("REar", "REye"),
        ("LEar", "LEye"),
        ("LBigToe", "LAnkle"),
        ("LSmallToe", "LBigToe"),
        ("LHeel", "LAnkle"),
        ("RBigToe", "RAnkle"),
        ("RSmallToe", "RBigToe"),
        ("RHeel", "RAnkle"),
    ],
    lr_pairs=[
        ("LShoulder", "RShoulder"), ("LElbow", "RElbow"), ("LWrist", "RWrist"), ("LHip", "RHip"),
        ("LKnee", "RKnee"), ("LAnkle", "RAnkle"), ("LEye", "REye"), ("LEar", "REar"),
        ("LBigToe", "RBigToe"), ("LSmallToe", "RSmallToe"), ("LHeel", "RHeel"),
    ],
)

BODY25B = _tree(
    "body25b",
    [
        ("Nose", "Neck"),
        ("LEye", "Nose"),
        ("REye", "Nose"),
        ("LEar", "LEye"),
        ("REar", "REye"),
        ("LShoulder", "Neck"),
        ("RShoulder", "Neck"),
        ("LElbow", "LShoulder"),
        ("RElbow", "RShoulder"),
        ("LWrist", "LElbow"),
        ("RWrist", "RElbow"),
        ("LHip", "Neck"),
        ("RHip", "Neck"),
        ("LKnee", "LHip"),
        ("RKnee", "RHip"),
        ("LAnkle", "LKnee"),
        ("RAnkle", "RKnee"),
        ("Neck", None),
        ("Head", "Neck"),
        ("LBigToe", "LAnkle"),
        ("LSmallToe", "LBigToe"),
        ("LHeel", "LAnkle"),
        ("RBigToe", "RAnkle"),
        ("RSmallToe", "RBigToe"),
        ("RHeel", "RAnkle"),
    ],
    lr_pairs=[
        ("LEye", "REye"), ("LEar", "REar"), ("LShoulder", "RShoulder"), ("LElbow", "RElbow"),
        ("LWrist", "RWrist"), ("LHip", "RHip"), ("LKnee", "RKnee"), ("LAnkle", "RAnkle"),
        ("LBigToe", "RBigToe"), ("LSmallToe", "RSmallToe"), ("LHeel", "RHeel"),
    ],
    extra_bones=[("LHip", "RHip")],
)
