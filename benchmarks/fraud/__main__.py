"""`python -m benchmarks.fraud`: see `report.py`."""

import sys

from benchmarks.fraud.report import main

if __name__ == "__main__":
    sys.exit(main())
