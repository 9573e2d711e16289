"""The ``lift3d`` command: data, training, evaluation, tracking, inference and rendering subcommands."""

from __future__ import annotations

import argparse
import logging
import sys

from lift3d import __version__
from lift3d.cli import data as data_cmd
from lift3d.cli import selfsup as selfsup_cmd
from lift3d.cli import train as train_cmd
from lift3d.cli import video as video_cmd
from lift3d.errors import Lift3DError

log = logging.getLogger("lift3d")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lift3d", description="Video of people to 3D human pose sequences.",
    )
    parser.add_argument("--version", action="version", version=f"lift3d {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cmd.register(sub)
    train_cmd.register(sub)
    video_cmd.register(sub)
    selfsup_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose + 1, 2), format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except Lift3DError as e:
        print(f"lift3d: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lift3d: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
