"""The access table's rows of each later subject, one module per subject (command room,
dispatch, live map, numbers, planning, workload, field, the phone page): each module has a
``TABLE`` string in test_access.py's format and a ``CALLS`` dict building each row's example
request from an ``Ask``. test_access.py reads every module of this package."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def _subjects() -> list[ModuleType]:
    """Every module of this package, by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


SUBJECTS = _subjects()
