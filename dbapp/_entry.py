"""The ``dbapp`` command's entry point: Ctrl-C while Python is still importing is quiet."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("interrupted\n")
    os._exit(130)


def main() -> None:
    """Run the CLI; until it is imported, Ctrl-C exits 130 without a traceback."""
    signal.signal(signal.SIGINT, _interrupted)
    from dbapp.cli import app

    signal.signal(signal.SIGINT, signal.default_int_handler)
    app(prog_name="dbapp")
