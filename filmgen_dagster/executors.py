"""Which executor runs a film's steps: in one process (default), on Celery workers, or as Kubernetes pods.

Chosen per deployment with $FILMGEN_EXECUTOR, so the same jobs, sensors and UI workflow scale out
without code changes. GPU steps carry the routing tags (gpus.GPU_OP_TAGS); the rest take the
executor's defaults. `filmgen render` always runs in process (it drives the steps itself).
"""

from __future__ import annotations

import os

import dagster as dg

from filmgen_dagster.errors import UserInputError
from filmgen_dagster.project_files import install_command

EXECUTOR_ENV = "FILMGEN_EXECUTOR"
# The broker URL may hold a password: it stays in the environment, never in run config or the UI.
CELERY_BROKER_ENV = "FILMGEN_CELERY_BROKER"
EXECUTORS = ("in_process", "celery", "k8s")


def celery_config() -> dict:
    """The executor's config, also the `execution.config` block of the workers' YAML (deploy/celery)."""
    return {"broker": {"env": CELERY_BROKER_ENV}, "backend": {"env": CELERY_BROKER_ENV}}


def selected_executor() -> dg.ExecutorDefinition:
    name = os.environ.get(EXECUTOR_ENV) or "in_process"
    if name == "in_process":
        return dg.in_process_executor
    if name not in EXECUTORS:
        raise UserInputError(f"{EXECUTOR_ENV}={name!r} is not an executor; use one of {', '.join(EXECUTORS)}")
    try:
        if name == "celery":
            from dagster_celery import celery_executor

            return celery_executor.configured(celery_config(), name="celery")
        from dagster_k8s import k8s_job_executor
    except ImportError:
        raise UserInputError(
            f"{EXECUTOR_ENV}={name} needs the {name} extra: {install_command(name)}"
        ) from None
    # Step pods inherit image, env and secrets from the run launcher; GPU steps add their own
    # resources through their dagster-k8s/config tag.
    return k8s_job_executor
