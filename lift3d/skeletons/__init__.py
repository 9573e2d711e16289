"""Skeleton tables and mappings between formats."""

from lift3d.skeletons.mapping import TO_H36M, JointMap, h36m_map, to_h36m
from lift3d.skeletons.skeleton import Skeleton
from lift3d.skeletons.tables import BLAZEPOSE33, BODY25, BODY25B, COCO17, H36M17

__all__ = [
    "BLAZEPOSE33", "BODY25", "BODY25B", "COCO17", "H36M17", "JointMap", "Skeleton", "TO_H36M",
    "h36m_map", "to_h36m",
]
