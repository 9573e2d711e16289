from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import (
    CameraSet,
    decompose_essential,
    essential_from_fundamental,
    essential_from_pose,
    estimate_relative_pose,
    fundamental_from_essential,
    fundamental_from_points,
    matrix_to_axis_angle,
    pixels_to_normalized,
    recover_pose,
    sampson_distance,
    symmetric_epipolar_distance,
    world_to_camera,
)

D = torch.float64


def rotation_angle_deg(R1: torch.Tensor, R2: torch.Tensor) -> float:
    return math.degrees(matrix_to_axis_angle(R1.mT @ R2).norm().item())


def direction_angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.degrees(math.atan2(torch.linalg.cross(a, b).norm().item(), (a @ b).item()))


def two_views(cams: CameraSet, n: int = 60, noise_px: float = 0.0, seed: int = 0):
    """Undistorted pixels ``(n, 2)`` of scene points seen by cameras 0 and 1 of ``cams``, and their relative pose.

    The points fill a 4 x 4 x 3 m room around the ring's centre (kept where they land in both images at
    more than 0.5 m depth): a wide field of view, without which rotation and translation are ill-separated
    (even the optimal estimate is off by ~1 degree at 0.5 px noise with a body-sized cloud).
    """
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(4 * n, 3, dtype=D, generator=g) * torch.tensor([4.0, 4.0, 3.0], dtype=D)
    pts = pts - torch.tensor([2.0, 2.0, 0.0], dtype=D)
    px = cams.undistort(cams.project(pts))[:2]  # (2, 4n, 2)
    inside = ((px >= 0) & (px <= cams.image_size[:2, None])).all(-1).all(0)
    inside &= (world_to_camera(pts, cams.R[:2], cams.t[:2])[..., 2] > 0.5).all(0)
    assert inside.sum() >= n
    px = px[:, inside][:, :n]
    px = px + noise_px * torch.randn(px.shape, dtype=D, generator=g)
    R_rel = cams.R[1] @ cams.R[0].mT  # camera 0 -> camera 1
    t_rel = cams.t[1] - R_rel @ cams.t[0]
    return px[0], px[1], R_rel, t_rel


def true_fundamental(cams: CameraSet) -> torch.Tensor:
    _, _, R, t = two_views(cams, n=8)
    F = fundamental_from_essential(essential_from_pose(R, t), cams.K[0], cams.K[1])
    return F / F.norm()


def same_up_to_scale(A: torch.Tensor, B: torch.Tensor) -> float:
    a, b = A.flatten() / A.norm(), B.flatten() / B.norm()
    return min((a - b).norm().item(), (a + b).norm().item())


def test_fundamental_exact_on_noise_free_points(ring_pinhole):
    x1, x2, _, _ = two_views(ring_pinhole)
    F = fundamental_from_points(x1, x2)
    assert same_up_to_scale(F, true_fundamental(ring_pinhole)) < 1e-8
    assert abs(torch.linalg.det(F).item()) < 1e-15  # rank 2
    assert sampson_distance(x1, x2, F).max() < 1e-16


def test_fundamental_from_noisy_points_small_sampson_and_matches_cv2(ring_pinhole):
    x1, x2, _, _ = two_views(ring_pinhole, n=100, noise_px=0.5, seed=1)
    F = fundamental_from_points(x1, x2)
    assert torch.linalg.matrix_rank(F).item() == 2
    sampson = sampson_distance(x1, x2, F, squared=False)
    assert sampson.mean() < 1.0  # px, for 0.5 px noise per coordinate
    F_cv, _ = cv2.findFundamentalMat(x1.numpy(), x2.numpy(), cv2.FM_8POINT)
    assert same_up_to_scale(F, torch.from_numpy(F_cv)) < 1e-6
    # The true F explains the same noisy data about as well: the estimate is not overfitting wildly.
    sampson_true = sampson_distance(x1, x2, true_fundamental(ring_pinhole), squared=False)
    assert sampson.mean() < sampson_true.mean() < 2 * sampson.mean()


def test_zero_weights_remove_outliers(ring_pinhole):
    x1, x2, _, _ = two_views(ring_pinhole, n=40)
    x2 = x2.clone()
    x2[:6] += 50.0
    w = torch.ones(40, dtype=D)
    w[:6] = 0
    assert same_up_to_scale(fundamental_from_points(x1, x2, w), true_fundamental(ring_pinhole)) < 1e-8
    assert same_up_to_scale(fundamental_from_points(x1, x2), true_fundamental(ring_pinhole)) > 1e-3


