"""The ``cnnbench`` command line: one sub-command per job, each in its own module.

Every sub-command lives in a module that exposes ``configure_parser(parser)`` (adds its
arguments) and ``run(args) -> int`` (does the work, returns the exit code). The modules
are imported lazily so that ``cnnbench --help`` stays fast and a sub-command that does not
need TensorFlow never imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: sub-command name -> (module path, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("suite.demo", "train a scratch MLP and a scratch CNN on digits8x8"),
    "run": ("suite.run_command", "run a benchmark matrix (TOML) and store the results"),
    "validate": ("suite.commands.validate", "check that scratch_cnn computes what Keras computes"),
    "report": ("reports.command", "build tables, plots and an HTML report from results"),
    "profile": ("suite.commands.profile", "time a scratch training step per layer vs TensorFlow"),
    "compare": ("suite.commands.compare", "is NEW slower than BASE? two results stores, per cell"),
    "worker": ("suite.commands.worker", "serve benchmark units to a Dask scheduler, one at a time"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command that is installed.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each sub-parser carries its module in ``_command_module``.
    """
    parser = argparse.ArgumentParser(
        prog="cnnbench",
        description="Benchmark a from-scratch CNN engine side by side with Keras.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_path, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as error:
            # Only hide a sub-command whose own module is absent; a missing dependency
            # inside an existing module must surface as the real error.
            if error.name != module_path:
                raise
            continue
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.configure_parser(sub)
        sub.set_defaults(_command_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cnnbench`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The process exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_command_module", None) is None:
        parser.print_help()
        return 2
    return int(args._command_module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
