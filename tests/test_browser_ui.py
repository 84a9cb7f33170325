"""A whole film from the Dagster UI alone, clicked through in headless Chromium like a user would.

The stories sensor registers the film; the user opens the `story` asset, clicks "Materialize…", picks
the film's partition and launches the run; the sensors render every shot and assemble the film. The
user then looks at the shot partitions of `clip`, the latest `keyframe` with its thumbnail and the latest
`clip` with its animated preview.
Screenshots of every step land in tests/artifacts/ (and `failure.png` + `failure.html` when it breaks).

Chromium comes from Debian (`make test-system-deps`); the `playwright` package is only its driver
(`playwright install` is never needed). FILMGEN_CHROMIUM overrides the browser executable.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright import sync_api
from playwright.sync_api import expect

from conftest import ROOT
from dagster_dev import DagsterDev, ui_environment
from filmgen_dagster.assets.keyframe import THUMBNAIL_WIDTH
from filmgen_dagster.quality import SAMPLE_SIZE

FILM = "the-night-market"
SHOTS = [f"{FILM}__s01-01", f"{FILM}__s01-02", f"{FILM}__s02-01"]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UI_TIMEOUT_MS = 60_000  # dagster dev on 2 CPUs can take a while to answer the first queries
FILM_TIMEOUT_S = 480


def chromium_executable() -> str:
    path = os.environ.get("FILMGEN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(f"{path} not found: install Chromium ('sudo apt-get install chromium', or make test as root)")
    return path


@pytest.fixture
def dagster_ui(tmp_path):
    env, variables = ui_environment(tmp_path)
    server = DagsterDev(variables, tmp_path / "dagster-dev.log")
    try:
        server.start()
        yield env, server
    finally:
        server.stop()


@pytest.fixture
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("failure*"):
        stale.unlink()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, animations="disabled")


@contextlib.contextmanager
def artifacts_on_failure(page, log: Path):
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        with contextlib.suppress(Exception):
            (ARTIFACTS / "failure.html").write_text(page.content(), encoding="utf-8")
        with contextlib.suppress(Exception):
            shutil.copyfile(log, ARTIFACTS / "failure-dagster-dev.log")
        raise


def open_asset(page, ui: DagsterDev, path: str) -> None:
    page.goto(f"{ui.url}{path}")
    # Every asset page has the Materialize button once its definition has loaded.
    expect(page.get_by_role("button", name="Materialize…")).to_be_visible()


def show_preview(page, source: str, width: int) -> None:
    """Open the `preview` markdown of the asset page's latest materialization: an image from ``source``
    (a data URL prefix) that the browser has loaded at ``width`` pixels."""
    page.get_by_text("Show Markdown").first.click()
    image = page.get_by_role("dialog").filter(has_text="preview").locator(f"img[src^='{source}']").first
    expect(image).to_be_visible()
    page.wait_for_function(f"img => img.complete && img.naturalWidth === {width}", arg=image.element_handle())


@pytest.mark.timeout(FILM_TIMEOUT_S + 420)
def test_whole_film_from_the_dagster_ui_in_a_browser(dagster_ui, page):
    env, ui = dagster_ui
    with artifacts_on_failure(page, ui.log):
        ui.wait_for("the film partition", lambda: FILM in env.instance().get_dynamic_partitions("films"), timeout=120)

        # The story asset, as the user finds it in the catalog.
        open_asset(page, ui, "/assets/story")
        # A fresh instance greets the user once with "Join the Dagster community"; Skip is remembered.
        if ui.query("{ shouldShowNux }")["shouldShowNux"]:
            page.get_by_role("button", name="Skip").click()
            expect(page.get_by_text("Join the Dagster community")).to_be_hidden()
            saved = lambda: not ui.query("{ shouldShowNux }")["shouldShowNux"]  # noqa: E731
            ui.wait_for("the dismissal to be saved", saved, timeout=30, every=1)
        expect(page.get_by_text("Never materialized")).to_be_visible()
        shoot(page, "01-story-asset.png")

        # Materialize… opens the partition dialog of the dynamic `films` partitions: pick the film.
        page.get_by_role("button", name="Materialize…").first.click()
        dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize story")
        expect(dialog).to_be_visible()
        dialog.get_by_text("Select a partition or create one").click()
        page.get_by_placeholder("Filter partitions").fill(FILM)
        page.get_by_role("menuitem").filter(has_text=FILM).first.click()
        dialog.get_by_text("Launch runs to materialize story").click()  # closes the partition picker
        expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
        launch = dialog.get_by_role("button", name=re.compile(r"^Launch (1 run|run|backfill)$"))
        expect(launch).to_be_enabled()
        shoot(page, "02-partition-dialog.png")

        launch.click()
        toast = page.get_by_text(re.compile(r"Launched (run [0-9a-f]{8}|backfill)")).first
        expect(toast).to_be_visible()
        expect(dialog).to_be_hidden()
        shoot(page, "03-launched.png")
        if launched := re.search(r"Launched run ([0-9a-f]{8})", toast.inner_text()):
            run = next(r for r in env.instance().get_runs() if r.run_id.startswith(launched[1]))
            assert run.tags["dagster/partition"] == FILM

        # Nothing else is clicked: the sensors plan, render every shot and assemble the film.
        ui.wait_for(
            "the final cut",
            lambda: ui.partition_statuses("final_cut")["materializedPartitions"] == [FILM],
            timeout=FILM_TIMEOUT_S,
            every=5,
        )
        assert ui.partition_statuses("clip")["materializedPartitions"] == SHOTS

        # The shot partitions of `clip`: all three materialized, none failed, missing or running.
        open_asset(page, ui, "/assets/clip?view=partitions")
        expect(page.get_by_text("Materialized (3)", exact=True)).to_be_visible()
        for other in ("Failed", "Materializing", "Missing"):
            page.get_by_text(f"{other} (0)", exact=True).click()  # show only materialized partitions
            expect(page.get_by_role("checkbox", name=f"{other} (0)", exact=True)).not_to_be_checked()
        for shot in SHOTS:
            expect(page.get_by_text(shot, exact=True).first).to_be_visible()
        shoot(page, "04-clip-partitions.png")

        # The latest keyframe: its metadata carries a markdown thumbnail that renders as an image.
        open_asset(page, ui, "/assets/keyframe")
        expect(page.get_by_text(re.compile(rf"^{FILM}__s\d\d-\d\d$")).first).to_be_visible()
        expect(page.get_by_text("storyboard", exact=True).first).to_be_visible()  # the backend metadata
        shoot(page, "05-keyframe.png")
        show_preview(page, "data:image/jpeg", THUMBNAIL_WIDTH)
        shoot(page, "06-keyframe-preview.png")

        # The latest clip: its preview is an animated GIF of the shot's camera move.
        open_asset(page, ui, "/assets/clip")
        show_preview(page, "data:image/gif", SAMPLE_SIZE[0])
        shoot(page, "07-clip-preview.png")
