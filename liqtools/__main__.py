import sys

from liqtools.cli import main

sys.exit(main())
