"""``python -m ferrograd <command>``: the parser that dispatches to each command's module."""

from __future__ import annotations

import argparse

from ferrograd.cli import compare, demo


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the chosen command, return its exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m ferrograd",
        description="ferrograd: scalar reverse-mode autodiff with a Rust core.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    demo.register(commands)
    compare.register(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))
