import numpy as np

from lift3d.data.noise_2d import COCO_SIGMAS, NoiseConfig, corrupt_2d, dropout_mask, person_scale
from lift3d.skeletons import H36M17


def _clean(T=400):
    rng = np.random.default_rng(0)
    base = rng.uniform([400, 200], [600, 800], size=(17, 2))  # a 200 x 600 px person
    return np.repeat(base[None], T, axis=0)


def test_level_zero_is_exact_with_full_confidence():
    kp = _clean()
    out, conf = corrupt_2d(kp, NoiseConfig(level=0.0), np.random.default_rng(0))
    np.testing.assert_allclose(out, kp, atol=1e-3)
    assert (conf == 1).all()


def test_noise_scales_with_level_and_follows_coco_sigmas():
    kp = _clean(4000)
    s = person_scale(kp)[0]
    cfg = NoiseConfig(level=0.5, outlier_prob=0.0)
    out, conf = corrupt_2d(kp, cfg, np.random.default_rng(1))
    err = out - kp  # (T, 17, 2)
    std = err.std(axis=0).mean(axis=-1)  # per joint, per axis
    h = H36M17.index
    # Knees are sourced from one COCO keypoint each: std = level * sigma * s.
    expected_knee = 0.5 * COCO_SIGMAS[13] * s
    assert abs(std[h("l_knee")] / expected_knee - 1) < 0.1, (std[h("l_knee")], expected_knee)
    # The pelvis averages two independent hips: sqrt(2) less noisy than a hip.
    ratio = std[h("l_hip")] / std[h("pelvis")]
    assert abs(ratio - np.sqrt(2)) < 0.15, ratio
    # The head (mid-ears) is much less noisy than the hips.
    assert std[h("head")] < 0.5 * std[h("l_hip")]
    # Confidence falls with error.
    e = np.linalg.norm(err, axis=-1).ravel()
    assert np.corrcoef(e, conf.ravel())[0, 1] < -0.3


def test_noise_is_temporally_correlated():
    kp = _clean(2000)
    out, _ = corrupt_2d(kp, NoiseConfig(level=0.5, outlier_prob=0.0, smooth_frames=4.0), np.random.default_rng(2))
    e = (out - kp)[:, :, 0]
    lag1 = np.mean([np.corrcoef(e[:-1, j], e[1:, j])[0, 1] for j in range(17)])
    assert 0.3 < lag1 < 0.7, f"lag-1 autocorrelation {lag1:.2f}: expected about half white, half smooth"


def test_dropouts_in_runs_at_the_requested_rate():
    mask = dropout_mask((5000, 17), 0.1, 8.0, np.random.default_rng(3))
    frac = mask.mean()
    assert 0.06 < frac < 0.14, frac
    runs = np.diff(mask.astype(int), axis=0)
    starts = (runs == 1).sum()
    assert mask.sum() / max(starts, 1) > 4, "dropouts should come in runs of several frames"
    kp = _clean(300)
    out, conf = corrupt_2d(kp, NoiseConfig(level=0.2, dropout_prob=0.2), np.random.default_rng(4))
    assert ((conf == 0) == (out == 0).all(axis=-1)).all(), "conf 0 <=> coordinates zeroed"
    assert 0.1 < (conf == 0).mean() < 0.3
