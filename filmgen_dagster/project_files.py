"""Find the editable project folders (prompts/, profiles/) from a checkout or an installed wheel, and the
user's own folder of each ($FILMGEN_<NAME>_DIR), which adds files and overrides same-named ones."""

from __future__ import annotations

import os
from pathlib import Path

from filmgen_dagster.errors import UserInputError

_PACKAGE = Path(__file__).resolve().parent


def project_dir(name: str) -> Path:
    """The built-in ``prompts`` or ``profiles`` folder: the checkout's, else the copy packed into the
    wheel (pyproject force-includes them as ``filmgen_dagster/_data/<name>``)."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder of filmgen_dagster is missing; reinstall the package")


def project_dirs(name: str) -> list[Path]:
    """Where files of ``name`` are looked for, first match wins: $FILMGEN_<NAME>_DIR, then the built-in folder."""
    variable = f"FILMGEN_{name.upper()}_DIR"
    user = os.environ.get(variable)
    if not user:
        return [project_dir(name)]
    if not Path(user).is_dir():
        raise UserInputError(f"{variable}={user}: not a folder; point it at a folder of {name} or unset it")
    return [Path(user), project_dir(name)]


def project_file(name: str, relative: str) -> Path:
    """``relative`` (e.g. ``animatic.yaml``) in the user's folder of ``name`` if it is there, else in the
    built-in folder (which may lack it too)."""
    folders = project_dirs(name)
    return next((folder / relative for folder in folders if (folder / relative).is_file()), folders[-1] / relative)


def project_files(name: str, pattern: str) -> list[Path]:
    """The files of every folder of ``name`` matching ``pattern`` (e.g. ``styles/*.yaml``), one per file name:
    the user's where both folders have it. The user's come last, so that read in this order they also win a
    clash on what they declare (a style's ``name``)."""
    chosen: dict[str, Path] = {}
    for folder in reversed(project_dirs(name)):
        for path in sorted(folder.glob(pattern)):
            relative = path.relative_to(folder).as_posix()
            chosen.pop(relative, None)  # a replaced built-in file's place is the user's file's, at the end
            chosen[relative] = path
    return list(chosen.values())


def install_command(extra: str) -> str:
    """How to install an optional extra: into the checkout's venv, or from the index for an installed wheel."""
    if (_PACKAGE.parent / "pyproject.toml").is_file():
        return f".venv/bin/pip install -e '.[{extra}]'"
    return f"pip install 'filmgen-dagster[{extra}]'"
