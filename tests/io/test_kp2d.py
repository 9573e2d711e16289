import json

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.kp2d import Keypoints2D, read_keypoints, write_kp2d_h5


_BODY = np.random.default_rng(9).uniform((0, 100), (80, 400), size=(17, 2))  # one person's joints, px


def _coco_person(x0, rng):
    kp = np.zeros((17, 3))
    kp[:, :2] = _BODY + (x0, 0) + rng.normal(0, 2, (17, 2))
    kp[:, 2] = rng.uniform(0.3, 1.0, 17)
    return kp


def test_coco_results_json_keeps_one_person_in_image_order(tmp_path):
    rng = np.random.default_rng(0)
    dets, mine = [], []
    for image_id in (5, 3, 4):  # out of order on purpose
        me, other = _coco_person(100 + image_id, rng), _coco_person(600, rng)
        other[:, 1] = other[:, 1] * 0.2  # a smaller bystander
        dets += [{"image_id": image_id, "category_id": 1, "keypoints": me.ravel().tolist(), "score": 0.9},
                 {"image_id": image_id, "category_id": 1, "keypoints": other.ravel().tolist(), "score": 0.8}]
        mine.append((image_id, me))
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    kp = read_keypoints(path, fps=25.0)
    assert kp.skeleton == "coco17" and kp.fps == 25.0 and kp.num_frames == 3
    expected = np.stack([m for _, m in sorted(mine, key=lambda p: p[0])])
    np.testing.assert_allclose(kp.kp2d_px, expected[..., :2], rtol=1e-6)
    np.testing.assert_allclose(kp.conf, expected[..., 2], rtol=1e-6)
    with pytest.raises(InputError, match="frame rate"):
        read_keypoints(path)


def test_coco_dataset_json_uses_visibility_flags(tmp_path):
    rng = np.random.default_rng(1)
    k = _coco_person(0, rng)
    k[:, 2] = 2
    k[3, 2] = 0
    data = {"images": [{"id": 1}, {"id": 2}], "annotations": [{"image_id": 2, "keypoints": k.ravel().tolist()}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    kp = read_keypoints(path, fps=30.0)
    assert kp.num_frames == 2 and (kp.conf[0] == 0).all()  # image 1 has nobody
    assert kp.conf[1, 3] == 0 and kp.conf[1, 4] == 1


def test_plain_npz_and_pickled_npz(tmp_path):
    rng = np.random.default_rng(2)
    arr = np.concatenate([rng.uniform(0, 500, (6, 17, 2)), rng.uniform(0.1, 1, (6, 17, 1))], axis=-1)
    np.savez(tmp_path / "vp3d.npz", keypoints=arr, fps=np.array(50.0))
    kp = read_keypoints(tmp_path / "vp3d.npz")
    assert kp.fps == 50.0 and kp.skeleton == "coco17"
    np.testing.assert_allclose(kp.conf, arr[..., 2], rtol=1e-6)
    np.savez(tmp_path / "pickled.npz", positions_2d=np.array([{"S1": arr}], dtype=object))
    with pytest.raises(InputError, match="pickled"):
        read_keypoints(tmp_path / "pickled.npz", fps=50.0)


def test_kp2d_h5_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    kp = Keypoints2D(rng.uniform(0, 900, (8, 33, 2)), rng.uniform(0, 1, (8, 33)), "blazepose33", 59.94, "v.mp4",
                     (1920, 1080), np.arange(8) % 3 == 0)
    write_kp2d_h5(tmp_path / "k.h5", kp)
    back = read_keypoints(tmp_path / "k.h5")
    np.testing.assert_array_equal(back.kp2d_px, kp.kp2d_px)
    np.testing.assert_array_equal(back.conf, kp.conf)
    np.testing.assert_array_equal(back.interpolated, kp.interpolated)
    assert (back.fps, back.skeleton, back.image_size, back.source) == (59.94, "blazepose33", (1920, 1080), "v.mp4")


def test_bad_2d_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_keypoints(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_keypoints(tmp_path / "bad.json", fps=30)
    (tmp_path / "bad.h5").write_bytes(b"garbage")
    with pytest.raises(InputError, match="HDF5"):
        read_keypoints(tmp_path / "bad.h5")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(InputError, match="suffix"):
        read_keypoints(tmp_path / "x.txt")
    np.savez(tmp_path / "wide.npz", keypoints=np.zeros((4, 25, 2)))
    with pytest.raises(InputError, match="skeleton"):
        read_keypoints(tmp_path / "wide.npz", fps=30)


def test_openpose_folder_input(shared_data):
    folder = shared_data / "pose2sim_demo" / "single_balancing" / "pose_2d" / "cam02_json"
    kp = read_keypoints(folder, fps=60.0)
    assert kp.skeleton == "body25b" and kp.num_frames == 100
    h = kp.to_h36m()
    assert h.kp2d_px.shape == (100, 17, 2) and (h.conf > 0).mean() > 0.9
