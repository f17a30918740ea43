"""Why a DBAPI driver could not be imported: not installed, or installed but broken.

`import pyodbc` fails the same way (an `ImportError` whose `name` is `pyodbc`) whether pip never
installed pyodbc or the package is there and its compiled module cannot load `libodbc.so.2`.
"Install pyodbc" is the wrong advice for the second case: pip already did, and doing it again
changes nothing. Python tells the two apart by class (a package that is absent raises
`ModuleNotFoundError`; a module found but failing to load raises a plain `ImportError`), and the
loader's own text names the shared library it could not open. Nothing here depends on a driver:
any driver whose import fails on a system library is reported the same way.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from dlt_sqlalchemy.exceptions import DriverImportFailed, MissingDriver

# a shared library named in the dynamic loader's message, on Linux (`libodbc.so.2: cannot open
# shared object file`) and macOS (`Library not loaded: /opt/homebrew/.../libodbc.2.dylib`)
_LIBRARY = re.compile(r"([\w.+-]+\.so(?:\.\d+)*|[\w.+-]+\.dylib|[\w.+-]+\.dll)\b", re.IGNORECASE)
# the loader's words when the module was found but a library it links to was not
_LOADER_FAILED = re.compile(
    r"cannot open shared object file|library not loaded|image not found|dll load failed|"
    r"undefined symbol|wrong ELF class|symbol not found",
    re.IGNORECASE,
)

_UNIXODBC = (
    "the unixODBC library (Debian/Ubuntu: `apt-get install unixodbc`, RHEL/Fedora:"
    " `dnf install unixODBC`, macOS: `brew install unixodbc`) and an ODBC driver for your"
    " database; for SQL Server, Microsoft's `msodbcsql18` (https://learn.microsoft.com/sql/"
    "connect/odbc/linux-mac/installing-the-microsoft-odbc-driver-for-sql-server)"
)
# system packages of the libraries drivers link to, by the library's name (checked in order)
_SYSTEM_LIBRARIES = (
    (re.compile(r"^libodbc", re.IGNORECASE), _UNIXODBC),
    (
        re.compile(r"^libpq\b", re.IGNORECASE),
        "PostgreSQL's client library libpq (Debian/Ubuntu: `apt-get install libpq5`), or the"
        ' self-contained wheel: `pip install "psycopg[binary]"`',
    ),
    (
        re.compile(r"^lib(mysqlclient|mariadb)", re.IGNORECASE),
        "the MySQL/MariaDB client library (Debian/Ubuntu: `apt-get install libmariadb3`), or a"
        " pure-Python driver: `pip install pymysql` and a `mysql+pymysql://` URL",
    ),
)
# drivers whose import needs a system library even where the loader does not name it (Windows)
_DRIVER_LIBRARIES = {"pyodbc": _UNIXODBC}


def driver_import_error(drivername: str, ex: ImportError, install_hint: str) -> MissingDriver:
    """`MissingDriver` for a driver that is not installed; `DriverImportFailed` (a subclass, so
    code catching `MissingDriver` still catches it) for one that is installed but fails to load,
    naming what is really missing."""
    if isinstance(ex, ModuleNotFoundError) or not str(ex):
        return MissingDriver(drivername, ex.name, install_hint)
    reason = _first_line(str(ex))
    library = shared_library_of(ex)
    system = _system_remedy(library, ex.name)
    if system is not None:
        remedy = f"Install {system}."
    elif library is not None:
        remedy = (
            f"Install the system package that provides `{library}` with your system's package"
            " manager (it is usually named after the library); pip cannot install it."
        )
    else:
        remedy = f"Reinstall or upgrade it in the environment the pipeline runs in: {install_hint}."
    return DriverImportFailed(drivername, ex.name, reason, library, remedy)


def shared_library_of(ex: ImportError) -> Optional[str]:
    """The shared library the dynamic loader could not open, as its message names it."""
    message = str(ex)
    if not _LOADER_FAILED.search(message):
        return None
    for match in _LIBRARY.finditer(message):
        name = os.path.basename(match.group(1))
        if ex.path and name == os.path.basename(ex.path):
            continue  # the driver's own compiled module, not what it links to
        return name
    return None


def _system_remedy(library: Optional[str], module: Optional[str]) -> Optional[str]:
    for pattern, remedy in _SYSTEM_LIBRARIES:
        if library is not None and pattern.search(library):
            return remedy
    return _DRIVER_LIBRARIES.get(module or "")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else text
