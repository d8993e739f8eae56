"""The ``dbapp`` command's entry point: Ctrl-C while Python is still importing is quiet."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # os._exit skips the interpreter's own flush: the message would be lost.
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def main() -> None:
    """Run the CLI; until it is imported and built, Ctrl-C exits 130 without a traceback."""
    signal.signal(signal.SIGINT, _interrupted)
    from typer.main import get_command

    from dbapp.cli import app

    # Building the click command (reading every option's type hints) is start-up too.
    command = get_command(app)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command(prog_name="dbapp")
