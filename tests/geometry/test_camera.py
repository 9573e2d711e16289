from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import (
    CameraSet,
    axis_angle_to_matrix,
    camera_centers,
    camera_to_world,
    distort_normalized,
    matrix_to_axis_angle,
    normalized_to_pixels,
    pixels_to_normalized,
    project_camera,
    project_points,
    projection_matrix,
    undistort_normalized,
    undistort_pixels,
    unproject_points,
    world_to_camera,
)

D = torch.float64


def cv2_project(points: torch.Tensor, cams: CameraSet, v: int, dist: np.ndarray | None = None) -> np.ndarray:
    rvec = matrix_to_axis_angle(cams.R[v]).numpy()
    d = cams.dist[v].numpy() if dist is None else dist
    px, _ = cv2.projectPoints(points.numpy(), rvec, cams.t[v].numpy(), cams.K[v].numpy(), d)
    return px.reshape(-1, 2)


def test_project_points_matches_cv2_with_distortion(ring, body):
    for v in range(ring.num_views):
        px = project_points(body, ring.K[v], ring.R[v], ring.t[v], ring.dist[v])
        np.testing.assert_allclose(px.numpy(), cv2_project(body, ring, v), atol=1e-8)
        # Four coefficients: k3 = 0.
        px4 = project_points(body, ring.K[v], ring.R[v], ring.t[v], ring.dist[v, :4])
        np.testing.assert_allclose(px4.numpy(), cv2_project(body, ring, v, ring.dist[v, :4].numpy()), atol=1e-8)
    assert not torch.allclose(project_points(body, ring.K[0], ring.R[0], ring.t[0]), px)  # distortion matters


def test_points_land_in_the_image(ring, body):
    px = ring.project(body)  # (V, N, 2)
    assert (px[..., 0] > 0).all() and (px[..., 0] < 1280).all()
    assert (px[..., 1] > 0).all() and (px[..., 1] < 720).all()
    # The feet (low z) appear below the head (high z) in every view: y points down.
    low, high = body[:, 2].argmin(), body[:, 2].argmax()
    assert (px[:, low, 1] > px[:, high, 1]).all()


def test_world_camera_round_trip_and_centers(ring, body):
    cam = world_to_camera(body, ring.R, ring.t)  # (V, N, 3) by broadcasting
    assert cam.shape == (ring.num_views, body.shape[0], 3)
    assert (cam[..., 2] > 2.0).all()  # all in front, roughly 4 m away
    torch.testing.assert_close(camera_to_world(cam, ring.R, ring.t), body.expand_as(cam))
    C = camera_centers(ring.R, ring.t)
    torch.testing.assert_close(world_to_camera(C[:, None], ring.R, ring.t)[:, 0], torch.zeros(6, 3, dtype=D))
    np.testing.assert_allclose(C[:, :2].norm(dim=-1).numpy(), 4.0, atol=1e-12)


def test_undistort_matches_cv2(ring, body):
    for v in range(ring.num_views):
        px = project_points(body, ring.K[v], ring.R[v], ring.t[v], ring.dist[v])
        K, d = ring.K[v].numpy(), ring.dist[v].numpy()
        criteria = (cv2.TERM_CRITERIA_COUNT, 20, 0.0)
        ref = cv2.undistortPointsIter(px.numpy()[:, None], K, d, None, K, criteria).reshape(-1, 2)
        np.testing.assert_allclose(undistort_pixels(px, ring.K[v], ring.dist[v]).numpy(), ref, atol=1e-8)
        ref_norm = cv2.undistortPointsIter(px.numpy()[:, None], K, d, None, None, criteria).reshape(-1, 2)
        xy = undistort_normalized(pixels_to_normalized(px, ring.K[v]), ring.dist[v])
        np.testing.assert_allclose(xy.numpy(), ref_norm, atol=1e-11)
        # And it inverts the distortion: the undistorted pixels are the pinhole projection.
        pinhole = project_points(body, ring.K[v], ring.R[v], ring.t[v])
        torch.testing.assert_close(undistort_pixels(px, ring.K[v], ring.dist[v]), pinhole, atol=1e-9, rtol=0)


