"""`python -m exporter` is the same as the `usage-exporter` console script."""

import sys

from exporter.cli.main import main

sys.exit(main())
