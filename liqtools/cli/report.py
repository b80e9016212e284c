"""``liqtools report``: a standalone HTML page (heatmap, map, clusters, cascade) that opens offline."""

from __future__ import annotations

import argparse

from liqtools.cli._common import load, model_options, output_path, view
from liqtools.cli.cascade import cascade_depth, cascade_options

__all__ = ["register"]


def cmd_report(args: argparse.Namespace) -> int:
    from liqtools.plotting.report import write_report

    output = output_path(args.output, force=args.force)  # before any work: a regular file, its folder exists
    df = load(args)
    v = view(args, df)
    path = write_report(output, v, df, inline=not args.cdn, depth_usd=cascade_depth(args), shock=args.shock, impact=args.impact)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print("\n".join(v.sentences()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="standalone HTML report: heatmap, map, clusters, cascade and momentum",
        description="A standalone HTML page (opens offline) with the heatmap, the map and clusters, the cascade "
        "after a shock (square-root impact, documented depth) and the momentum event study; the model is in "
        "docs/model.md.",
    )
    model_options(p)
    p.add_argument("-o", "--output", default="liqtools-report.html", help="HTML file to write (default liqtools-report.html)")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.add_argument("--cdn", action="store_true", help="load BokehJS from the CDN instead of embedding it (smaller file, needs internet)")
    cascade_options(p)
    p.set_defaults(func=cmd_report)
