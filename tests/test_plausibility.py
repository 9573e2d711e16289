"""Plausibility measures on real mocap (cmu:131) and on the same motion made implausible."""

import numpy as np
import pytest

from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
from lift3d.data.mocap_h5 import read_multiview_h5
from lift3d.plausibility import (ANGLE_NAMES, angle_limits, angle_violations, bone_length_std, foot_contacts,
                                 foot_skating, joint_angles)
from lift3d.skeletons import H36M17


@pytest.fixture(scope="module")
def motion(shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("pl") / "m.h5"
    build_mocap_dataset(BuildMocapConfig(views=1, subjects=["cmu:131", "cmu:11"], datasets=["cmu_mocap"]), path,
                        data_dir=shared_data, progress=False)
    return [s.pose3d_world_m.astype(np.float64) for s in read_multiview_h5(path)], read_multiview_h5(path)[0].fps


def test_real_mocap_has_rigid_bones_and_stays_in_its_own_limits(motion):
    seqs, _ = motion
    limbs = [k for k, (_, c) in enumerate(H36M17.bones)
             if H36M17.joints[c].split("_")[-1] in ("knee", "ankle", "elbow", "wrist")]
    # Limb bones are rigid in the mocap (< 1 cm); the synthesised spine and neck are not (midpoints of markers).
    assert all(bone_length_std(p)[limbs].max() < 0.01 for p in seqs)
    limits = angle_limits(seqs, quantile=0.0)
    assert limits.shape == (len(ANGLE_NAMES), 2)
    assert all(angle_violations(p, limits) == 0 for p in seqs)


def test_a_knee_bent_backwards_and_stretching_bones_are_caught(motion):
    seqs, _ = motion
    limits = angle_limits(seqs)
    p = seqs[0].copy()
    r_hip, r_knee, r_ankle = (H36M17.joints.index(j) for j in ("r_hip", "r_knee", "r_ankle"))
    signed = joint_angles(p)[:, ANGLE_NAMES.index("r_knee_signed")]
    # mirror the ankle through the thigh line: the knee bends the other way
    thigh = p[:, r_knee] - p[:, r_hip]
    u = thigh / np.linalg.norm(thigh, axis=-1, keepdims=True)
    shin = p[:, r_ankle] - p[:, r_knee]
    along = (shin * u).sum(-1, keepdims=True) * u
    p[:, r_ankle] = p[:, r_knee] + 2 * along - shin
    flipped = joint_angles(p)[:, ANGLE_NAMES.index("r_knee_signed")]
    bent = np.abs(signed) > 0.3
    assert np.all(np.sign(flipped[bent]) != np.sign(signed[bent]))
    assert angle_violations(p, limits) > angle_violations(seqs[0], limits)
    stretched = seqs[0] * (1 + 0.1 * np.sin(np.arange(len(seqs[0])))[:, None, None])
    assert bone_length_std(stretched).mean() > 0.01


def test_foot_skating_zero_for_the_reference_and_grows_when_feet_slide(motion):
    seqs, fps = motion
    p = seqs[0]
    contacts = foot_contacts(p, fps)
    assert contacts.any()
    base = foot_skating(p, contacts)
    assert base < 0.003  # the mocap's own feet barely move while planted (m per frame)
    slid = p.copy()
    slid[:, :, 0] += 0.01 * np.arange(len(p))[:, None]  # everything drifts 1 cm per frame
    assert foot_skating(slid, contacts) == pytest.approx(base + 0.01, abs=0.003)
