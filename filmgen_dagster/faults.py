"""Fault injection for tests and rehearsals, and which failures are worth retrying.

``FILMGEN_FAIL_SHOTS`` names shots whose clip step fails: comma-separated shot keys
(``tide-clock__s02-01``) or ``FILM:INDEX`` (the INDEX-th shot of that film, 1-based). An item ending
in ``~transient`` fails only the first try, with a timeout, to rehearse retries.
"""

from __future__ import annotations

import os

import dagster as dg

from filmgen_dagster.domain import FilmPlan, Shot

FAIL_SHOTS_ENV = "FILMGEN_FAIL_SHOTS"


class InjectedFault(RuntimeError):
    pass


def raise_if_injected(plan: FilmPlan, shot: Shot, retry_number: int) -> None:
    index = next(i for i, s in enumerate(plan.shots, start=1) if s.key == shot.key)
    for item in filter(None, (part.strip() for part in os.environ.get(FAIL_SHOTS_ENV, "").split(","))):
        target, transient, _ = item.partition("~transient")
        film, _, number = target.partition(":")
        if target != shot.key and not (number.isdigit() and film == plan.film_key and int(number) == index):
            continue
        if not transient:
            raise InjectedFault(f"injected failure of shot {shot.key} ({FAIL_SHOTS_ENV}={item})")
        if retry_number == 0:
            raise TimeoutError(f"injected transient timeout of shot {shot.key} ({FAIL_SHOTS_ENV}={item})")


def is_transient(exc: BaseException) -> bool:
    """Out of GPU memory, a timeout or a dropped connection may pass on a second try; bugs do not."""
    return isinstance(exc, (TimeoutError, ConnectionError)) or type(exc).__name__ == "OutOfMemoryError"


def retry_later(context: dg.AssetExecutionContext, exc: BaseException) -> dg.RetryRequested:
    """Retry a transient failure twice, waiting 2 s then 4 s (exponential backoff)."""
    context.log.warning(f"transient failure, retrying: {exc}")
    return dg.RetryRequested(max_retries=2, seconds_to_wait=2 * 2**context.retry_number)