def test_distort_undistort_round_trip_and_known_answer():
    xy = torch.tensor([[0.0, 0.0], [0.3, -0.2], [-0.5, 0.4]], dtype=D)
    d = torch.tensor([-0.2, 0.05, 0.001, -0.002, 0.01], dtype=D)
    torch.testing.assert_close(undistort_normalized(distort_normalized(xy, d), d), xy, atol=1e-12, rtol=0)
    # Pure radial k1: r' = r (1 + k1 r^2).
    k1 = torch.tensor([0.1, 0.0, 0.0, 0.0], dtype=D)
    torch.testing.assert_close(distort_normalized(torch.tensor([[0.5, 0.0]], dtype=D), k1),
                               torch.tensor([[0.5 * (1 + 0.1 * 0.25), 0.0]], dtype=D))


def test_unproject_inverts_project(ring, body):
    cam = world_to_camera(body, ring.R, ring.t)  # (V, N, 3)
    px = project_camera(cam, ring.K, ring.dist)
    back = unproject_points(px, cam[..., 2], ring.K, ring.dist)
    torch.testing.assert_close(back, cam, atol=1e-9, rtol=0)
    torch.testing.assert_close(pixels_to_normalized(normalized_to_pixels(cam[..., :2], ring.K), ring.K), cam[..., :2])


def test_projection_matrix_agrees_with_pinhole_projection(ring_pinhole, body):
    cams = ring_pinhole
    P = projection_matrix(cams.K, cams.R, cams.t)  # (V, 3, 4)
    assert P.shape == (cams.num_views, 3, 4)
    x = torch.cat([body, torch.ones(body.shape[0], 1, dtype=D)], -1) @ P.mT  # (V, N, 3)
    torch.testing.assert_close(x[..., :2] / x[..., 2:], cams.project(body))
    Ch = torch.cat([cams.centers(), torch.ones(cams.num_views, 1, dtype=D)], -1)
    torch.testing.assert_close((P @ Ch[..., None])[..., 0], torch.zeros(cams.num_views, 3, dtype=D), atol=1e-9, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_points_behind_or_on_image_plane_stay_finite(dtype):
    pts = torch.tensor([[1.0, 2.0, 0.0], [-3.0, 1.0, -2.0], [5.0, 5.0, 1e-9], [0.1, 0.1, 1.0]], dtype=dtype)
    K = torch.tensor([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]], dtype=dtype)
    d = torch.tensor([-0.3, 0.1, 0.01, 0.01, 0.05], dtype=dtype)
    for dist in (None, d):
        px = project_camera(pts.requires_grad_(), K, dist)
        assert torch.isfinite(px).all()
        px.sum().backward()
        assert torch.isfinite(pts.grad).all()
        pts.grad = None
    torch.testing.assert_close(project_camera(pts[3:], K)[0], torch.tensor([740.0, 460.0], dtype=dtype))


def test_batch_broadcast_shapes(ring, body):
    pts = body.expand(2, 5, -1, -1)  # (2, 5, N, 3)
    px = project_points(pts[:, :, None], ring.K, ring.R, ring.t, ring.dist)  # (2, 5, V, N, 2)
    assert px.shape == (2, 5, ring.num_views, body.shape[0], 2)
    torch.testing.assert_close(px, ring.project(pts))
    torch.testing.assert_close(px[1, 3, 2], project_points(body, ring.K[2], ring.R[2], ring.t[2], ring.dist[2]))
    depth = torch.full(px.shape[:-1], 3.0, dtype=D)
    assert unproject_points(px, depth, ring.K, ring.dist).shape == px.shape[:-1] + (3,)
    assert undistort_pixels(px, ring.K, ring.dist).shape == px.shape
    # One K shared by a batch of (R, t).
    assert projection_matrix(ring.K[0], ring.R, ring.t).shape == (ring.num_views, 3, 4)
    assert projection_matrix(ring.K, ring.R[0], ring.t[0]).shape == (ring.num_views, 3, 4)
    px32 = ring.to(torch.float32).project(body.float())
    assert px32.dtype == torch.float32
    torch.testing.assert_close(px32.double(), ring.project(body), atol=1e-2, rtol=0)