def test_sampson_and_symmetric_known_answers_on_rectified_pair():
    # Rectified stereo (R = I, t along x): F = [e_x]_x, epipolar lines are image rows.
    F = essential_from_pose(torch.eye(3, dtype=D), torch.tensor([1.0, 0.0, 0.0], dtype=D))
    x1 = torch.tensor([[10.0, 5.0], [-3.0, 2.0]], dtype=D)
    x2 = torch.tensor([[40.0, 8.0], [7.0, 2.0]], dtype=D)
    torch.testing.assert_close(sampson_distance(x1, x2, F), torch.tensor([4.5, 0.0], dtype=D))  # dy^2 / 2
    torch.testing.assert_close(sampson_distance(x1, x2, F, squared=False), torch.tensor([math.sqrt(4.5), 0.0], dtype=D))
    torch.testing.assert_close(symmetric_epipolar_distance(x1, x2, F), torch.tensor([18.0, 0.0], dtype=D))
    torch.testing.assert_close(
        symmetric_epipolar_distance(x1, x2, F, squared=False), torch.tensor([math.sqrt(18.0), 0.0], dtype=D)
    )


def test_essential_fundamental_round_trip(ring_pinhole):
    x1, x2, R, t = two_views(ring_pinhole, n=20)
    E = essential_from_pose(R, t)
    n1, n2 = pixels_to_normalized(x1, ring_pinhole.K[0]), pixels_to_normalized(x2, ring_pinhole.K[1])
    residual = (torch.cat([n2, torch.ones(20, 1, dtype=D)], -1) * (torch.cat([n1, torch.ones(20, 1, dtype=D)], -1)
                                                                    @ E.mT)).sum(-1)
    assert residual.abs().max() < 1e-12
    F = fundamental_from_essential(E, ring_pinhole.K[0], ring_pinhole.K[1])
    torch.testing.assert_close(essential_from_fundamental(F, ring_pinhole.K[0], ring_pinhole.K[1]), E)
    sv = torch.linalg.svdvals(E)
    assert abs(sv[0] - sv[1]) < 1e-12 * sv[0] and sv[2] < 1e-12 * sv[0]  # an essential matrix


def test_decompose_essential_contains_true_pose(ring_pinhole):
    _, _, R, t = two_views(ring_pinhole)
    R1, R2, t_dir = decompose_essential(essential_from_pose(R, t))
    for Ri in (R1, R2):
        torch.testing.assert_close(Ri @ Ri.mT, torch.eye(3, dtype=D))
        assert torch.linalg.det(Ri).item() == pytest.approx(1.0)
    assert min(rotation_angle_deg(R1, R), rotation_angle_deg(R2, R)) < 1e-6
    assert min(direction_angle_deg(t_dir, t), direction_angle_deg(-t_dir, t)) < 1e-6


def test_recover_pose_picks_the_true_solution(ring_pinhole):
    x1, x2, R, t = two_views(ring_pinhole, n=50, noise_px=0.3, seed=2)
    n1, n2 = pixels_to_normalized(x1, ring_pinhole.K[0]), pixels_to_normalized(x2, ring_pinhole.K[1])
    E = essential_from_fundamental(fundamental_from_points(x1, x2), ring_pinhole.K[0], ring_pinhole.K[1])
    R_est, t_est = recover_pose(E, n1, n2)
    assert rotation_angle_deg(R_est, R) < 1.0
    assert direction_angle_deg(t_est, t) < 2.0
    assert t_est.norm().item() == pytest.approx(1.0)


def test_estimate_relative_pose_with_outliers(ring):
    x1, x2, R, t = two_views(ring, n=120, noise_px=0.5, seed=3)
    x2 = x2.clone()
    g = torch.Generator().manual_seed(4)
    x2[:25] = torch.rand(25, 2, dtype=D, generator=g) * torch.tensor([1280.0, 720.0], dtype=D)  # 20 % garbage
    R_est, t_est, inliers = estimate_relative_pose(x1, x2, ring.K[0], ring.K[1], ransac_threshold_px=2.0)
    assert rotation_angle_deg(R_est, R) < 1.0
    assert direction_angle_deg(t_est, t) < 2.0
    assert inliers.dtype == torch.bool and inliers.shape == (120,)
    assert inliers[25:].float().mean() > 0.9 and inliers[:25].float().mean() < 0.2
    # Repeatable, and zero-weight (or NaN) correspondences are excluded from the mask.
    w = torch.ones(120, dtype=D)
    w[100:] = 0
    x1_nan = x1.clone()
    x1_nan[99] = float("nan")
    R2, _, inliers2 = estimate_relative_pose(x1_nan, x2, ring.K[0], ring.K[1], w)
    assert not inliers2[99:].any()
    assert rotation_angle_deg(R2, R) < 1.0
    R3, _, _ = estimate_relative_pose(x1.numpy(), x2.numpy(), ring.K[0].numpy(), ring.K[1].numpy(),
                                      ransac_threshold_px=2.0)
    torch.testing.assert_close(R3, R_est)


def test_too_few_or_degenerate_correspondences_raise(ring_pinhole):
    x1, x2, _, _ = two_views(ring_pinhole, n=7)
    with pytest.raises(InputError, match="8"):
        fundamental_from_points(x1, x2)
    with pytest.raises(InputError, match="8"):
        estimate_relative_pose(x1, x2, ring_pinhole.K[0], ring_pinhole.K[1])
    x1, x2, _, _ = two_views(ring_pinhole, n=20)
    with pytest.raises(InputError, match="8"):
        fundamental_from_points(x1, x2, torch.cat([torch.ones(5), torch.zeros(15)]).to(D))
    with pytest.raises(InputError, match="x2"):
        fundamental_from_points(x1, x2[:10])


