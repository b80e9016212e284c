"""Running ``liqtools.cli.main`` in-process for the CLI tests."""

import contextlib
import io

from liqtools.cli import main


def run(argv):
    """(status, stdout, stderr) of ``main(argv)`` in-process; argparse's exits count as statuses."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
    return status, out.getvalue(), err.getvalue()
