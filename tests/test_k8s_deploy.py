"""The Kubernetes deployment in deploy/k8s, checked without a cluster: the step pods dagster-k8s
would create from our definitions, and the Helm values and image that deploy them."""

from __future__ import annotations

import importlib
import re
import tomllib

import dagster as dg
import pytest
import yaml
from dagster_k8s import k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)

from conftest import ROOT
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.executors import EXECUTOR_ENV

DEPLOY = ROOT / "deploy" / "k8s"
GPU_ASSETS = {"keyframe", "shot_narration", "clip", "music"}
JOBS = ("film_setup_job", "shot_job", "film_assembly_job")


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())


@pytest.fixture(scope="module")
def k8s_jobs():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EXECUTOR_ENV, "k8s")
        defs = build_definitions()
    # Definitions load against the current instance's state storage; give them one of their own rather
    # than whatever an earlier test in this process left current.
    with dg.instance_for_test():
        return [defs.resolve_job_def(name) for name in JOBS]


def _step_pod(values: dict, tags: dict[str, str], name: str):
    """The Job dagster-k8s builds for one step: the run launcher's config, then the op's tags."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    context = K8sContainerContext(
        run_k8s_config=UserDefinedDagsterK8sConfig(container_config=launcher["runK8sConfig"]["containerConfig"])
    ).merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags)))
    image = values["dagster-user-deployments"]["deployments"][0]["image"]
    return construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=f"{image['repository']}:{image['tag']}", dagster_home="/opt/dagster/dagster_home"),
        ["dagster", "api", "execute_step"],
        f"dagster-step-{name.replace('_', '-')}",
        context.run_k8s_config,
        component="step_worker",
    )


def test_every_stage_runs_its_steps_as_pods(k8s_jobs):
    assert [job.executor_def for job in k8s_jobs] == [k8s_job_executor] * len(JOBS)


def test_gpu_steps_ask_for_one_gpu_and_the_rest_for_none(k8s_jobs, values):
    seen = set()
    for job in k8s_jobs:
        for node in job.graph.node_defs:
            seen.add(node.name)
            pod = _step_pod(values, node.tags, node.name).spec.template.spec
            resources = pod.containers[0].resources
            limits = resources.limits or {}
            assert resources.requests == {"cpu": "250m", "memory": "512Mi"}, node.name
            if node.name in GPU_ASSETS:
                assert limits == {"nvidia.com/gpu": "1"}, node.name
                assert [(t.key, t.effect) for t in pod.tolerations] == [("nvidia.com/gpu", "NoSchedule")]
            else:
                assert "nvidia.com/gpu" not in limits and not pod.tolerations, node.name
    assert GPU_ASSETS < seen


def test_helm_values_deploy_this_code_location_on_postgres_and_s3(values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    module = args[args.index("--module-name") + 1]
    assert hasattr(importlib.import_module(module), "defs")
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env[EXECUTOR_ENV] == "k8s" and (ROOT / "profiles" / f"{env['FILMGEN_PROFILE']}.yaml").is_file()
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    assert values["global"]["postgresqlSecretName"] and values["generatePostgresqlPasswordSecret"] is False
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"]
    assert values["concurrency"]["pools"]["granularity"] == "op"
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert monitoring["enabled"] is True and monitoring["freeSlotsAfterRunEndSeconds"] > 0


def test_the_image_installs_what_the_code_location_needs():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    install = re.search(r"pip install .*'\.\[([a-z0-9,]+)\]'", dockerfile)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert install and {"studio", "k8s"} <= set(install.group(1).split(",")) <= set(extras)
    assert "-c .ci/constraints.txt" in dockerfile
