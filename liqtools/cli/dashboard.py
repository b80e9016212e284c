"""``liqtools dashboard``: serve the interactive dashboard (Voila) on 127.0.0.1."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def cmd_dashboard(args: argparse.Namespace) -> int:
    from liqtools.app import serve_dashboard

    return serve_dashboard(args.port, open_browser=args.open)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the interactive dashboard (Voila) on 127.0.0.1 on the bundled sample")
    p.add_argument("--port", type=int, help="port (default: a free one)")
    p.add_argument("--open", action="store_true", help="open it in the default web browser")
    p.set_defaults(func=cmd_dashboard)
