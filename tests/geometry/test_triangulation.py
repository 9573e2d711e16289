from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import CameraSet, TriangulationResult, reprojection_error, triangulate_dlt, triangulate_robust

D = torch.float64


def observe(cams: CameraSet, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Undistorted pixels ``(N, V, 2)`` of ``points (N, 3)`` and the projection matrices ``(V, 3, 4)``."""
    px = cams.undistort(cams.project(points))  # (V, N, 2)
    return px.transpose(0, 1), cams.projection_matrices()


def test_dlt_exact_on_noise_free_ring(ring, body):
    kp, P = observe(ring, body)
    X = triangulate_dlt(kp, P)
    assert X.shape == body.shape
    assert (X - body).norm(dim=-1).max() < 1e-6


def test_dlt_matches_cv2_triangulate_points_for_two_views(ring_pinhole, body):
    kp, P = observe(ring_pinhole, body)
    ref = cv2.triangulatePoints(P[0].numpy(), P[2].numpy(), kp[:, 0].numpy().T, kp[:, 2].numpy().T)
    ref = (ref[:3] / ref[3]).T
    X = triangulate_dlt(kp[:, [0, 2]], P[[0, 2]])
    np.testing.assert_allclose(X.numpy(), ref, atol=1e-8)
    np.testing.assert_allclose(X.numpy(), body.numpy(), atol=1e-8)


def test_dlt_stays_accurate_far_from_the_origin_and_in_float32(ring_pinhole, body):
    # Move the whole scene 1 km away: the camera-centre normalisation keeps the system well conditioned.
    offset = torch.tensor([1000.0, -500.0, 20.0], dtype=D)
    cams = CameraSet(ring_pinhole.K, ring_pinhole.R, ring_pinhole.t - (ring_pinhole.R @ offset))
    kp, P = observe(cams, body + offset)
    assert (triangulate_dlt(kp, P) - body - offset).norm(dim=-1).max() < 1e-6
    kp, P = observe(ring_pinhole, body)
    X32 = triangulate_dlt(kp.float(), P.float())
    assert X32.dtype == torch.float32
    assert (X32.double() - body).norm(dim=-1).max() < 1e-3


def test_zero_confidence_view_is_ignored_even_if_nan(ring, body):
    kp, P = observe(ring, body)
    kp = kp.clone()
    kp[:, 1] += 80.0  # corrupt view 1 ...
    kp[:3, 4] = float("nan")  # ... and lose view 4 for three points
    conf = torch.ones(kp.shape[:-1], dtype=D)
    conf[:, 1] = 0
    conf[:3, 4] = 0
    X = triangulate_dlt(kp, P, conf)
    assert (X - body).norm(dim=-1).max() < 1e-6
    conf[:3, 4] = 1  # a NaN coordinate counts as missing whatever its confidence
    torch.testing.assert_close(triangulate_dlt(kp, P, conf), X)
    assert (triangulate_dlt(kp, P) - body).norm(dim=-1).max() > 1e-3  # the corruption matters if used


def test_confidence_weights_rows_like_repeated_views(ring, body):
    # Rows are multiplied by conf, so conf = 2 on a view equals that view observed 4 times (A^T A gains 4 r r^T).
    # Views 0 and 3 are opposite on the ring, so repeating both leaves the camera-centre normalisation unchanged.
    kp, P = observe(ring, body)
    kp = kp + 2.0 * torch.randn(kp.shape, dtype=D, generator=torch.Generator().manual_seed(3))
    conf = torch.tensor([2.0, 1.0, 1.0, 2.0, 1.0, 1.0], dtype=D)
    repeated = [0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 4, 5]
    X_rep = triangulate_dlt(kp[:, repeated], P[repeated])
    torch.testing.assert_close(triangulate_dlt(kp, P, conf), X_rep, atol=1e-12, rtol=0)
    assert (triangulate_dlt(kp, P) - X_rep).norm(dim=-1).max() > 1e-4


def test_zero_confidence_view_has_no_influence_at_all(ring, body):
    kp, P = observe(ring, body)
    kp = kp + 2.0 * torch.randn(kp.shape, dtype=D, generator=torch.Generator().manual_seed(4))
    X = triangulate_dlt(kp[:, :5], P[:5])
    far_P = P[5].clone()
    far_P[:, 3] += 1e4  # an unrelated camera far away, not seeing the point
    kp_extra = torch.cat([kp[:, :5], torch.full((body.shape[0], 1, 2), 1e6, dtype=D)], dim=1)
    conf = torch.tensor([1.0, 1, 1, 1, 1, 0], dtype=D)
    torch.testing.assert_close(triangulate_dlt(kp_extra, torch.cat([P[:5], far_P[None]]), conf), X, atol=1e-12, rtol=0)


def test_fewer_than_two_views_gives_zeros_and_finite_gradients(ring, body):
    kp, P = observe(ring, body[:4])
    conf = torch.ones(4, ring.num_views, dtype=D)
    conf[0] = 0
    conf[1, 1:] = 0  # one view only
    kp = kp.clone().requires_grad_()
    X = triangulate_dlt(kp, P, conf)
    assert (X[:2] == 0).all()
    assert (X[2:] - body[2:4]).norm(dim=-1).max() < 1e-6
    X.sum().backward()
    assert torch.isfinite(kp.grad).all() and (kp.grad[:2] == 0).all()


def test_reprojection_error_known_answer(ring_pinhole, body):
    kp, P = observe(ring_pinhole, body)
    assert reprojection_error(body, kp, P).max() < 1e-9
    shifted = kp.clone()
    shifted[:, 3] += torch.tensor([3.0, -4.0], dtype=D)
    err = reprojection_error(body, shifted, P)
    torch.testing.assert_close(err[:, 3], torch.full((body.shape[0],), 5.0, dtype=D))


def test_batch_and_broadcast_shapes(ring, body):
    kp, P = observe(ring, body)  # (N, V, 2), (V, 3, 4)
    kp_seq = kp.expand(3, 2, -1, -1, -1)  # (T, B, N, V, 2) with one shared P
    X = triangulate_dlt(kp_seq, P)
    assert X.shape == (3, 2, body.shape[0], 3)
    torch.testing.assert_close(X[2, 1], triangulate_dlt(kp, P))
    assert reprojection_error(X, kp_seq, P).shape == (3, 2, body.shape[0], ring.num_views)
    res = triangulate_robust(kp_seq, P, torch.ones(ring.num_views, dtype=D))
    assert res.points.shape == X.shape and res.valid.shape == X.shape[:-1]
    assert res.view_mask.shape == res.reproj_px.shape == kp_seq.shape[:-1]


def test_robust_drops_corrupted_views(ring, body):
    kp, P = observe(ring, body)
    kp = kp.clone()
    kp[:5, 2] += torch.tensor([60.0, -45.0], dtype=D)  # a wrong detection: 75 px off
    kp[5:8, 0] += torch.tensor([0.0, 12.0], dtype=D)  # 12 px off: caught by the median rule only
    kp[8, 1] += 300.0  # two bad views for the same point
    kp[8, 4] -= 200.0
    res = triangulate_robust(kp, P)
    assert isinstance(res, TriangulationResult)
    assert res.valid.all()
    assert (res.points - body).norm(dim=-1).max() < 1e-6
    expected_mask = torch.ones_like(res.view_mask)
    expected_mask[:5, 2] = False
    expected_mask[5:8, 0] = False
    expected_mask[8, [1, 4]] = False
    assert torch.equal(res.view_mask, expected_mask)
    assert (res.reproj_px[:5, 2] > 70).all()  # the dropped view's error is still reported
    plain = triangulate_dlt(kp, P)
    assert (plain[:5] - body[:5]).norm(dim=-1).min() > 1e-3


def test_robust_invalid_cases(ring, body):
    kp, P = observe(ring, body[:3])
    kp = kp[:, :2].clone()  # two views only
    P = P[:2]
    kp[0, 1] += 100.0  # inconsistent pair: cannot drop below min_views, so invalid
    conf = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.2]], dtype=D)
    res = triangulate_robust(kp, P, conf, min_conf=0.3)  # point 2: one view above min_conf
    assert res.valid.tolist() == [False, True, False]
    assert (res.points[0] == 0).all() and (res.points[2] == 0).all()
    assert res.view_mask[2].tolist() == [True, False]
    with pytest.raises(InputError, match="min_views"):
        triangulate_robust(kp, P, min_views=1)


def test_points_behind_cameras_are_invalid(ring_pinhole):
    # Two cameras facing each other across the origin; a point observed as if it were behind both.
    cams = ring_pinhole.subset([0, 3])
    P = cams.projection_matrices()
    behind = 10.0 * cams.centers()[0] - 9.0 * cams.centers()[1]  # far behind camera 0
    kp = cams.project(behind[None])[:, 0]  # (V, 2): exact but meaningless pixels
    res = triangulate_robust(kp, P)
    assert not res.valid


def test_bad_shapes_raise(ring, body):
    kp, P = observe(ring, body)
    with pytest.raises(InputError, match="kp2d_px"):
        triangulate_dlt(kp[:, :4], P)
    with pytest.raises(InputError, match="P"):
        triangulate_dlt(kp, P[..., :3])
    with pytest.raises(InputError, match="conf"):
        triangulate_dlt(kp, P, torch.ones(3, dtype=D))


def test_gradcheck(ring, body):
    kp, P = observe(ring, body[:2])
    noise = 0.5 * torch.randn(kp.shape, dtype=D, generator=torch.Generator().manual_seed(0))
    kp3 = (kp + noise)[:, :3].detach().requires_grad_()
    P3 = P[:3].clone().requires_grad_()
    conf = torch.rand(2, 3, dtype=D, generator=torch.Generator().manual_seed(1)).add(0.5).requires_grad_()
    assert gradcheck(triangulate_dlt, (kp3, P3, conf))
    X = triangulate_dlt(kp3, P3).detach().requires_grad_()
    assert gradcheck(reprojection_error, (X, kp3, P3))
    assert gradcheck(lambda k, p: triangulate_robust(k, p).points, (kp3, P3), fast_mode=True)


# --- real data: Pose2Sim demo (4 calibrated cameras, OpenPose BODY_25B detections, Pose2Sim's own 3D) ---


def test_real_pose2sim_triangulation_agrees_with_reference(pose2sim):
    cams, kp, conf, ref, joints = pose2sim(frame=50)
    px = torch.from_numpy(kp[joints])  # (J, V, 2) distorted pixels
    px_u = cams.undistort(px.transpose(0, 1)).transpose(0, 1)  # (V, J, 2) in, (J, V, 2) out
    res = triangulate_robust(px_u, cams.projection_matrices(), torch.from_numpy(conf[joints]), min_conf=0.3)
    assert res.valid.float().mean() > 0.8
    err = (res.points[res.valid] - torch.from_numpy(ref)[res.valid]).norm(dim=-1)
    assert err.median() < 0.05  # Pose2Sim's own triangulation of the same detections: a few cm apart
    assert res.reproj_px[res.view_mask].median() < 15.0
