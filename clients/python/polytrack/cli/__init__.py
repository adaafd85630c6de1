"""The `polytrack` command line: `polytrack server`, `polytrack db upgrade`, ...

Each command group lives in its own module and registers itself on the parser; a command returns
its exit status. Errors a user can fix are printed as one line on stderr with exit status 2
(usage) or 1 (anything else), never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from polytrack.cli import (
    artifact_commands,
    conformance_commands,
    model_commands,
    server_commands,
    sync_commands,
    tracking_commands,
)


class CommandError(Exception):
    """A failure to report to the user as one line, with exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polytrack",
        description="polytrack: experiment tracking, artifacts and a model registry (MLflow-compatible).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    artifact_commands.register(commands)
    server_commands.register(commands)
    sync_commands.register(commands)
    tracking_commands.register(commands)
    model_commands.register(commands)
    conformance_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `polytrack` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (CommandError, ValueError) as error:
        print(f"polytrack {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
