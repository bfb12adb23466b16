"""One error style for every command-line tool.

``run_tool(main)`` runs a tool's ``main(argv)`` and turns the project's own errors
(``psfusion.errors.PsfusionError`` and its subclasses, which include ``DataError``) into one line
on stderr, ``error: <message>``, and exit status 2.  ``--debug`` anywhere on the command line
(each tool's parser accepts it: ``add_debug_argument``) keeps the full traceback instead.  Other exceptions are bugs and are re-raised unchanged.
"""
from __future__ import annotations

import sys
from typing import Callable, List, Optional

from .errors import PsfusionError

#: Exit status of a tool stopped by a user-fixable error (argparse uses the same for bad usage).
USAGE_ERROR = 2


def add_debug_argument(parser) -> None:
    """Add ``--debug`` to a tool's parser (``run_tool`` looks for it in ``argv``)."""
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error instead of one line')


def run_tool(main: Callable[[Optional[List[str]]], Optional[int]],
             argv: Optional[List[str]] = None) -> int:
    """Run ``main(argv)``; return its exit status, or 2 after printing ``error: ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = '--debug' in argv
    try:
        status = main(argv)
    except PsfusionError as exc:
        if debug:
            raise
        print(f'error: {exc}', file=sys.stderr)
        return USAGE_ERROR
    return 0 if status is None else int(status)
