"""OpenPose JSON folders: frame order, missing joints, person choice and tracking, skeleton detection, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.openpose import (
    OpenPoseSequence,
    detect_body25_variant,
    read_openpose_folder,
    read_openpose_frame,
    write_openpose_folder,
)
from lift3d.skeletons.tables import BODY25, BODY25B

# One real BODY_25B detection (Pose2Sim demo, cam01 frame 0, main subject): x, y, c per joint.
_TEMPLATE_B = np.array([
    505.232, 431.63, 0.664, 515.849, 410.613, 0.607, 489.417, 405.32, 0.669, 521.069, 405.425, 0.133,
    452.648, 400.017, 0.680, 521.038, 494.789, 0.714, 384.303, 478.904, 0.666, 542.041, 610.29, 0.659,
    300.143, 594.661, 0.691, 568.227, 720.712, 0.674, 268.58, 715.519, 0.707, 478.869, 736.483, 0.676,
    389.456, 725.953, 0.650, 457.99, 920.553, 0.641, 368.557, 899.416, 0.664, 421.056, 1078.38, 0.668,
    331.681, 1010.01, 0.658, 463.158, 463.215, 0.650, 515.746, 342.25, 0.685, 431.649, 1146.64, 0.677,
    447.471, 1141.34, 0.701, 400.105, 1094.02, 0.646, 326.456, 1062.48, 0.627, 310.734, 1046.81, 0.626,
    331.792, 1025.62, 0.556,
]).reshape(25, 3)


def _as_body25(xyc_b: np.ndarray) -> np.ndarray:
    """The same pose in BODY_25 order; Neck and MidHip (absent from BODY_25B) as shoulder / hip midpoints."""
    out = np.zeros((25, 3))
    for i, name in enumerate(BODY25.joints):
        if name in BODY25B.joints and name != "Neck":
            out[i] = xyc_b[BODY25B.index(name)]
    for mid, a, b in (("Neck", "LShoulder", "RShoulder"), ("MidHip", "LHip", "RHip")):
        pa, pb = xyc_b[BODY25B.index(a)], xyc_b[BODY25B.index(b)]
        out[BODY25.index(mid)] = [*(0.5 * (pa[:2] + pb[:2])), min(pa[2], pb[2])]
    return out


def _person(xyc: np.ndarray, shift=(0.0, 0.0), scale=1.0) -> dict:
    xyc = xyc.copy()
    xyc[:, :2] = xyc[:, :2] * scale + np.asarray(shift)
    return {"person_id": [-1], "pose_keypoints_2d": xyc.reshape(-1).tolist()}


def _write_frame(path, people) -> None:
    path.write_text(json.dumps({"version": 1.3, "people": people}))


def _folder(tmp_path, frames, name="cam.{:04d}.json", sub="cam_json"):
    folder = tmp_path / sub
    folder.mkdir()
    for i, people in enumerate(frames):
        _write_frame(folder / name.format(i), people)
    return folder


def test_reads_frames_in_numeric_order_and_marks_missing_joints(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    xyc = _TEMPLATE_B.copy()
    xyc[3] = 0.0  # OpenPose's "missing"
    for n in (9, 10, 100):
        _write_frame(folder / f"cam.{n}.json", [_person(xyc, shift=(n, 0.0))])
    seq = read_openpose_folder(folder, skeleton="body25b")
    assert [f.name for f in seq.frame_files] == ["cam.9.json", "cam.10.json", "cam.100.json"]
    np.testing.assert_array_equal(seq.frame_numbers, [9, 10, 100])
    assert seq.kp2d_px.shape == (3, 25, 2) and seq.kp2d_px.dtype == np.float32
    assert seq.conf.shape == (3, 25) and seq.conf.dtype == np.float32
    np.testing.assert_allclose(seq.kp2d_px[1, 0], _TEMPLATE_B[0, :2] + [10, 0], rtol=1e-6)
    assert (seq.conf[:, 3] == 0).all() and (seq.kp2d_px[:, 3] == 0).all()
    assert seq.skeleton == "body25b"


def test_openpose_keypoints_names(tmp_path):
    folder = _folder(tmp_path, [[_person(_TEMPLATE_B)]] * 3, name="video_{:012d}_keypoints.json")
    seq = read_openpose_folder(folder, skeleton="body25b")
    np.testing.assert_array_equal(seq.frame_numbers, [0, 1, 2])


def test_frame_without_people_has_zero_confidence(tmp_path):
    folder = _folder(tmp_path, [[_person(_TEMPLATE_B)], [], [_person(_TEMPLATE_B)]])
    seq = read_openpose_folder(folder, skeleton="body25b")
    assert (seq.conf[1] == 0).all() and (seq.kp2d_px[1] == 0).all()
    np.testing.assert_array_equal(seq.person_index, [0, -1, 0])
    np.testing.assert_array_equal(seq.num_people, [1, 0, 1])


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [[_person(_TEMPLATE_B, shift=rng.normal(size=2))] for _ in range(4)] + [[]]
    seq = read_openpose_folder(_folder(tmp_path, frames), skeleton="body25b")
    write_openpose_folder(seq, tmp_path / "out", prefix="cam01")
    back = read_openpose_folder(tmp_path / "out", skeleton="body25b")
    np.testing.assert_array_equal(back.kp2d_px, seq.kp2d_px)
    np.testing.assert_array_equal(back.conf, seq.conf)
    np.testing.assert_array_equal(back.frame_numbers, seq.frame_numbers)
    assert back.frame_files[0].name == "cam01_000000000000_keypoints.json"


def test_write_refuses_folder_with_other_json(tmp_path):
    seq = read_openpose_folder(_folder(tmp_path, [[_person(_TEMPLATE_B)]]), skeleton="body25b")
    out = tmp_path / "out"
    out.mkdir()
    (out / "other.0001.json").write_text("{}")
    with pytest.raises(InputError, match="other JSON"):
        write_openpose_folder(seq, out)


def test_person_choice(tmp_path):
    small = _person(_TEMPLATE_B, shift=(600, 0), scale=0.5)
    big = _TEMPLATE_B.copy()
    big[:, 2] *= 0.5  # larger but less confident
    folder = _folder(tmp_path, [[small, _person(big)]])
    assert read_openpose_folder(folder, skeleton="body25b", person="largest").person_index[0] == 1
    assert read_openpose_folder(folder, skeleton="body25b", person="most_confident").person_index[0] == 0
    assert read_openpose_folder(folder, skeleton="body25b", person=0).person_index[0] == 0
    seq = read_openpose_folder(folder, skeleton="body25b", person=5)
    assert seq.person_index[0] == -1 and (seq.conf == 0).all()


def test_tracking_keeps_the_subject_when_a_bystander_grows(tmp_path):
    """The bystander walks closer and outgrows the subject, and is alone in frame 3: the track holds."""
    frames = []
    for i in range(6):
        subject = _person(_TEMPLATE_B, shift=(2.0 * i, 0.0))
        bystander = _person(_TEMPLATE_B, shift=(700.0, -300.0), scale=0.7 + 0.2 * i)
        frames.append([subject, bystander] if i % 2 == 0 else [bystander, subject])  # order flips
    frames[3] = [frames[3][0]]  # the subject is missed: only the bystander is there
    folder = _folder(tmp_path, frames)
    seq = read_openpose_folder(folder, skeleton="body25b")
    np.testing.assert_array_equal(seq.person_index, [0, 1, 0, -1, 0, 1])
    assert (seq.conf[3] == 0).all()
    np.testing.assert_allclose(seq.kp2d_px[5, 0], _TEMPLATE_B[0, :2] + [10.0, 0.0], rtol=1e-6)
    untracked = read_openpose_folder(folder, skeleton="body25b", track_gate=None)
    np.testing.assert_array_equal(untracked.person_index, [0, 1, 1, 0, 1, 0])  # by size: bystander from 2 on


def test_tracking_merges_fragments_of_the_subject(tmp_path):
    """OpenPose split the subject into an upper and a lower body in frame 1; both halves are kept."""
    upper_joints = [BODY25B.index(n) for n in ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder",
                                               "LElbow", "RElbow", "LWrist", "RWrist", "Neck", "Head")]
    upper, lower = np.zeros((25, 3)), _TEMPLATE_B.copy()
    upper[upper_joints] = _TEMPLATE_B[upper_joints]
    lower[upper_joints] = 0.0
    bystander = _person(_TEMPLATE_B, shift=(700.0, -300.0), scale=0.5)
    frames = [[_person(_TEMPLATE_B), bystander], [bystander, _person(lower), _person(upper)]]
    seq = read_openpose_folder(_folder(tmp_path, frames), skeleton="body25b")
    np.testing.assert_allclose(seq.kp2d_px[1], _TEMPLATE_B[:, :2], rtol=1e-6)
    np.testing.assert_allclose(seq.conf[1], _TEMPLATE_B[:, 2], rtol=1e-6)
    assert seq.person_index[1] in (1, 2)


def test_track_is_dropped_after_max_lost_frames(tmp_path):
    subject, bystander = _person(_TEMPLATE_B), _person(_TEMPLATE_B, shift=(700.0, -300.0), scale=0.5)
    frames = [[subject, bystander], [bystander], [bystander], [bystander], [bystander]]
    seq = read_openpose_folder(_folder(tmp_path, frames), skeleton="body25b", max_lost=2)
    np.testing.assert_array_equal(seq.person_index, [0, -1, -1, 0, 0])


def test_auto_skeleton_by_geometry(tmp_path):
    rng = np.random.default_rng(1)
    frames_b = [[_person(_TEMPLATE_B, shift=rng.normal(scale=20, size=2))] for _ in range(5)]
    assert read_openpose_folder(_folder(tmp_path, frames_b, sub="a")).skeleton == "body25b"
    t25 = _as_body25(_TEMPLATE_B)
    frames_25 = [[_person(t25, shift=rng.normal(scale=20, size=2))] for _ in range(5)]
    assert read_openpose_folder(_folder(tmp_path, frames_25, sub="b")).skeleton == "body25"


def test_detect_body25_variant_arrays():
    kp = np.stack([_TEMPLATE_B[:, :2]] * 4)
    conf = np.stack([_TEMPLATE_B[:, 2]] * 4)
    assert detect_body25_variant(kp, conf) == "body25b"
    t25 = _as_body25(_TEMPLATE_B)
    assert detect_body25_variant(np.stack([t25[:, :2]] * 4), np.stack([t25[:, 2]] * 4)) == "body25"
    assert detect_body25_variant(kp[:2], conf[:2]) is None  # too few detections


def test_auto_skeleton_by_name_hint(tmp_path):
    frames = [[_person(_TEMPLATE_B)]] * 2  # 2 detections: geometry alone cannot decide
    assert read_openpose_folder(_folder(tmp_path, frames, sub="cam01_body25b")).skeleton == "body25b"
    t25 = _as_body25(_TEMPLATE_B)
    assert read_openpose_folder(_folder(tmp_path, [[_person(t25)]] * 2, sub="run_BODY_25")).skeleton == "body25"


def test_auto_skeleton_undecidable_asks_for_skeleton(tmp_path):
    rng = np.random.default_rng(2)
    noise = np.concatenate([rng.uniform(0, 1000, size=(25, 2)), np.full((25, 1), 0.9)], axis=1)
    frames = [[_person(noise)] for _ in range(5)]
    with pytest.raises(InputError, match="skeleton="):
        read_openpose_folder(_folder(tmp_path, frames))


def test_auto_skeleton_hint_contradicted_by_geometry(tmp_path):
    frames = [[_person(_TEMPLATE_B)]] * 5
    with pytest.raises(InputError, match="geometry says body25b"):
        read_openpose_folder(_folder(tmp_path, frames, sub="pose_body25"))


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ('{"version": 1.3}', "no 'people' list"),
        ('{"people": [{"face_keypoints_2d": []}]}', "no 'pose_keypoints_2d'"),
        ('{"people": [{"pose_keypoints_2d": [1, 2, 3, 4]}]}', "not a multiple of 3"),
        ('{"people": [{"pose_keypoints_2d": ' + str([1.0] * 54) + "}]}", "18 joints"),
        ('{"people": [{"pose_keypoints_2d": ' + str([1.0] * 74 + ["x"]).replace("'", '"') + "}]}",
         "non-numeric"),
    ],
)
def test_bad_frame_files(tmp_path, content, match):
    folder = tmp_path / "f"
    folder.mkdir()
    _write_frame(folder / "cam.0000.json", [_person(_TEMPLATE_B)])
    bad = folder / "cam.0001.json"
    bad.write_text(content)
    with pytest.raises(InputError, match=match) as info:
        read_openpose_folder(folder, skeleton="body25b")
    assert info.value.path == str(bad)


def test_read_frame_returns_all_people(tmp_path):
    path = tmp_path / "x.0.json"
    _write_frame(path, [_person(_TEMPLATE_B), _person(_TEMPLATE_B, shift=(5, 5))])
    kp, conf = read_openpose_frame(path)
    assert kp.shape == (2, 25, 2) and conf.shape == (2, 25)
    with pytest.raises(InputError, match="not found"):
        read_openpose_frame(tmp_path / "missing.json")


def test_bad_folders_and_arguments(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        read_openpose_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .json"):
        read_openpose_folder(tmp_path / "empty")
    folder = _folder(tmp_path, [[_person(_TEMPLATE_B)]])
    (folder / "notes.json").write_text("{}")
    with pytest.raises(InputError, match="no frame number"):
        read_openpose_folder(folder, skeleton="body25b")
    dup = tmp_path / "dup"
    dup.mkdir()
    _write_frame(dup / "a.0001.json", [])
    _write_frame(dup / "b.1.json", [])
    with pytest.raises(InputError, match="share frame number 1"):
        read_openpose_folder(dup, skeleton="body25b")
    with pytest.raises(InputError, match="skeleton must be"):
        read_openpose_folder(dup, skeleton="coco")
    with pytest.raises(InputError, match="person must be"):
        read_openpose_folder(dup, skeleton="body25b", person="tallest")
    with pytest.raises(InputError, match="person must be"):
        read_openpose_folder(dup, skeleton="body25b", person=-1)
    with pytest.raises(InputError, match="track_gate"):
        read_openpose_folder(dup, skeleton="body25b", track_gate=0)
    with pytest.raises(InputError, match="max_lost"):
        read_openpose_folder(dup, skeleton="body25b", max_lost=-1)


def test_sequence_is_a_plain_record():
    seq = OpenPoseSequence(
        np.zeros((2, 25, 2), np.float32), np.zeros((2, 25), np.float32), "body25", (None, None),
        np.arange(2), np.full(2, -1), np.zeros(2, np.int64),
    )
    assert seq.num_frames == 2
