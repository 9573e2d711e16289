"""Mocap skeleton tables: every staged file matches its table; mappings to H36M-17 are well formed."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.asf_amc import read_asf
from lift3d.io.bvh import read_bvh
from lift3d.paths import shared_data_dir
from lift3d.skeletons import H36M17
from lift3d.skeletons.mocap_tables import (
    ACCAD22, BVH_MAX, BVH_MB, CMU_ASF, DAZ, HEAD_CENTRE, MOCAP_TABLES, NOSE, check_hierarchy, match_bvh_table,
)

# Which table each folder's BVH files must match.
FOLDER_TABLE = {
    "cmu_mocap/bvh_mb": BVH_MB, "cmu_mocap/bvh_motionedit": BVH_MB, "cmu_mocap/bvh_mb_fbx_isaac": BVH_MB,
    "cmu_mocap/bvh_max": BVH_MAX, "cmu_mocap/bvh_daz_jaanga": DAZ, "cmu_mocap/bvh_daz_gpmat": DAZ,
    "cmu_mocap/bvh_daz_aclstm": DAZ, "cmu_salsa_daz/bvh_daz_scaled": DAZ, "accad_mocap/bvh_female1": ACCAD22,
    "accad_mocap/bvh_male1": ACCAD22, "accad_mocap/bvh_male2": ACCAD22,
}


def _bvh_folders() -> list[str]:
    root = shared_data_dir()
    return sorted({p.parent.relative_to(root).as_posix() for p in root.glob("*/*/*.bvh")}) if root.is_dir() else []


@pytest.mark.parametrize("table", list(MOCAP_TABLES.values()), ids=list(MOCAP_TABLES))
def test_table_well_formed(table):
    skel = table.skeleton
    assert skel.flip_permutation != tuple(range(skel.num_joints)), "no left/right pairs"
    perm = skel.flip_permutation
    for a, b in skel.lr_index_pairs:
        pa, pb = skel.parents[a], skel.parents[b]
        assert perm[pa] == pb, f"{skel.joints[a]}/{skel.joints[b]}: parents are neither shared nor mirrored"
    src = table.lifting_source
    assert src.joints[-2:] == (HEAD_CENTRE, NOSE)
    m = table.to_h36m
    assert m.target is H36M17 and m.matrix.shape == (17, skel.num_joints + 2)
    np.testing.assert_allclose(m.matrix.sum(1), 1.0)
    assert m.matrix[H36M17.index("neck"), src.index(NOSE)] == 1.0
    assert m.matrix[H36M17.index("head"), src.index(HEAD_CENTRE)] == 1.0


def test_roles_are_left_and_right():
    for table in MOCAP_TABLES.values():
        pairs = set(table.skeleton.lr_pairs)
        for joint in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            left, right = table.roles[f"l_{joint}"], table.roles[f"r_{joint}"]
            assert (left, right) in pairs, f"{table.name}: {left}/{right} are not a left/right pair"


@pytest.mark.parametrize("folder", _bvh_folders())
def test_every_bvh_matches_its_table(shared_data, folder):
    files = sorted((shared_data / folder).glob("*.bvh"))
    for path in files:
        m = read_bvh(path)
        assert match_bvh_table(m.names, m.parents, path) is FOLDER_TABLE[folder], path


def test_every_asf_matches_cmu_table(shared_data):
    files = sorted(shared_data.glob("cmu_mocap/asf_amc*/*.asf"))
    assert len(files) == 8
    for path in files:
        asf = read_asf(path)
        check_hierarchy(CMU_ASF, asf.names, asf.parents, path)


def test_0101_finger_alias(shared_data):
    """01_01.bvh names the finger joints LFingers/RFingers; the bvh_mb table takes it via aliases."""
    m = read_bvh(shared_data / "cmu_mocap/bvh_mb/01_01.bvh")
    assert "LFingers_end" in m.names
    assert match_bvh_table(m.names, m.parents) is BVH_MB


def test_mismatch_names_node_and_file():
    names = list(BVH_MB.skeleton.joints)
    names[3] = "LeftKnee"
    with pytest.raises(InputError, match=r"x\.bvh: node 3 is 'LeftKnee'"):
        check_hierarchy(BVH_MB, names, BVH_MB.skeleton.parents, "x.bvh")
    with pytest.raises(InputError, match="matches no known BVH skeleton"):
        match_bvh_table(names, BVH_MB.skeleton.parents, "x.bvh")
    with pytest.raises(InputError, match="nodes"):
        check_hierarchy(BVH_MB, names[:-1], BVH_MB.skeleton.parents[:-1])
