"""GDAL's HTTP requests with a token: the header file that the GDAL inside pyogrio reads for
its OAPIF driver (it does not honour GDAL_HTTP_HEADERS; Debian's ogrinfo honours both)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyogrio


@contextmanager
def header_file(token: str) -> Iterator[Path]:
    """A file holding ``Authorization: Bearer <token>``, set as GDAL_HTTP_HEADER_FILE for
    the requests GDAL makes until the block ends (the file goes with it)."""
    with tempfile.TemporaryDirectory(prefix="gdal-headers-") as folder:
        path = Path(folder) / "headers.txt"
        path.write_text(f"Authorization: Bearer {token}\n", encoding="ascii")
        path.chmod(0o600)
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(path)})
        try:
            yield path
        finally:
            pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None})
