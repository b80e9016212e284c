"""``liqtools clusters``: the liquidation clusters at a moment, as a table, sentences, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys

from liqtools._format import CAVEAT, price_text, profile_text
from liqtools.cli._common import load, model_options, table, view

__all__ = ["register"]


def cmd_clusters(args: argparse.Namespace) -> int:
    df = load(args)
    v = view(args, df)
    if args.format == "json":
        payload = {
            "time": v.time.isoformat(),
            "price": v.price,
            "model": {
                "leverage": {f"{lev:g}": float(w) for lev, w in zip(v.heatmap.profile.leverages, v.heatmap.profile.weights_array)},
                "mmr": [float(m) for m in v.heatmap.profile.mmrs],
                "split": v.heatmap.split,
                "bin_size": v.heatmap.bin_size,
            },
            "clusters": v.clusters.to_dict("records"),
            "sentences": v.sentences(),
            "note": CAVEAT,
        }
        print(json.dumps(payload, indent=2))
    elif args.format == "csv":
        sys.stdout.write(v.clusters.to_csv(index=False))
    else:
        print(v.summary().splitlines()[0])
        print()
        print(table(v))
        print()
        print("\n".join(v.sentences()))
        print()
        print(f"Model: {profile_text(v.heatmap.profile)}, split {v.heatmap.split}, bins of {price_text(v.heatmap.bin_size)}.")
        print(CAVEAT)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clusters", help="liquidation clusters at a moment, as a table and sentences")
    model_options(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_clusters)
