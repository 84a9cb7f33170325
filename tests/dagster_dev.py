"""A real `dagster dev` (webserver + daemon) on loopback, driven through its GraphQL API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import EXAMPLES, ROOT, FilmEnv, make_film_env

LOCATION = "filmgen_dagster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ui_environment(base: Path, story: str = "night-market.fountain") -> tuple[FilmEnv, dict[str, str]]:
    """A fresh instance and a stories folder holding one example story, as `dagster dev` sees them."""
    env = make_film_env(base)
    env.home.mkdir(parents=True)
    shutil.copyfile(ROOT / "dagster.yaml", env.home / "dagster.yaml")
    stories = base / "stories"
    stories.mkdir()
    shutil.copyfile(EXAMPLES / story, stories / story)
    return env, {**env.env, "FILMGEN_STORIES_DIR": str(stories)}


class DagsterDev:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        dagster = Path(sys.executable).with_name("dagster")
        # Its own process group, so stopping it stops the webserver, daemon and code server together.
        self.process = subprocess.Popen(
            [str(dagster), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            env=self.env, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if self.query("{ version }")["version"]:
                    return
            except OSError:
                time.sleep(1)
        raise TimeoutError(f"dagster dev did not answer on {self.url}; see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def query(self, query: str, **variables) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def partition_statuses(self, asset: str) -> dict[str, list[str]]:
        data = self.query(
            """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
                 assetPartitionStatuses { ... on DefaultPartitionStatuses {
                   materializedPartitions failedPartitions materializingPartitions } } } } }""",
            key={"path": [asset]},
        )
        statuses = data["assetNodeOrError"]["assetPartitionStatuses"]
        return {k: sorted(v) for k, v in statuses.items()}

    def materialize(self, assets: list[str], partition: str) -> str:
        """What the UI's "Materialize" button does for one partition of the selected assets."""
        data = self.query(
            """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
                 __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            params={
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": [a]} for a in assets],
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            },
        )["launchPipelineExecution"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def backfill(self, assets: list[str], partitions: list[str]) -> str:
        """What the UI's backfill of the failed and missing partitions launches."""
        data = self.query(
            """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            params={"assetSelection": [{"path": [a]} for a in assets], "partitionNames": partitions},
        )["launchPartitionBackfill"]
        assert data["__typename"] == "LaunchBackfillSuccess", data
        return data["backfillId"]

    def wait_for(self, what: str, condition, timeout: float = 400, every: float = 3):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := condition():
                return result
            time.sleep(every)
        raise TimeoutError(f"waited {timeout:.0f}s for {what}; see {self.log}")
