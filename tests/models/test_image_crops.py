"""Image crops for the Pose-ResNet: geometry shared with the heatmaps, reading from real video, occlusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.io.kp2d import read_keypoints
from lift3d.models.crop_codec import HeatmapCodec, crop_intrinsics, to_crop_norm
from lift3d.models.image_crops import IMAGE_MEAN, IMAGE_STD, crop_frame, image_input, occlude, read_crops


@pytest.mark.parametrize("box, size", [((300.3, 200.7, 40.0), 80), ((301.0, 199.2, 160.0), 32), ((280.0, 210.0, 120.0), 120)])
def test_a_point_lands_where_crop_intrinsics_and_the_heatmaps_put_it(box, size):
    """A bright 3x3 blob at image pixel p appears in the crop at crop_intrinsics(p) (the heatmaps' frame)."""
    frame = np.zeros((400, 640, 3), np.uint8)
    p = np.array([310.0, 190.0])
    frame[189:192, 309:312] = 255
    crop = crop_frame(frame, np.array(box), size).astype(np.float64).sum(-1)
    ys, xs = np.mgrid[:size, :size]
    found = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()  # intensity centroid, crop pixels
    K = torch.eye(3, dtype=torch.float64)  # pixels as rays: crop_intrinsics is then the image -> crop map
    q = crop_intrinsics(K, torch.tensor(box, dtype=torch.float64), size) @ torch.tensor([*p, 1.0], dtype=torch.float64)
    # The same point in normalised crop coordinates (heatmap frame): pixel centres at (2k + 1) / n - 1.
    u = to_crop_norm(torch.tensor(p)[None], torch.tensor(box, dtype=torch.float64))[0]
    tol = 0.5 * size / box[2] + 0.35  # box snapped to whole source pixels + blob discretisation
    assert np.allclose(found, q[:2].numpy(), atol=tol), (found, q)
    assert np.allclose(found, ((u.numpy() + 1) * size - 1) / 2, atol=tol)


def test_outside_the_frame_is_black():
    frame = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_frame(frame, np.array([0.0, 50.0, 100.0]), 20)  # left half outside
    assert crop[:, :9].max() == 0 and crop[:, 11:].min() == 200
    with pytest.raises(InputError, match="positive side"):
        crop_frame(frame, np.array([0.0, 0.0, 0.0]), 20)


def test_reads_crops_of_a_real_video_around_the_person(pose2sim_demo):
    seq = pose2sim_demo / "single_balancing"
    kp = read_keypoints(seq / "pose_2d" / "cam01_json", fps=60.0).to_h36m()
    video = seq / "videos" / "cam01.mp4"
    codec = HeatmapCodec(input_size=64, image=True)
    t = np.array([40, 3, 99, 3])  # any order, repeats
    box = codec.boxes(torch.from_numpy(kp.kp2d_px[t]).float(), torch.from_numpy(kp.conf[t]).float()).numpy()
    crops = read_crops(video, box, 64, t)
    assert crops.shape == (4, 64, 64, 3) and crops.dtype == np.uint8
    assert np.array_equal(crops[1], crops[3]) and not np.array_equal(crops[0], crops[1])
    # The person is in the middle of the crop: it differs from the same box one frame-width away (background).
    far = read_crops(video, box + np.array([[box[0, 2], 0, 0]]), 64, t)
    assert np.abs(crops.astype(int) - far.astype(int)).mean() > 20
    with pytest.raises(InputError, match="has 100 frames") as e:
        read_crops(video, box[:1], 64, np.array([100]))
    assert "cam01.mp4" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        read_crops(seq / "videos" / "nope.mp4", box[:1], 64)


def test_image_input_normalises_and_checks():
    crops = torch.full((2, 8, 8, 3), 255, dtype=torch.uint8)
    x = image_input(crops)
    assert x.shape == (2, 3, 8, 8)
    assert torch.allclose(x[0, :, 0, 0], (1 - torch.tensor(IMAGE_MEAN)) / torch.tensor(IMAGE_STD))
    with pytest.raises(InputError, match="uint8"):
        image_input(crops.float())


def test_occlusion_fills_one_rectangle_per_hit_sample():
    x = torch.zeros(50, 3, 32, 32)
    rng = np.random.default_rng(0)
    assert torch.equal(occlude(x, 0.0, 0.4, rng), x)
    out = occlude(x, 1.0, 0.4, rng)
    for n in range(50):
        changed = (out[n] != 0).any(0)
        ys, xs = torch.nonzero(changed, as_tuple=True)
        h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        assert changed.sum() == h * w, "not one filled rectangle"  # one solid rectangle (a colour of 0 is unlikely)
        assert 3 <= h <= 13 and 3 <= w <= 13  # sides in [0.1, 0.4] x 32 px
        assert len(torch.unique(out[n, 0][changed])) == 1  # one colour
    half = occlude(x, 0.5, 0.4, np.random.default_rng(1))
    assert 10 < int((half != 0).flatten(1).any(1).sum()) < 40
