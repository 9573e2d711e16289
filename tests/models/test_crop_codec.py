"""Codec of the volumetric lifter: crops, crop intrinsics, rendered heatmaps, root-relative 3D round trip."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import project_camera
from lift3d.models import (
    crop_box_from_2d,
    crop_intrinsics,
    decode_root_relative,
    encode_root_relative,
    from_crop_norm,
    pixel_centres,
    render_heatmaps,
    root_depth_from_box,
    soft_argmax_3d,
    to_crop_norm,
)

D = torch.float64
K = torch.tensor([[1100.0, 0.5, 640.0], [0.0, 1080.0, 360.0], [0.0, 0.0, 1.0]], dtype=D)  # with a little skew


def body(B: int = 3, J: int = 17, seed: int = 0) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame joints, metres: body-sized point clouds 3-6 m in front of the camera."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.stack([torch.rand(B, generator=g) - 0.5, torch.rand(B, generator=g) - 0.5,
                          3 + 3 * torch.rand(B, generator=g)], dim=-1).to(D)  # (B, 3)
    offsets = (torch.rand(B, J, 3, generator=g, dtype=D) - 0.5) * torch.tensor([0.6, 1.8, 0.5], dtype=D)
    return centre[:, None] + offsets


def crop_pixels(px: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """Image pixels to pixels of the resampled crop, through the normalised coordinates."""
    return (to_crop_norm(px, box) + 1) * size / 2 - 0.5


def test_pixel_centres():
    torch.testing.assert_close(pixel_centres(4), torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert pixel_centres(3, dtype=D).dtype == D
    with pytest.raises(InputError):
        pixel_centres(0)


# ---- crops -----------------------------------------------------------------------------------------------


def test_crop_norm_known_answer_and_round_trip():
    box = torch.tensor([100.0, 50.0, 40.0], dtype=D)
    px = torch.tensor([[80.0, 30.0], [120.0, 70.0], [100.0, 50.0], [110.0, 40.0]], dtype=D)
    norm = to_crop_norm(px, box)
    torch.testing.assert_close(norm, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [0.5, -0.5]], dtype=D))
    torch.testing.assert_close(from_crop_norm(norm, box), px)
    # Batched boxes broadcast over joints.
    boxes = torch.tensor([[100.0, 50.0, 40.0], [0.0, 0.0, 2.0]], dtype=D)
    assert to_crop_norm(px.expand(2, 4, 2), boxes).shape == (2, 4, 2)
    torch.testing.assert_close(to_crop_norm(px.expand(2, 4, 2), boxes)[1], px)


def test_crop_box_from_confident_joints():
    kp = torch.tensor([[[10.0, 20.0], [30.0, 60.0], [1000.0, -500.0]]])  # (1, 3, 2)
    conf = torch.tensor([[0.9, 0.2, 0.0]])  # the far joint is missing
    box = crop_box_from_2d(kp, conf)
    torch.testing.assert_close(box, torch.tensor([[20.0, 40.0, 50.0]]))  # longer side 40 x margin 1.25
    torch.testing.assert_close(crop_box_from_2d(kp, conf, margin=1.0, min_conf=0.5), torch.tensor([[10.0, 20.0, 1.0]]))
    assert crop_box_from_2d(kp.expand(4, 2, 3, 2), conf.expand(4, 2, 3)).shape == (4, 2, 3)


def test_crop_box_errors():
    kp = torch.zeros(3, 5, 2)
    conf = torch.ones(3, 5)
    conf[1] = 0.0
    with pytest.raises(InputError, match=r"1 sample\(s\).*batch index \(1,\)"):
        crop_box_from_2d(kp, conf)
    with pytest.raises(InputError, match="margin"):
        crop_box_from_2d(kp, torch.ones(3, 5), margin=0.9)
    with pytest.raises(InputError, match="conf"):
        crop_box_from_2d(kp, torch.ones(3, 4))


@pytest.mark.parametrize("size", [64, 256])
def test_crop_intrinsics_projects_to_the_same_crop_pixel(size):
    pose = body()  # (3, 17, 3)
    px = project_camera(pose, K)  # (3, 17, 2) in the image
    box = crop_box_from_2d(px, torch.ones(3, 17))  # (3, 3)
    K_crop = crop_intrinsics(K, box, size)  # (3, 3, 3)
    torch.testing.assert_close(project_camera(pose, K_crop), crop_pixels(px, box, size), atol=1e-9, rtol=0)
    assert not torch.allclose(K_crop[0], K_crop[1])  # a different box gives different intrinsics


def test_crop_intrinsics_matches_an_actual_crop_and_resize():
    # Image 40 x 30; box centred at (12.5, 10.5) with side 16 covers image pixels 5..20 and 3..18 exactly.
    # Downsampling the crop 2x by averaging 2x2 blocks makes a 8 x 8 crop; a bright 2x2 block whose centre is
    # at image pixel (13.5, 9.5) must land on crop pixel (4, 3), where K_crop projects a point seen there.
    image = torch.zeros(30, 40, dtype=D)
    image[9:11, 13:15] = 1.0
    box = torch.tensor([12.5, 10.5, 16.0], dtype=D)
    crop = torch.nn.functional.avg_pool2d(image[None, None, 3:19, 5:21], 2)[0, 0]  # (8, 8)
    row, col = divmod(int(crop.argmax()), 8)
    assert crop[row, col] == 1.0 and (row, col) == (3, 4)
    point = torch.linalg.solve(K, torch.tensor([13.5, 9.5, 1.0], dtype=D)) * 2.5  # on that pixel's ray
    torch.testing.assert_close(project_camera(point[None], crop_intrinsics(K, box, 8))[0],
                               torch.tensor([4.0, 3.0], dtype=D), atol=1e-9, rtol=0)


# ---- heatmaps --------------------------------------------------------------------------------------------


def test_render_heatmaps_peak_and_value():
    size, sigma = 16, 1.5
    cols, rows = torch.tensor([3, 10]), torch.tensor([12, 0])
    kp = torch.stack([pixel_centres(size)[cols], pixel_centres(size)[rows]], dim=-1)  # on pixel centres (2, 2)
    conf = torch.tensor([0.8, 0.3])
    hm = render_heatmaps(kp, conf, size, sigma)  # (2, 16, 16)
    assert hm.shape == (2, size, size)
    for j in range(2):
        assert divmod(int(hm[j].argmax()), size) == (rows[j], cols[j])
        torch.testing.assert_close(hm[j].max(), conf[j])
    # One pixel to the right: exp(-1 / (2 sigma^2)) of the peak.
    torch.testing.assert_close(hm[0, 12, 4], conf[0] * torch.exp(torch.tensor(-1 / (2 * sigma**2))))


def test_render_heatmaps_zero_confidence_gives_zero_map():
    kp = torch.tensor([[[0.1, -0.2], [5.0, 1e30]]])  # the missing joint's coordinates are garbage
    hm = render_heatmaps(kp, torch.tensor([[1.0, 0.0]]), 8)
    assert hm.shape == (1, 2, 8, 8)
    assert hm[0, 1].abs().sum() == 0 and hm[0, 0].sum() > 0


def test_render_heatmaps_and_soft_argmax_share_the_pixel_convention():
    # The soft-argmax of a log-Gaussian heatmap is its centre (discrete Gaussian mean, far from the edges):
    # a half-pixel disagreement between the two conventions would be off by 1 / size = 0.03.
    size = 32
    kp = torch.tensor([[0.137, -0.211], [-0.4, 0.35]], dtype=D)
    hm = render_heatmaps(kp, torch.ones(2, dtype=D), size, sigma_px=2.0)  # (2, 32, 32)
    uvz = soft_argmax_3d(hm.log()[:, None])  # one depth bin: (2, 3)
    torch.testing.assert_close(uvz[:, :2], kp, atol=1e-5, rtol=0)  # the edges truncate the tails


def test_render_heatmaps_batch_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 3, 4, 2, generator=g, dtype=D) - 0.5
    conf = torch.rand(2, 3, 4, generator=g, dtype=D)
    hm = render_heatmaps(kp, conf, 6)
    assert hm.shape == (2, 3, 4, 6, 6)
    torch.testing.assert_close(hm[1, 2], render_heatmaps(kp[1, 2], conf[1, 2], 6))
    assert gradcheck(lambda k, c: render_heatmaps(k, c, 5), (kp[0, :1].requires_grad_(), conf[0, :1].requires_grad_()))
    with pytest.raises(InputError, match="sigma_px"):
        render_heatmaps(kp, conf, 6, sigma_px=0.0)
    with pytest.raises(InputError, match="size"):
        render_heatmaps(kp, conf, 0)


# ---- root-relative 3D ------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", [0, 4])
def test_encode_decode_round_trip(root):
    pose = body()  # (3, 17, 3)
    box = crop_box_from_2d(project_camera(pose, K), torch.ones(3, 17))
    K_crop = crop_intrinsics(K, box, 64)
    uvz = encode_root_relative(pose, K_crop, 64, depth_range_m=2.0, root=root)
    assert uvz.shape == (3, 17, 3)
    assert (uvz[..., :2].abs() < 1).all()  # the box holds every joint
    assert (uvz[:, root, 2] == 0).all()
    back = decode_root_relative(uvz, K_crop, 64, pose[:, root, 2], depth_range_m=2.0, root=root)
    torch.testing.assert_close(back, pose - pose[:, root, None], atol=1e-12, rtol=0)
    # The absolute depth sets the scale of x and y: a wrong root depth scales the pose about the camera ray.
    wrong = decode_root_relative(uvz, K_crop, 64, pose[:, root, 2] * 2, depth_range_m=2.0, root=root)
    assert not torch.allclose(wrong, back, atol=1e-3)


def test_encode_known_answer():
    # Box centred on the principal point: a point on the optical axis is the crop centre. A joint 0.5 m
    # behind the root with a 2 m range is z = 0.5; a joint 0.25 m right at the root's depth 5 m sits
    # fx * 0.25 / 5 = 55 px right of centre, i.e. u = 55 / (side / 2).
    box = torch.tensor([640.0, 360.0, 400.0], dtype=D)
    pose = torch.tensor([[0.0, 0.0, 5.0], [0.0, 0.0, 5.5], [0.25, 0.0, 5.0]], dtype=D)
    uvz = encode_root_relative(pose, crop_intrinsics(K, box, 64), 64, 2.0)
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [55 / 200, 0.0, 0.0]], dtype=D)
    torch.testing.assert_close(uvz, expected, atol=1e-12, rtol=0)


def test_encode_decode_gradcheck():
    pose = body(B=1, J=3)
    K_crop = crop_intrinsics(K, crop_box_from_2d(project_camera(pose, K), torch.ones(1, 3)), 32)
    uvz = encode_root_relative(pose, K_crop, 32, 2.0)
    assert gradcheck(lambda p: encode_root_relative(p, K_crop, 32, 2.0), (pose.clone().requires_grad_(),))
    assert gradcheck(lambda u, z: decode_root_relative(u, K_crop, 32, z, 2.0),
                     (uvz.clone().requires_grad_(), pose[:, 0, 2].clone().requires_grad_()))


def test_root_relative_input_errors():
    pose = body(B=1, J=3)
    K_crop = crop_intrinsics(K, torch.tensor([640.0, 360.0, 400.0], dtype=D), 32)
    with pytest.raises(InputError, match="root"):
        encode_root_relative(pose, K_crop, 32, 2.0, root=3)
    with pytest.raises(InputError, match="depth_range_m"):
        encode_root_relative(pose, K_crop, 32, 0.0)
    with pytest.raises(InputError, match="uvz"):
        decode_root_relative(pose[..., :2], K_crop, 32, pose[:, 0, 2], 2.0)
    with pytest.raises(InputError, match="root_depth_m"):
        decode_root_relative(pose, K_crop, 32, 5.0, 2.0)


def test_root_depth_from_box():
    # RootNet: sqrt(fx fy) * 2 m / side; fx = fy = 1000 px and a 500 px box give 4 m.
    K1 = torch.tensor([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]], dtype=D)
    torch.testing.assert_close(root_depth_from_box(K1, torch.tensor(500.0, dtype=D)), torch.tensor(4.0, dtype=D))
    # The full image with the box side and the crop with its size give the same depth.
    box = torch.tensor([[600.0, 300.0, 350.0], [100.0, 500.0, 90.0]], dtype=D)
    from_image = root_depth_from_box(K, box[:, 2])
    from_crop = root_depth_from_box(crop_intrinsics(K, box, 64), torch.full((2,), 64.0, dtype=D))
    torch.testing.assert_close(from_crop, from_image)
    torch.testing.assert_close(from_image, (1100.0 * 1080.0) ** 0.5 * 2.0 / box[:, 2])