def test_batch_shapes(ring_pinhole):
    x1, x2, R, t = two_views(ring_pinhole, n=30, noise_px=0.3)
    X1, X2 = x1.expand(4, 2, -1, -1), x2.expand(4, 2, -1, -1)
    F = fundamental_from_points(X1, X2)
    assert F.shape == (4, 2, 3, 3)
    torch.testing.assert_close(F[3, 1], fundamental_from_points(x1, x2))
    assert sampson_distance(X1, X2, F).shape == (4, 2, 30)
    assert symmetric_epipolar_distance(X1, X2, F[0, 0]).shape == (4, 2, 30)  # one F broadcast
    R1, R2, tt = decompose_essential(essential_from_pose(R, t).expand(5, 3, 3))
    assert R1.shape == R2.shape == (5, 3, 3) and tt.shape == (5, 3)
    n1, n2 = pixels_to_normalized(X1, ring_pinhole.K[0]), pixels_to_normalized(X2, ring_pinhole.K[1])
    E = essential_from_fundamental(F, ring_pinhole.K[0], ring_pinhole.K[1])
    Rb, tb = recover_pose(E, n1, n2)
    assert Rb.shape == (4, 2, 3, 3) and tb.shape == (4, 2, 3)
    F32 = fundamental_from_points(x1.float(), x2.float())
    assert F32.dtype == torch.float32 and same_up_to_scale(F32.double(), F[0, 0]) < 1e-3


def test_gradcheck(ring_pinhole):
    # Normalised coordinates: F's entries are O(1), so finite differences with gradcheck's fixed step are
    # meaningful (in pixels some entries of F are ~1e-7 and a 1e-6 step is not small).
    x1, x2, R, t = two_views(ring_pinhole, n=10, noise_px=0.5, seed=5)
    n1 = pixels_to_normalized(x1, ring_pinhole.K[0]).requires_grad_()
    n2 = pixels_to_normalized(x2, ring_pinhole.K[1]).requires_grad_()
    w = torch.rand(10, dtype=D, generator=torch.Generator().manual_seed(6)).add(0.5).requires_grad_()
    assert gradcheck(fundamental_from_points, (n1, n2, w))
    E = fundamental_from_points(n1, n2).detach().requires_grad_()  # an estimated E: distinct singular values
    assert gradcheck(sampson_distance, (n1, n2, E))
    assert gradcheck(symmetric_epipolar_distance, (n1, n2, E))
    assert gradcheck(decompose_essential, (E,))  # (an exact E has s1 = s2: no SVD gradient)
    assert gradcheck(recover_pose, (E, n1, n2))
    K1 = (ring_pinhole.K[0] / 1000).requires_grad_()
    K2 = (ring_pinhole.K[1] / 1000).requires_grad_()
    assert gradcheck(essential_from_fundamental, (E, K1, K2))
    assert gradcheck(fundamental_from_essential, (E, K1, K2))
    assert gradcheck(essential_from_pose, (R.clone().requires_grad_(), t.clone().requires_grad_()))


def test_real_pose2sim_joints_fit_calibrated_epipolar_geometry_and_pose(pose2sim):
    # Joints of 25 frames of one person seen by cam01 and cam02 serve as correspondences.
    frames = [pose2sim(frame) for frame in range(0, 100, 4)]
    cams = frames[0][0]
    kp = torch.from_numpy(np.concatenate([f[1] for f in frames]))  # (25 * 25, V, 2) distorted px
    conf = torch.from_numpy(np.concatenate([f[2] for f in frames]))
    px = cams.undistort(kp.transpose(0, 1)).transpose(0, 1)
    ok = (conf[:, 0] > 0.5) & (conf[:, 1] > 0.5)
    x1, x2 = px[ok, 0], px[ok, 1]
    R = cams.R[1] @ cams.R[0].mT
    t = cams.t[1] - R @ cams.t[0]
    F = fundamental_from_essential(essential_from_pose(R, t), cams.K[0], cams.K[1])
    assert sampson_distance(x1, x2, F, squared=False).median() < 10.0  # px; detector noise + calibration
    wrong = fundamental_from_essential(essential_from_pose(R.mT, t), cams.K[0], cams.K[1])
    assert sampson_distance(x1, x2, wrong, squared=False).median() > 50.0
    R_est, t_est, inliers = estimate_relative_pose(x1, x2, cams.K[0], cams.K[1], ransac_threshold_px=5.0)
    # A single person is a small, shallow scene: a few degrees is what these detections support.
    assert rotation_angle_deg(R_est, R) < 5.0
    assert direction_angle_deg(t_est, t) < 5.0
    assert inliers.float().mean() > 0.3
