"""`python -m workers`: the same as `reviewflow worker`."""

import sys

from workers.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
