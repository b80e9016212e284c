"""``liqtools`` command line: the same functions as the Python API, for headless use.

    liqtools clusters                    # clusters at the end of the bundled sample
    liqtools clusters --format json      # machine-readable
    liqtools report -o report.html       # standalone HTML page (opens offline)
    liqtools momentum                    # event study around the current clusters of the sample
    liqtools validate                    # predicted vs realized liquidations (bundled sample)

One module per command (``liqtools/cli/<command>.py``, each with a ``register(subparsers)``); the
options every command shares live in ``_common``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from liqtools.cli import benchmark, cascade, clusters, dashboard, fetch, momentum, report, validate
from liqtools.errors import LiqtoolsError

__all__ = ["build_parser", "main"]

COMMANDS = (clusters, report, cascade, dashboard, fetch, momentum, validate, benchmark)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqtools",
        description="See and measure leverage liquidations: estimated liquidation clusters from candles and open interest.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LiqtoolsError as exc:
        print(f"liqtools: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `liqtools clusters | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
