"""Lifting models: 2D pose sequences to 3D. Model files hold no training code (nanoGPT style)."""

from lift3d.models.tcn import TCN, TCNConfig, baseline_config_matching, count_parameters

__all__ = ["TCN", "TCNConfig", "baseline_config_matching", "count_parameters"]
