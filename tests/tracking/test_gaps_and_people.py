import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.tracking.gaps import INTERPOLATED_CONF_SCALE, fill_gaps
from lift3d.tracking.people import follow_person


def _seq(T=10, J=3):
    kp = np.stack([np.full((J, 2), 10.0 * t) for t in range(T)]).astype(np.float32)  # (T, J, 2)
    return kp, np.full((T, J), 0.8, np.float32)


def test_short_gap_is_interpolated_and_flagged():
    kp, conf = _seq()
    kp[3:5], conf[3:5] = 0.0, 0.0
    out, c, flags = fill_gaps(kp, conf, max_gap=2)
    np.testing.assert_allclose(out[3:5], [np.full((3, 2), 30.0), np.full((3, 2), 40.0)])
    np.testing.assert_allclose(c[3:5], INTERPOLATED_CONF_SCALE * 0.8)
    assert flags.tolist() == [False] * 3 + [True] * 2 + [False] * 5


def test_long_gaps_and_ends_stay_missing():
    kp, conf = _seq()
    conf[2:6] = 0.0  # 4 frames > max_gap
    conf[0] = 0.0  # an end: nothing to interpolate from
    conf[9] = 0.0
    _, c, flags = fill_gaps(kp, conf, max_gap=3)
    assert not flags.any()
    assert (c[[0, 2, 3, 4, 5, 9]] == 0).all()


def test_each_joint_is_filled_across_its_own_gap_only_up_to_max_gap():
    kp, conf = _seq()
    conf[4] = 0.0  # the person lost for one frame
    conf[5, 1] = 0.0  # joint 1 also missing in the next: its own gap is frames 4-5
    out, c, flags = fill_gaps(kp, conf, max_gap=1)
    assert c[4, 1] == 0 and c[5, 1] == 0  # 2 frames > max_gap
    np.testing.assert_allclose(out[4, [0, 2]], np.full((2, 2), 40.0))
    assert flags[4]  # the person's frame is filled (joints 0 and 2)
    out, c, _ = fill_gaps(kp, conf, max_gap=2)
    np.testing.assert_allclose(out[4:6, 1], [[40.0, 40.0], [50.0, 50.0]])
    np.testing.assert_allclose(c[4:6, 1], INTERPOLATED_CONF_SCALE * 0.8)


def test_a_joint_dropped_alone_is_filled_between_its_own_neighbours():
    kp, conf = _seq(T=8, J=3)  # joint 2 always seen
    kp[:, 1] += 5.0
    conf[2, 0] = 0.6  # the lower side sets the filled confidence
    kp[3, 1], conf[3, 1] = 0.0, 0.0
    kp[3:5, 0], conf[3:5, 0] = 0.0, 0.0
    out, c, flags = fill_gaps(kp, conf, max_gap=2)
    np.testing.assert_allclose(out[3, 1], [35.0, 35.0])
    np.testing.assert_allclose(out[3:5, 0], [[30.0, 30.0], [40.0, 40.0]])
    np.testing.assert_allclose(c[3, 1], INTERPOLATED_CONF_SCALE * 0.8)
    np.testing.assert_allclose(c[3:5, 0], INTERPOLATED_CONF_SCALE * 0.6)
    assert not flags.any()  # the person never left the frame
    _, c0, _ = fill_gaps(kp, conf, max_gap=0)
    np.testing.assert_array_equal(c0, conf)


def _people(boxes):
    """Frames of people given as (x, y, size) squares of 4 joints."""
    frames = []
    for frame in boxes:
        kp = np.array([[[x, y], [x + s, y], [x, y + s], [x + s, y + s]] for x, y, s in frame], np.float32).reshape(-1, 4, 2)
        frames.append((kp, np.ones(kp.shape[:2], np.float32)))
    return frames


def test_follows_the_first_pick_even_when_a_larger_person_appears():
    frames = _people([[(0, 0, 100)], [(2, 0, 100)], [(300, 0, 400), (4, 0, 100)], [(6, 0, 100), (300, 0, 400)]])
    kp, conf, idx = follow_person(frames, "largest")
    assert idx.tolist() == [0, 0, 1, 0]
    assert kp[:, 0, 0].tolist() == [0, 2, 4, 6]


def test_person_rule_and_index():
    frames = _people([[(0, 0, 50), (200, 0, 100)], [(0, 0, 50), (200, 0, 100)]])
    assert follow_person(frames, "largest")[2].tolist() == [1, 1]
    assert follow_person(frames, 0)[2].tolist() == [0, 0]
    with pytest.raises(InputError, match="person must be"):
        follow_person(frames, "tallest")
