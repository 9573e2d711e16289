"""Multi-view 2D to 3D labels without 3D ground truth: synchronised views, calibrated triangulation, self-calibration, label files."""
