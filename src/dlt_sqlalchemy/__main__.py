"""`python -m dlt_sqlalchemy doctor [URL]`: the same command line as the `dlt-sqlalchemy` script."""

import sys

from dlt_sqlalchemy.cli import main

if __name__ == "__main__":
    sys.exit(main())
