from pathlib import Path

import h5py
import numpy as np
import pytest

from lift3d.data.mocap_h5 import MultiViewWriter, read_multiview_h5
from lift3d.errors import InputError


def _write(path: Path, V=2, T=10):
    rng = np.random.default_rng(0)
    with MultiViewWriter(path, config={"a": 1}) as w:
        w.write(
            "ds__f__x", dict(subject="cmu:01", action="walk", fps=30.0, split="train"),
            rng.normal(size=(T, 17, 3)), rng.normal(size=(V, T, 17, 2)), rng.uniform(size=(V, T, 17)),
            rng.normal(size=(V, T, 17, 2)),
            dict(K=np.tile(np.eye(3), (V, 1, 1)), R=np.tile(np.eye(3), (V, 1, 1)), t=np.zeros((V, 3)),
                 dist=np.zeros((V, 5)), image_size=np.tile([640, 480], (V, 1))),
        )


def test_round_trip_and_contract(tmp_path: Path):
    p = tmp_path / "d.h5"
    _write(p)
    with h5py.File(p) as f:
        g = f["ds__f__x"]
        assert g.attrs["subject"] == "cmu:01" and g.attrs["fps"] == 30.0
        assert g["pose3d_world_m"].shape == (10, 17, 3) and g["pose3d_world_m"].dtype == np.float32
        assert g["kp2d_px"].shape == (2, 10, 17, 2) and g["conf"].shape == (2, 10, 17)
        assert g["cameras/K"].shape == (2, 3, 3) and g["cameras/image_size"].shape == (2, 2)
    (seq,) = read_multiview_h5(p)
    assert seq.num_views == 2 and seq.num_frames == 10 and seq.fps == 30.0
    assert seq.pose3d_world_m is not None


def test_without_ground_truth_reads_no_3d(tmp_path: Path):
    p = tmp_path / "d.h5"
    _write(p)
    with h5py.File(p, "a") as f:  # a file with the 3D removed still reads when ground truth is not asked for
        del f["ds__f__x/pose3d_world_m"]
        del f["ds__f__x/kp2d_clean_px"]
    (seq,) = read_multiview_h5(p, ground_truth=False)
    assert seq.pose3d_world_m is None and seq.kp2d_clean_px is None
    with pytest.raises(InputError, match="lacks 'pose3d_world_m'"):
        read_multiview_h5(p)


def test_failed_write_leaves_nothing(tmp_path: Path):
    p = tmp_path / "d.h5"
    with pytest.raises(RuntimeError):
        with MultiViewWriter(p):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_files_are_named(tmp_path: Path):
    with pytest.raises(InputError, match="missing.h5: file not found"):
        read_multiview_h5(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="junk.h5: not a readable HDF5"):
        read_multiview_h5(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something"
    with pytest.raises(InputError, match="not a lift3d.mocap-multiview file"):
        read_multiview_h5(other)
    with pytest.raises(InputError, match="does not exist"):
        _write(tmp_path / "no_dir" / "x.h5")
