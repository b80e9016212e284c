"""``liqtools`` command line: the same functions as the Python API, for headless use.

    liqtools clusters                    # clusters at the end of the bundled sample
    liqtools clusters --format json      # machine-readable
    liqtools report -o report.html       # standalone HTML page (opens offline)
    liqtools momentum                    # event study around the current clusters of the sample
    liqtools validate                    # predicted vs realized liquidations (bundled sample)
    liqtools scan --jobs J.csv -o R.parquet   # one task over many markets, on Dask
    liqtools watch --replay btc          # the bundled sample's crash, alerts included (live: EXCHANGE SYMBOL)

Exit status: 0 done; 2 a refusal, as one line on stderr (bad options, unusable files, times outside the
data, an output path that is not a new regular file without ``--force``); 1 an unexpected internal error,
as one short line (``liqtools --debug COMMAND ...`` shows its traceback).

One module per command (``liqtools/cli/<command>.py``, each with a ``register(subparsers)``); the
options every command shares live in ``_common``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import NoReturn

from liqtools.cli import (
    benchmark,
    cascade,
    clusters,
    dashboard,
    fetch,
    momentum,
    positions,
    report,
    scan,
    validate,
    watch,
)
from liqtools.cli._common import cli_words
from liqtools.errors import LiqtoolsError

__all__ = ["build_parser", "main"]

COMMANDS = (clusters, report, cascade, dashboard, fetch, positions, momentum, validate, benchmark, scan, watch)


def _warn_line(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    """A warning as one line on stderr (not the source line Python shows by default)."""
    print(f"liqtools: warning: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (status 2): the usage is one ``--help`` away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="liqtools",
        description="See and measure leverage liquidations: estimated liquidation clusters from candles and open interest.",
        epilog="The model behind every number, with known answers, and the layout of your own data: docs/model.md.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status.

    0 done; 2 a refusal with one line on stderr (bad input or options, unusable files, no data: anything
    liqtools foresees, and argparse's usage errors); 1 an unexpected internal error, as one short line
    that says to rerun with ``--debug`` for the traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_line
            return int(args.func(args))
    except LiqtoolsError as exc:
        print(f"liqtools: error: {cli_words(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `liqtools clusters | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("liqtools: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if args.debug:
            traceback.print_exc(file=sys.stderr)
            return 1
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"liqtools: internal error: {type(exc).__name__}: {first[:300]} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
