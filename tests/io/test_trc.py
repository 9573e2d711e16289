"""TRC files: round trips, units, the OpenSim header layout, axis change, marker tables, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.io.trc import (
    POSE2SIM_MARKERS,
    POSE2SIM_TO_BODY25B,
    POSE2SIM_TO_H36M,
    read_trc,
    trc_to_zup,
    write_trc,
    zup_to_trc,
)
from lift3d.skeletons.tables import BODY25B, H36M17

# An OpenSim-style file: units mm, a blank line before the data, trailing tabs, a blank (missing) marker.
_MM_TRC = (
    "PathFileType\t4\t(X/Y/Z)\twalk.trc\n"
    "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames\n"
    "100.00\t100.00\t2\t2\tmm\t100.00\t1\t2\n"
    "Frame#\tTime\tA\t\t\tB\t\t\t\n"
    "\t\tX1\tY1\tZ1\tX2\tY2\tZ2\t\n"
    "\n"
    "1\t0.000\t1000.0\t2000.0\t-3000.5\t\t\t\t\n"
    "2\t0.010\t1001.0\t2001.0\t-3001.5\t4.0\t5.0\t6.0\n"
)


def _valid_lines():
    return _MM_TRC.splitlines()


def test_reads_mm_opensim_layout(tmp_path):
    path = tmp_path / "walk.trc"
    path.write_text(_MM_TRC)
    d = read_trc(path)
    assert d.marker_names == ("A", "B")
    assert d.units == "mm" and d.fps == 100.0
    np.testing.assert_array_equal(d.frame_numbers, [1, 2])
    np.testing.assert_allclose(d.times, [0.0, 0.01])
    assert d.positions_m.shape == (2, 2, 3) and d.positions_m.dtype == np.float64
    np.testing.assert_allclose(d.positions_m[0, 0], [1.0, 2.0, -3.0005])
    assert np.isnan(d.positions_m[0, 1]).all()
    np.testing.assert_allclose(d.marker("B")[1], [0.004, 0.005, 0.006])
    with pytest.raises(KeyError, match="no marker 'C'"):
        d.marker("C")


@pytest.mark.parametrize("units, tol", [("m", 0.0), ("mm", 1e-12), ("cm", 1e-12)])
def test_round_trip(tmp_path, units, tol):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(7, 4, 3))
    pos[2, 1] = np.nan
    path = tmp_path / "x.trc"
    write_trc(path, ["a", "b", "c", "d"], pos, 59.94, units=units)
    d = read_trc(path)
    assert d.marker_names == ("a", "b", "c", "d") and d.units == units and d.fps == 59.94
    np.testing.assert_array_equal(np.isnan(d.positions_m), np.isnan(pos))
    np.testing.assert_allclose(d.positions_m, pos, rtol=0, atol=max(tol, 0.0), equal_nan=True)
    np.testing.assert_array_equal(d.frame_numbers, np.arange(1, 8))
    np.testing.assert_allclose(d.times, np.arange(7) / 59.94)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file is gone


def test_round_trip_keeps_frames_and_times_and_overwrites(tmp_path):
    path = tmp_path / "x.trc"
    path.write_text("old")
    pos = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3) / 7
    write_trc(path, POSE2SIM_MARKERS[:3], pos, 60, frame_numbers=[5, 6], times=[5 / 60, 6 / 60])
    d = read_trc(path)
    np.testing.assert_array_equal(d.positions_m, pos)
    np.testing.assert_array_equal(d.frame_numbers, [5, 6])
    np.testing.assert_array_equal(d.times, [5 / 60, 6 / 60])
    assert path.read_text().splitlines()[2].startswith("60\t60\t2\t3\tm")


def test_write_rejects_bad_arguments(tmp_path):
    pos = np.zeros((2, 3, 3))
    with pytest.raises(InputError, match=r"\(T, 2, 3\)"):
        write_trc(tmp_path / "x.trc", ["a", "b"], pos, 60)
    with pytest.raises(InputError, match="units"):
        write_trc(tmp_path / "x.trc", ["a", "b", "c"], pos, 60, units="in")
    with pytest.raises(InputError, match="fps"):
        write_trc(tmp_path / "x.trc", ["a", "b", "c"], pos, 0)
    with pytest.raises(InputError, match="tabs"):
        write_trc(tmp_path / "x.trc", ["a", "b\t", "c"], pos, 60)
    with pytest.raises(InputError, match="directory does not exist"):
        write_trc(tmp_path / "no" / "x.trc", ["a", "b", "c"], pos, 60)


def _with_line(lineno: int, text: str | None) -> str:
    """The valid file with 1-based line ``lineno`` replaced (``None``: removed)."""
    lines = _valid_lines()
    if text is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = text
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "content, match",
    [
        (_with_line(8, "2\t0.010\t1001.0\t2001.0"), r"line 8: 4 columns, expected 8.*truncated"),
        (_with_line(8, "2\t0.010\t1\t2\t3\t4\t5\t6\t7"), r"line 8: 9 columns, expected 8"),
        (_with_line(8, "2\t0.010\t1\t2\tabc\t4\t5\t6"), r"line 8: non-numeric value 'abc'"),
        (_with_line(8, "2\t0.010\t1\t2\tinf\t4\t5\t6"), r"line 8: infinite"),
        (_with_line(8, "\t0.010\t1\t2\t3\t4\t5\t6"), r"line 8: Frame# and Time"),
        (_with_line(8, None), r"1 data rows but NumFrames = 2"),
        (_with_line(3, "100\t100\t2\t2\tinch\t100\t1\t2"), r"line 3: Units 'inch'"),
        (_with_line(3, "100\t100\t2\t3\tmm\t100\t1\t2"), r"line 4: 2 marker names but NumMarkers = 3"),
        (_with_line(3, "fast\t100\t2\t2\tmm\t100\t1\t2"), r"line 3: DataRate"),
        (_with_line(2, "DataRate\tCameraRate\tNumFrames\tUnits"), r"NumMarkers' missing"),
        (_with_line(1, "hello"), r"line 1: expected 'PathFileType"),
        ("PathFileType\t4\n", r"truncated header"),
    ],
)
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.trc"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as info:
        read_trc(path)
    assert info.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_trc(tmp_path / "nope.trc")


def test_trc_to_zup_known_answer_and_inverse():
    p_trc = np.array([[1.0, 2.0, 3.0]])  # x, y (up), z
    np.testing.assert_array_equal(trc_to_zup(p_trc), [[3.0, 1.0, 2.0]])  # Z-up: height is the last axis
    rng = np.random.default_rng(0)
    p = rng.normal(size=(5, 4, 3))
    np.testing.assert_array_equal(zup_to_trc(trc_to_zup(p)), p)
    pt = torch.from_numpy(p)
    assert torch.equal(trc_to_zup(pt), torch.from_numpy(trc_to_zup(p)))
    # A proper rotation (det +1), so handedness is kept.
    perm = trc_to_zup(np.eye(3))
    assert np.isclose(np.linalg.det(perm), 1.0)


def test_pose2sim_marker_tables():
    assert len(POSE2SIM_MARKERS) == 21 and len(set(POSE2SIM_MARKERS)) == 21
    assert set(POSE2SIM_TO_BODY25B) == set(POSE2SIM_MARKERS)
    for name in POSE2SIM_TO_BODY25B.values():
        BODY25B.index(name)
    assert set(POSE2SIM_TO_H36M) <= set(POSE2SIM_MARKERS)
    assert len(set(POSE2SIM_TO_H36M.values())) == len(POSE2SIM_TO_H36M)
    for name in POSE2SIM_TO_H36M.values():
        H36M17.index(name)
