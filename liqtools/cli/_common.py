"""What every command shares: the data and model options, loading the market, the cluster view and table,
the checked option types and the output-path check."""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis.moment import ClusterView, clusters_at
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = [
    "cli_words",
    "load",
    "model_options",
    "number",
    "output_path",
    "parse_time",
    "port",
    "profile",
    "split_arg",
    "table",
    "view",
    "whole",
]


def number(*, low: float | None = None, above: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite, normal (not subnormal) float, optionally ``>= low``, ``> above``, ``<= high``."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        bounds = [f">= {low:g}"] if low is not None else []
        bounds += [f"> {above:g}"] if above is not None else []
        bounds += [f"<= {high:g}"] if high is not None else []
        want = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
        ok = math.isfinite(x) and (x == 0 or abs(x) >= sys.float_info.min)
        ok = ok and (low is None or x >= low) and (above is None or x > above) and (high is None or x <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return x

    return parse


def whole(*, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer ``>= low`` (and ``<= high``)."""

    def parse(text: str) -> int:
        try:
            x = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if x < low or (high is not None and x > high):
            span = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected an integer {span}, got {text!r}")
        return x

    return parse


#: A TCP port number.
port = whole(low=1, high=65535)


def split_arg(text: str) -> str | float:
    if text in ("both", "taker", "candle"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"split must be both, taker, candle or a number in [0, 1], got {text!r}") from None


def model_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and model")
    g.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv); default: the bundled sample")
    g.add_argument("--time", metavar="T", help="read the map after this candle (e.g. 2026-02-01T12:00); default: the last")
    g.add_argument(
        "--leverage",
        metavar="SPEC",
        help="leverage profile 'L:w,L:w,...' or one leverage; default 5:0.1,10:0.25,25:0.3,50:0.2,100:0.15",
    )
    g.add_argument("--mmr", type=number(low=0, high=1), default=0.004, help="maintenance margin rate for every tier (default 0.004)")
    g.add_argument("--split", type=split_arg, default="both", help="both | taker | candle | long share in [0, 1] (default both)")
    g.add_argument("--bin-size", type=number(above=0), metavar="USD", help="price bin width; default about 0.25%% of the price")
    g.add_argument("--every", type=whole(low=1), default=1, metavar="K",
                   help="keep every K-th heatmap snapshot (long 1-minute files need it; the map at a candle is the same)")
    c = parser.add_argument_group("clusters")
    c.add_argument("--threshold", type=number(above=0), default=1.0, help="density multiple of the side's mean bin (default 1.0)")
    c.add_argument("--gap", type=whole(low=0), default=1, help="thin bins tolerated inside a cluster (default 1)")
    c.add_argument("--max-distance", type=number(low=0), default=25.0, metavar="PCT", help="only bins within this %% of the price (default 25)")
    c.add_argument("--top", type=whole(low=1), default=5, help="clusters per side (default 5)")


#: The Python names in liqtools' messages and the CLI options that set them.
_FLAGS = {"bin_size": "--bin-size", "half_life": "--half-life", "rearm_pct": "--rearm",
          "max_distance_pct": "--max-distance", "horizons": "--horizons", "lookback": "--lookback"}


def cli_words(message: str) -> str:
    """A liqtools message in the command line's words: ``every=14`` is ``--every 14``, ``bin_size`` ``--bin-size``.

    >>> cli_words("raise every= (e.g. every=14) or bin_size=")
    'raise --every (e.g. --every 14) or --bin-size'
    """
    text = re.sub(r"\bevery=(\d+)", r"--every \1", message)
    text = re.sub(r"\bevery=", "--every", text)
    for name, flag in _FLAGS.items():
        text = re.sub(rf"(?<![-\w]){name}\b=?", flag, text)
    return text


def parse_time(text: str | None) -> pd.Timestamp | None:
    """``--time`` as a UTC timestamp (None: the last candle); text that is not a time is a DataError."""
    if text is None:
        return None
    try:
        ts = pd.Timestamp(text)
        ts = (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).as_unit("ns")
    except (ValueError, TypeError, OverflowError):  # includes OutOfBoundsDatetime (e.g. "-1" is year -1)
        ts = pd.NaT
    if pd.isna(ts):
        raise DataError(f"--time {text!r} is not a time: write it like 2026-02-01T12:00 (UTC)")
    return ts


def output_path(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Check an output file before any work: a regular file path in an existing folder, replaced only with force.

    Refuses a directory, a device, a pipe or a socket (``-o /dev/null`` would otherwise be replaced by a
    regular file), a missing parent folder (never created silently) and, without ``force``, an existing file.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> output_path(folder / "r.html", force=False) == folder / "r.html"
    True
    >>> output_path(folder, force=True)
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: cannot write to ...: it is a directory, not a file
    """
    text = os.fspath(path)
    if not text:
        raise DataError("the output path is empty")
    p = Path(text)
    try:
        mode: int | None = p.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise DataError(f"cannot write to {p}: {exc.strerror or exc}") from exc
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise DataError(f"cannot write to {p}: it is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise DataError(f"cannot write to {p}: it is not a regular file (a device, a pipe or a socket)")
        if not force:
            raise DataError(f"{p} exists: pass --force to replace it")
    if text.endswith(os.sep):
        raise DataError(f"cannot write to {p}: it names a directory, not a file")
    parent = p.parent
    if not parent.is_dir():
        raise DataError(f"cannot write {p.name}: the folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK):
        raise DataError(f"cannot write {p.name}: the folder {parent} is not writable")
    return p


def load(args: argparse.Namespace) -> pd.DataFrame:
    if args.data is not None:
        from liqtools.data.files import read_market

        return read_market(args.data)
    from liqtools.data.sample import load_sample

    return load_sample()


def profile(args: argparse.Namespace) -> LeverageProfile | None:
    """The --leverage / --mmr options as a profile (None: docs/model.md's default)."""
    if args.leverage:
        return LeverageProfile.parse(args.leverage, args.mmr)
    if args.mmr != 0.004:
        return LeverageProfile(LeverageProfile.default().weights, args.mmr)
    return None


def view(args: argparse.Namespace, df: pd.DataFrame) -> ClusterView:
    prof = profile(args)
    try:
        return clusters_at(
            df,
            parse_time(args.time),
            leverage=prof,
            split=args.split,
            bin_size=args.bin_size,
            every=args.every,
            cluster_options={"threshold": args.threshold, "gap": args.gap, "max_distance_pct": args.max_distance, "top": args.top},
        )
    except DataError as exc:
        if "too large for the snapshot matrices" in str(exc):
            raise DataError(f"{exc} (--every thins only the heatmap picture: the map and clusters at a candle stay the same)") from exc
        raise


def table(view: ClusterView) -> str:
    c = view.clusters
    if c.empty:
        return "(no clusters)"
    shown = pd.DataFrame(
        {
            "side": c["side"],
            "from": [price_text(x) for x in c["low"]],
            "to": [price_text(x) for x in c["high"]],
            "notional (est.)": [usd(x) for x in c["notional_usd"]],
            "distance": [f"{x:+.2f}%" for x in c["distance_pct"]],
            "share of side": [f"{x:.0%}" for x in c["share"]],
        }
    )
    return shown.to_string(index=False)
