"""Fault injection for tests and rehearsals, and which failures are worth retrying.

``FILMGEN_FAIL_SHOTS`` names shots whose clip step fails: comma-separated shot keys
(``tide-clock__s02-01``) or ``FILM:INDEX`` (the INDEX-th shot of that film, 1-based).
"""

from __future__ import annotations

import os

from filmgen_dagster.domain import FilmPlan, Shot

FAIL_SHOTS_ENV = "FILMGEN_FAIL_SHOTS"


class InjectedFault(RuntimeError):
    pass


def raise_if_injected(plan: FilmPlan, shot: Shot) -> None:
    index = next(i for i, s in enumerate(plan.shots, start=1) if s.key == shot.key)
    for item in filter(None, (part.strip() for part in os.environ.get(FAIL_SHOTS_ENV, "").split(","))):
        film, _, number = item.partition(":")
        if item == shot.key or (number.isdigit() and film == plan.film_key and int(number) == index):
            raise InjectedFault(f"injected failure of shot {shot.key} ({FAIL_SHOTS_ENV}={item})")


def is_transient(exc: BaseException) -> bool:
    """Out of GPU memory, a timeout or a dropped connection may pass on a second try; bugs do not."""
    return isinstance(exc, (TimeoutError, ConnectionError)) or type(exc).__name__ == "OutOfMemoryError"
