"""The `dlt-sqlalchemy` command line (also `python -m dlt_sqlalchemy`).

One subcommand so far, `doctor`: a check of credentials, driver, server and load paths that a
user can run before the first pipeline, instead of learning each problem from a failed load.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlt-sqlalchemy",
        description="Tools for the dlt-sqlalchemy destination.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    doctor = commands.add_parser(
        "doctor",
        help="check that a pipeline would load: credentials, driver, server, load paths",
        description=(
            "Checks the destination's configuration and database the way a pipeline's load step"
            " would, and tells what it found. Exits 0 when a pipeline would load, 1 when not."
            " The password is never printed."
        ),
    )
    doctor.add_argument(
        "url",
        nargs="?",
        default=None,
        help=(
            "SQLAlchemy database URL; by default the credentials are read from dlt's"
            " configuration ([destination.sqlalchemy] in .dlt/secrets.toml, or"
            " DESTINATION__SQLALCHEMY__CREDENTIALS), as a pipeline would"
        ),
    )
    doctor.add_argument(
        "--destination-name",
        default=None,
        metavar="NAME",
        help="the destination's name, which is also its config section [destination.NAME]",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status (the console script exits with it)."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.command == "doctor":
        # imported here: `--help` should not pay for dlt, SQLAlchemy and the dialects
        from dlt_sqlalchemy.doctor import doctor

        return doctor(args.url, args.destination_name)
    return 2  # pragma: no cover - argparse refuses unknown commands first
