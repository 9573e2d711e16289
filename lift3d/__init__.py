"""lift3d: video of people to 3D human pose sequences."""

__version__ = "0.1.0"
