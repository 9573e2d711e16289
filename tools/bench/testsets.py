"""The held-out test set every lifter benchmark uses, built once and cached under runs/bench/."""

from __future__ import annotations

from pathlib import Path

from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
from lift3d.data.noise_2d import NoiseConfig
from lift3d.data.virtual_cameras import VirtualCameraConfig

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "runs" / "bench"

# Held-out subjects of every dataset (shared/data/README.md), 4 virtual views, detector-like 2D at level 0.2.
# The 2D conditions every lifter benchmark reports: (label, evaluate's input_2d, fraction of joints masked).
CONDITIONS = (("clean", "clean", 0.0), ("noisy", "noisy", 0.0), ("noisy + 30% masked", "noisy", 0.3))
TEST_SET = BuildMocapConfig(split="test", views=4, fps=30.0, seed=12345, noise=NoiseConfig(level=0.2))
# The val split seen the same way, for choices a benchmark makes before it touches the test set.
VAL_SET = BuildMocapConfig(split="val", views=4, fps=30.0, seed=54321, noise=NoiseConfig(level=0.2))
# The held-out subjects under domain shift: cameras higher (2.6-3.4 m, against 0.5-2.2 m in training) and wider
# (85-100 degrees horizontal field of view, against 45-75), 2D noise level 0.5 (training draws 0-0.4).
SHIFTED_TEST_SET = BuildMocapConfig(split="test", views=4, fps=30.0, seed=24680, noise=NoiseConfig(level=0.5),
                                    cameras=VirtualCameraConfig(height_m=(2.6, 3.4), hfov_deg=(85.0, 100.0)))

SHIFTED_VAL_SET = BuildMocapConfig(split="val", views=4, fps=30.0, seed=13579, noise=NoiseConfig(level=0.5),
                                   cameras=SHIFTED_TEST_SET.cameras)


def _cached(cfg: BuildMocapConfig, data_dir=None) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    shifted = "_shifted" if cfg.cameras != VirtualCameraConfig() else ""
    path = CACHE / f"{cfg.split}_split_v{cfg.views}_noise{cfg.noise.level}_seed{cfg.seed}{shifted}.h5"
    if not path.exists():
        build_mocap_dataset(cfg, path, data_dir=data_dir)
    return path


def test_set(data_dir=None) -> Path:
    return _cached(TEST_SET, data_dir)


def val_set(data_dir=None) -> Path:
    return _cached(VAL_SET, data_dir)


def shifted_test_set(data_dir=None) -> Path:
    return _cached(SHIFTED_TEST_SET, data_dir)


def shifted_val_set(data_dir=None) -> Path:
    return _cached(SHIFTED_VAL_SET, data_dir)
