"""``liqtools dashboard``: serve the interactive dashboard (Voila) on 127.0.0.1, with a token in the printed URL."""

from __future__ import annotations

import argparse

from liqtools.cli._common import port, whole

__all__ = ["register"]


def cmd_dashboard(args: argparse.Namespace) -> int:
    from liqtools.app import serve_dashboard

    return serve_dashboard(args.port, open_browser=args.open, token=not args.no_token, max_kernels=args.max_kernels)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the interactive dashboard (Voila) on 127.0.0.1 on the bundled sample")
    p.add_argument("--port", type=port, help="port in 1..65535, which must be free (default: a free one)")
    p.add_argument("--no-token", action="store_true",
                   help="no secret token in the URL (a classroom on one machine: anyone who reaches 127.0.0.1 can open it)")
    p.add_argument("--max-kernels", type=whole(low=1), default=8, metavar="N",
                   help="most dashboard pages open at once, one Python kernel each (default 8)")
    p.add_argument("--open", action="store_true", help="open it in the default web browser")
    p.set_defaults(func=cmd_dashboard)
