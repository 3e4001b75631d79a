"""Entry point of the ``textspotter`` command.

Each subcommand lives in ``textspotter.cli.<name>`` and exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their subcommand runs, so a slow or optional dependency of one subcommand never
slows down or breaks another.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

SUBCOMMANDS: dict[str, str] = {
    "read": "OCR images and PDFs and print or write the results",
    "models": "list the model registry (parameters and state-dict entries per module)",
    "synth": "generate synthetic annotated document pages",
    "corpus": "fetch real documents (Debian packages) and render them into a labelled dataset",
    "train": "train the detector, recognizer and relational model",
    "eval": "score an engine on a dataset with the project's metrics",
    "bench": "run several engines side by side on several datasets",
    "serve": "run the NIM-compatible HTTP service",
    "batch": "OCR a large corpus on Ray Data",
}


def _module(name: str):  # noqa: ANN202 - returns a module
    return importlib.import_module(f"textspotter.cli.{name}")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    from textspotter import __version__

    parser = argparse.ArgumentParser(prog="textspotter", description="Pure-PyTorch document OCR.")
    parser.add_argument("--version", action="version", version=f"textspotter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            _module(name).add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    if selected not in SUBCOMMANDS:
        selected = None
    parser = build_parser(selected)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(_module(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`textspotter read doc.pdf | head`): stop quietly, as other Unix tools do.
        # Python would otherwise report the error again when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell shows for a tool that the signal stopped


if __name__ == "__main__":
    sys.exit(main())
