"""`python -m benchmarks`: see benchmarks.run."""

import sys

from benchmarks import run

if __name__ == "__main__":
    sys.exit(run.main())
