"""Find the editable project folders (prompts/, profiles/) from a checkout or an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dir(name: str) -> Path:
    """``prompts`` or ``profiles``: $FILMGEN_<NAME>_DIR, else the checkout's folder, else the copy
    packed into the wheel (pyproject force-includes them as ``filmgen_dagster/_data/<name>``)."""
    override = os.environ.get(f"FILMGEN_{name.upper()}_DIR")
    if override:
        return Path(override)
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder of filmgen_dagster is missing; reinstall the package")
