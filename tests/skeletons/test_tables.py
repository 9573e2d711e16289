import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.skeletons import BLAZEPOSE33, BODY25, BODY25B, COCO17, H36M17, TO_H36M, Skeleton, to_h36m
from lift3d.skeletons.mapping import JointMap

ALL = [H36M17, COCO17, BLAZEPOSE33, BODY25, BODY25B]


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_tree_and_pairs(sk: Skeleton):
    assert len(sk.bones) == sk.num_joints - 1
    perm = sk.flip_permutation
    assert sorted(perm) == list(range(sk.num_joints))
    assert all(perm[perm[i]] == i for i in range(sk.num_joints)), "flip must be an involution"
    for a, b in sk.lr_index_pairs:
        na, nb = sk.joints[a].lower(), sk.joints[b].lower()
        assert _side(na) == "l" and _side(nb) == "r", (na, nb)


def _side(name: str) -> str:
    if name.endswith("_left"):
        return "l"
    if name.endswith("_right"):
        return "r"
    return name[0]


def test_h36m_standard_order():
    assert H36M17.joints == (
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax", "neck",
        "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    )
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert len(H36M17.symmetric_bones) == 6  # hip, thigh, shin, clavicle, upper arm, forearm


def test_scale_bones_rebuilds_outwards_whatever_the_joint_order():
    # A chain listed leaf first: c (child of b), b (child of a), a (root).
    sk = Skeleton("chain", ("c", "b", "a"), (1, 2, -1))
    assert sk.bones == ((1, 0), (2, 1)) and sk.outward_bones == (1, 0)
    pose = np.array([[[0.0, 0.0, 3.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]],
                     [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])  # (T=2, J=3, 3)
    out = sk.scale_bones(pose, np.array([[0.5, 2.0], [1.0, 3.0]]))  # per frame: bone b->c, then a->b
    np.testing.assert_allclose(out[0], [[0.0, 0.0, 3.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(out[1], [[1.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(sk.scale_bones(pose, np.ones(2)), pose)  # one factor per bone, all frames
    for sk in (H36M17, COCO17, BLAZEPOSE33):  # every bone starts at the root or at a joint already placed
        placed = {sk.root}
        for k in sk.outward_bones:
            p, c = sk.bones[k]
            assert p in placed
            placed.add(c)
        assert sorted(sk.outward_bones) == list(range(len(sk.bones)))


def test_skeleton_rejects_bad_tables():
    with pytest.raises(ValueError, match="one root"):
        Skeleton("x", ("a", "b"), (-1, -1))
    with pytest.raises(ValueError, match="cycle"):
        Skeleton("x", ("a", "b", "c"), (-1, 2, 1))
    with pytest.raises(ValueError, match="unknown joint"):
        Skeleton("x", ("a", "b"), (-1, 0), lr_pairs=(("a", "zz"),))


@pytest.mark.parametrize("name", sorted(TO_H36M))
def test_mapping_is_affine_and_named(name):
    m = TO_H36M[name]
    np.testing.assert_allclose(m.matrix.sum(axis=1), 1.0)
    # Translating the source translates the target by the same amount (affine combination).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, m.source.num_joints, 3))
    y, _ = m.apply(x)
    y2, _ = m.apply(x + np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(y2 - y, np.broadcast_to([1.0, -2.0, 3.0], y.shape), atol=1e-12)


def test_coco_synthesis_known_answer():
    kp = np.zeros((1, 17, 2))
    conf = np.ones((1, 17))
    idx = COCO17.index
    kp[0, idx("left_hip")] = [10, 100]
    kp[0, idx("right_hip")] = [30, 100]
    kp[0, idx("left_shoulder")] = [0, 40]
    kp[0, idx("right_shoulder")] = [40, 40]
    kp[0, idx("nose")] = [20, 20]
    kp[0, idx("left_ear")] = [15, 18]
    kp[0, idx("right_ear")] = [25, 22]
    conf[0, idx("right_hip")] = 0.3
    out, c = to_h36m(kp, conf, "coco17")
    h = H36M17.index
    np.testing.assert_allclose(out[0, h("pelvis")], [20, 100])
    np.testing.assert_allclose(out[0, h("thorax")], [20, 40])
    np.testing.assert_allclose(out[0, h("spine")], [20, 70])
    np.testing.assert_allclose(out[0, h("neck")], [20, 20])
    np.testing.assert_allclose(out[0, h("head")], [20, 20])
    np.testing.assert_allclose(out[0, h("r_hip")], [30, 100])
    # A synthesised joint is only as confident as its weakest source.
    assert c[0, h("pelvis")] == pytest.approx(0.3)
    assert c[0, h("spine")] == pytest.approx(0.3)
    assert c[0, h("thorax")] == pytest.approx(1.0)


def test_left_right_roles_of_every_format():
    """Each format's left hip maps to the lifting skeleton's left hip (no silent swaps)."""
    h = H36M17.index
    for m in TO_H36M.values():
        for side, other in (("l", "r"), ("r", "l")):
            for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
                (src, w), = m.recipes[h(f"{side}_{part}")]
                low = src.lower()
                assert low.startswith(side) and not low.startswith(other), (m.source.name, part, src)


def test_torch_and_numpy_agree():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 33, 2))
    c = rng.uniform(size=(2, 3, 33))
    a, ca = to_h36m(x, c, BLAZEPOSE33)
    b, cb = to_h36m(torch.from_numpy(x), torch.from_numpy(c), BLAZEPOSE33)
    np.testing.assert_allclose(a, b.numpy(), atol=1e-12)
    np.testing.assert_allclose(ca, cb.numpy(), atol=1e-12)


def test_wrong_joint_count_is_an_error():
    with pytest.raises(InputError, match="expected 25 joints of body25b"):
        to_h36m(np.zeros((4, 17, 2)), None, "body25b")
    with pytest.raises(InputError, match="no mapping"):
        to_h36m(np.zeros((4, 17, 2)), None, "nope")


def test_jointmap_validates_recipes():
    with pytest.raises(ValueError, match="sum to 1"):
        JointMap(COCO17, H36M17, tuple(((COCO17.joints[0], 0.5),) for _ in range(17)))


def test_fallbacks_profile_and_back_views():
    idx, h = COCO17.index, H36M17.index
    kp = np.zeros((3, 17, 2))
    conf = np.full((3, 17), 0.9)
    kp[:, idx("left_ear")] = [10, 0]
    kp[:, idx("right_ear")] = [14, 0]
    kp[:, idx("nose")] = [30, 5]
    conf[1, idx("right_ear")] = 0.0  # frame 1: profile, right ear hidden
    conf[2, idx("nose")] = 0.05  # frame 2: seen from behind, nose hidden
    out, c = to_h36m(kp, conf, "coco17")
    np.testing.assert_allclose(out[0, h("head")], [12, 0])  # both ears: mid-ears, full confidence
    assert c[0, h("head")] == pytest.approx(0.9)
    np.testing.assert_allclose(out[1, h("head")], [10, 0])  # the visible ear, discounted
    assert c[1, h("head")] == pytest.approx(0.72)
    np.testing.assert_allclose(out[2, h("neck")], [12, 0])  # hidden nose: mid-ears, discounted
    assert c[2, h("neck")] == pytest.approx(0.45)
    np.testing.assert_allclose(out[0, h("neck")], [30, 5])
    t_out, t_c = to_h36m(torch.from_numpy(kp), torch.from_numpy(conf), "coco17")
    np.testing.assert_allclose(t_out.numpy(), out)
    np.testing.assert_allclose(t_c.numpy(), c)