def test_bad_shapes_raise(ring, body):
    with pytest.raises(InputError, match="points_world"):
        project_points(body[:, :2], ring.K[0], ring.R[0], ring.t[0])
    with pytest.raises(InputError, match="dist"):
        project_points(body, ring.K[0], ring.R[0], ring.t[0], torch.zeros(8, dtype=D))
    with pytest.raises(InputError, match="CameraSet.to"):
        ring.project(body.float())


def test_camera_set_from_numpy_validation_and_subset(ring):
    rvecs = matrix_to_axis_angle(ring.R).numpy()
    cams = CameraSet.from_numpy(ring.K.numpy(), rvecs, ring.t.numpy()[..., None], ring.dist[:, :4].numpy(),
                                names=[f"c{i}" for i in range(6)])
    assert cams.dist.shape == (6, 5) and (cams.dist[:, 4] == 0).all()
    torch.testing.assert_close(cams.R, ring.R)
    assert cams.K.dtype == torch.float64 and cams.names[2] == "c2"
    torch.testing.assert_close(cams.image_size[0], 2 * cams.K[0, :2, 2].round())  # estimated
    sub = cams.subset(["c4", 1])
    assert sub.names == ("c4", "c1") and sub.num_views == 2
    torch.testing.assert_close(sub.K, cams.K[[4, 1]])
    assert CameraSet(ring.K, ring.R, ring.t).dist.abs().sum() == 0
    with pytest.raises(InputError, match="R"):
        CameraSet(ring.K, ring.R * 2, ring.t)
    with pytest.raises(InputError, match="t"):
        CameraSet(ring.K, ring.R, ring.t[:, :2])
    bad_K = ring.K.clone()
    bad_K[1, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        CameraSet(bad_K, ring.R, ring.t)
    with pytest.raises(InputError, match="names"):
        CameraSet(ring.K, ring.R, ring.t, names=("a",) * 6)
    with pytest.raises(InputError, match="no camera"):
        cams.subset(["nope"])


def test_camera_set_undistort_then_pinhole(ring, body):
    px = ring.project(body)  # distorted
    torch.testing.assert_close(ring.undistort(px), CameraSet(ring.K, ring.R, ring.t).project(body), atol=1e-9, rtol=0)


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    pts = (torch.randn(4, 3, dtype=D, generator=g) * 0.3 + torch.tensor([0.0, 0.0, 3.0], dtype=D)).requires_grad_()
    K = torch.tensor([[900.0, 0.5, 320], [0, 910, 240], [0, 0, 1]], dtype=D, requires_grad=True)
    R = axis_angle_to_matrix(torch.tensor([0.1, -0.2, 0.05], dtype=D)).requires_grad_()
    t = torch.tensor([0.1, 0.2, 0.3], dtype=D, requires_grad=True)
    d = torch.tensor([-0.1, 0.03, 0.001, -0.001, 0.002], dtype=D, requires_grad=True)
    px = project_points(pts, K, R, t, d).detach()
    depth = torch.rand(4, dtype=D, generator=g).add(2).requires_grad_()
    assert gradcheck(project_points, (pts, K, R, t, d))
    assert gradcheck(project_camera, (pts, K, d))
    assert gradcheck(world_to_camera, (pts, R, t))
    assert gradcheck(camera_to_world, (pts, R, t))
    assert gradcheck(distort_normalized, (pts[:, :2] / pts[:, 2:], d))
    assert gradcheck(undistort_normalized, (pts[:, :2] / pts[:, 2:], d))
    assert gradcheck(undistort_pixels, (px.requires_grad_(), K, d))
    assert gradcheck(unproject_points, (px, depth, K, d))
    assert gradcheck(pixels_to_normalized, (px, K))
    assert gradcheck(normalized_to_pixels, (pts[:, :2], K))
    assert gradcheck(projection_matrix, (K, R, t))
    assert gradcheck(camera_centers, (R, t))
