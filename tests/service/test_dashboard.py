"""The dashboard in a real browser: Debian's Chromium (Playwright) against a real `finder serve`.

One server (SQLite, an API key, `--no-dispatcher`) and one browser serve the whole module; each
test has its own browser context. The module's jobs run on a dispatcher in this process, on the
session's Ray: stub jobs (`tests.service.utils.stub_jobs`: a job's progress as the library
reports it, and results real jobs wrote), but for the form's range test, a real one, whose
curve the page draws. The assertions read what the page shows
(and what each chart plots and draws, and where its markers stand) and compare it with the API's
answer.
The tuning view shows the search a stub job reports: its range test's steps, its trials'
epochs, and a tuning result a real search wrote.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from signal import SIGKILL
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    expect,
    sync_playwright,
)
from sqlalchemy import create_engine, select

from service import Settings
from service.api.models import DEFAULT_FAMILIES, FamilyName
from service.core.db import Job, create_db_engine
from service.jobs import dispatch, tasks
from service.jobs.dispatch import Dispatcher
from tests.service.utils import stub_jobs
from tests.service.utils.browser import CHROMIUM, CHROMIUM_ARGS, RECORD_PROGRESS, set_key_script
from tests.service.utils.charts import assert_drawn, assert_plots, plotted, x_on_page
from tests.service.utils.files import tiny_dataset_npz
from tests.service.utils.jobs import KEY_A
from tests.service.utils.servers import Server, service_env, start_server
from tests.utils.processes import wait_for
from tests.utils.ray_nodes import RayCluster

JOB_TIMEOUT_MS = 120_000
PHASES = ("range_test", "tuning")
# A range test that finishes in seconds and still shows suggestions, bounds and proposals.
QUICK_BODY = {
    "model": {"builtin": "mlp"},
    "data": {"builtin": "fashion_mnist_sample"},
    "range": {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": 40},
    "repeats": 2,
    "plan": {"epochs": 3},
}
# Stable LRs, so it runs long enough to be watched and cancelled.
LONG_BODY = {
    "model": {"builtin": "fashion_cnn"},
    "data": {"builtin": "fashion_mnist_sample"},
    "range": {"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 2000},
    "repeats": 1,
    "validation": False,
}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('dashboard-db') / 'jobs.db'}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, service_database: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    env = service_env(service_database, root / "data")
    command = ("serve", "--no-dispatcher", "--log-level", "warning")
    server = start_server(env, root / "service.log", command)
    try:
        yield server
    finally:
        server.clean_up()


@pytest.fixture(scope="module")
def dispatcher(
    tmp_path_factory: pytest.TempPathFactory,
    server: Server,
    service_database: str,
    ray_cluster: RayCluster,
) -> Iterator[Dispatcher]:
    """The server's jobs' dispatcher, in this process on the session's Ray (as a `finder
    worker` beside the API): stub jobs, unless a test asks for real ones (`real_jobs`)."""
    settings = Settings(
        database_url=service_database,
        data_dir=tmp_path_factory.mktemp("dispatcher"),
        poll_interval_s=0.1,
        progress_interval_s=0.05,
    )
    engine = create_db_engine(service_database)
    runner = Dispatcher(settings, engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatch, "run_job_remote", stub_jobs.remote_function())
        runner.start()
        try:
            yield runner
        finally:
            runner.stop()
            engine.dispose()


@pytest.fixture
def real_jobs(dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The jobs this test submits run real range tests (TensorFlow, training)."""
    monkeypatch.setattr(dispatch, "run_job_remote", tasks.run_job_remote)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (scripts/test.sh does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=20_000)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.add_init_script(RECORD_PROGRESS)
    # Uncaught errors in the page, and anything the Content-Security-Policy blocked.
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    context.on("weberror", lambda error: problems.append(f"uncaught: {error.error}"))
    context.on("console", on_console)
    yield context
    context.close()
    assert not problems, problems


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab with no key yet."""
    return context.new_page()


@pytest.fixture
def keyed_page(context: BrowserContext) -> Page:
    """A tab whose session already holds the right key."""
    context.add_init_script(set_key_script(KEY_A))
    return context.new_page()


# --- helpers ---------------------------------------------------------------------------------


def api(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    response = server.request(method, path, **kwargs)
    assert response.is_success, response.text
    return response.json()


def wait_job(server: Server, job_id: str, statuses: set[str]) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        job = api(server, "GET", f"/jobs/{job_id}")
        return job if job["status"] in statuses else None

    return wait_for(reached, JOB_TIMEOUT_MS / 1000, f"job {job_id} to reach {statuses}", every=0.5)


@pytest.fixture(scope="module")
def succeeded_job(server: Server, dispatcher: Dispatcher) -> dict[str, Any]:
    """A succeeded range test with proposals: the one the form test ran, or a new one."""
    for job in api(server, "GET", "/jobs", params={"status": "succeeded"})["data"]:
        if job["kind"] == "find_lr" and job["request"].get("plan"):
            return api(server, "GET", f"/jobs/{job['id']}")
    job_id = api(server, "POST", "/find-lr", json=QUICK_BODY)["id"]
    return wait_job(server, job_id, {"succeeded"})


def fill_form(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def job_id_from_url(page: Page) -> str:
    match = re.search(r"#/jobs/([0-9a-f]{32})$", page.url)
    assert match, page.url
    return match.group(1)


def progress_seen(page: Page) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = page.evaluate("window.finderProgress")
    return seen


# --- tests -----------------------------------------------------------------------------------


def test_page_needs_no_key_and_stays_out_of_the_api_schema(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None  # no inline script
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/js/app.js" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "javascript" in client.get("/static/js/app.js").headers["content-type"]
    assert "/" not in client.get("/openapi.json").json()["paths"]
    # The API itself still wants the key.
    assert client.get("/jobs").status_code == 401


def test_key_form_guards_the_dashboard(page: Page) -> None:
    page.goto("/")
    form = page.get_by_test_id("key-form")
    expect(form).to_be_visible()
    key = page.get_by_label("Key", exact=True)
    expect(key).to_be_focused()

    key.fill("not-the-key-0123456789")
    page.get_by_role("button", name="Use this key").click()
    expect(form.get_by_role("alert")).to_have_text("The service refused this key.")
    expect(key).to_have_attribute("aria-invalid", "true")

    key.fill(KEY_A)
    key.press("Enter")
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    expect(page.get_by_text("API key set")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('finder.apiKey')") == KEY_A


def test_submit_from_the_form_and_watch_it_live(
    keyed_page: Page, server: Server, real_jobs: None
) -> None:
    page = keyed_page
    page.goto("/#/jobs")
    page.get_by_role("link", name="New job").first.click()
    expect(page.get_by_role("heading", name="New range test")).to_be_visible()
    expect(page.get_by_label("Range test", exact=True)).to_be_checked()
    expect(page.get_by_test_id("tuning-fields")).to_be_hidden()
    page.get_by_label("Model", exact=True).select_option("builtin:mlp")
    page.get_by_label("Data", exact=True).select_option("builtin:fashion_mnist_sample")
    page.get_by_label("Optimizer", exact=True).select_option("sgd")
    fill_form(
        page,
        {
            "Momentum": "0.5",
            "Min learning rate": "1e-4",
            "Max learning rate": "10",
            "Steps per sweep": "40",
            "Repeats": "2",
            "Plan: epochs": "3",
        },
    )
    page.get_by_role("button", name="Start range test").click()

    # The job view follows the queued job through its event stream.
    expect(page).to_have_url(re.compile(r"#/jobs/[0-9a-f]{32}$"))
    job_id = job_id_from_url(page)
    live = page.get_by_test_id("live")
    expect(live).to_be_visible()
    expect(live.get_by_role("button", name="Cancel job")).to_be_enabled()
    request = api(server, "GET", f"/jobs/{job_id}")["request"]
    assert request["range"]["num_steps"] == 40 and request["repeats"] == 2
    assert request["optimizer"] == {"name": "sgd", "settings": {"momentum": 0.5}}
    assert request["plan"] == {"epochs": 3, "steps_per_epoch": None}

    status = page.get_by_test_id("job-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    seen = progress_seen(page)
    assert any(s["status"] == "running" for s in seen), seen
    assert any(s["status"] == "running" and s["steps"] > 0 for s in seen), seen
    expect(live).to_have_count(0)

    job = api(server, "GET", f"/jobs/{job_id}")
    assert job["status"] == "succeeded"
    result = job["result"]

    chart = page.get_by_test_id("range-chart")
    expect(chart).to_be_visible()
    # Each curve and the sweeps' band plot the API's numbers, and the canvas shows the curves.
    series = plotted(chart)
    assert_plots(series["curve-raw"][0], result["lrs"], result["losses"])
    assert_plots(series["curve-smoothed"][0], result["lrs"], result["smoothed_losses"])
    assert_plots(series["curve-val"][0], result["val_lrs"], result["val_losses"])
    upper, lower = series["repeats-band"]
    assert_plots(upper, result["lrs"], result["repeats"]["loss_upper"])
    assert_plots(lower, result["lrs"], result["repeats"]["loss_lower"])
    for curve in ("curve-raw", "curve-smoothed", "curve-val"):
        assert_drawn(chart, curve)
    # One labelled marker per suggestion the API gives, standing at the API's LR.
    markers = chart.get_by_test_id("suggestion-marker")
    suggested = {name: lr for name, lr in result["suggestions"].items() if lr is not None}
    assert suggested, result["suggestion_notes"]
    expect(markers).to_have_count(len(suggested))
    for name, lr in suggested.items():
        marker = chart.locator(f'[data-testid="suggestion-marker"][data-name="{name}"]')
        assert float(marker.get_attribute("data-lr") or "nan") == pytest.approx(lr)
        box = marker.bounding_box()
        assert box is not None and box["x"] == pytest.approx(x_on_page(chart, lr), abs=1)
        label = chart.locator(f'[data-testid="suggestion-marker-label"][data-name="{name}"]')
        expect(label).to_be_visible()
        expect(label).to_contain_text(name)
    band = chart.get_by_test_id("bounds-band")
    bounds = result["bounds"]
    assert float(band.get_attribute("data-min-lr") or "nan") == pytest.approx(bounds["min_lr"])
    assert float(band.get_attribute("data-max-lr") or "nan") == pytest.approx(bounds["max_lr"])
    box = band.bounding_box()
    assert box is not None and box["width"] > 1
    assert box["x"] == pytest.approx(x_on_page(chart, bounds["min_lr"]), abs=1)
    assert box["x"] + box["width"] == pytest.approx(x_on_page(chart, bounds["max_lr"]), abs=1)
    # The text alternative names what the chart marks.
    caption = chart.locator("figcaption")
    expect(chart).to_have_attribute("aria-describedby", caption.get_attribute("id") or "")
    for name in suggested:
        expect(caption).to_contain_text(name)
    expect(page.get_by_test_id("suggestions-table")).to_contain_text("valley")
    # What the test cost: the steps it added to the user's training.
    cost = page.locator("dl.facts div", has=page.locator("dt", has_text="Cost"))
    expect(cost.locator("dd")).to_have_text(f"{result['extra_steps']} steps")
    # The verdict (schema v2's reliability) with the API's reasons.
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_have_class(re.compile(f"verdict-{result['reliability']['verdict']}"))
    for reason in result["reliability"]["reasons"]:
        expect(verdict).to_contain_text(reason)

    # Hovering reads the curve: a crosshair and the LR and losses under the pointer; so do the
    # arrow keys.
    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = page.locator(".chart .tooltip").first
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(re.compile(r"lr \d"))
    expect(tooltip).to_contain_text("smoothed")
    page.mouse.move(0, 0)
    expect(tooltip).to_be_hidden()
    chart.focus()
    page.keyboard.press("Home")
    expect(tooltip).to_be_visible()
    first_lr = next(x for x, y in series["curve-raw"][0] if y is not None)
    assert chart.evaluate("({ uplot: u }) => u.data[0][u.cursor.idx]") == first_lr


def test_schedules_chart_parameters_and_copy(
    keyed_page: Page, succeeded_job: dict[str, Any]
) -> None:
    page = keyed_page
    proposals = succeeded_job["result"]["proposals"]
    assert proposals
    page.goto(f"/#/jobs/{succeeded_job['id']}")
    cards = page.get_by_test_id("proposal")
    expect(cards).to_have_count(len(proposals))
    first = cards.first
    expect(first).to_have_attribute("data-family", proposals[0]["family"])
    schedule = first.get_by_test_id("schedule-chart")
    expect(schedule).to_be_visible()
    curve = proposals[0]["curve"]
    assert_plots(plotted(schedule)["schedule-curve"][0], curve["steps"], curve["lrs"], log_x=False)
    assert_drawn(schedule, "schedule-curve")

    first.get_by_text("Parameters and code").click()
    params = first.get_by_test_id("schedule-params")
    expect(params).to_be_visible()
    for name in proposals[0]["spec"]["params"]:
        expect(params).to_contain_text(name)
    expect(first.get_by_test_id("schedule-code")).to_contain_text("learning_rate = ")
    expect(first).to_contain_text(proposals[0]["rationale"])

    first.get_by_role("button", name="Copy Keras code").click()
    expect(first.get_by_test_id("copy-code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == proposals[0]["code"]
    first.get_by_role("button", name="Copy JSON spec").click()
    expect(first.get_by_test_id("copy-spec")).to_have_text("Copied")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == proposals[0]["spec"]

    # The server's own figure needs the key: fetched as a blob, saved as a download.
    with page.expect_download() as download:
        page.get_by_test_id("download-png").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith("-curve.png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_a_running_job_from_its_view(
    keyed_page: Page, server: Server, dispatcher: Dispatcher
) -> None:
    page = keyed_page
    job_id = api(server, "POST", "/find-lr", json=LONG_BODY)["id"]
    page.goto(f"/#/jobs/{job_id}")
    live = page.get_by_test_id("live")
    expect(live).to_be_visible()

    # The bar moves as the stream reports steps: two different step counts, while running.
    page.wait_for_function(
        "() => new Set((window.finderProgress || []).filter((p) => p.steps > 0)"
        ".map((p) => p.steps)).size >= 2",
        timeout=JOB_TIMEOUT_MS,
    )
    expect(page.get_by_test_id("job-status")).to_have_attribute("data-status", "running")
    expect(page.get_by_test_id("progress-text")).to_contain_text(re.compile(r"Step \d+ of 2000"))
    bar_value = page.get_by_test_id("progress-bar").evaluate("(bar) => bar.value")
    assert bar_value > 0

    live.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_test_id("job-status")).to_have_attribute(
        "data-status", "cancelled", timeout=60_000
    )
    expect(page.get_by_test_id("job-error")).to_contain_text("Cancelled")
    assert api(server, "GET", f"/jobs/{job_id}")["status"] == "cancelled"


def test_server_validation_errors_sit_next_to_their_fields(
    keyed_page: Page, server: Server, tmp_path: Path
) -> None:
    page = keyed_page
    before = api(server, "GET", "/jobs", params={"limit": 1})["count"]
    page.goto("/#/new")
    fill_form(page, {"Min learning rate": "1", "Max learning rate": "0.1", "Steps per sweep": "1"})
    page.get_by_role("button", name="Start range test").click()

    max_lr_error = page.get_by_test_id("error-range.max_lr")
    expect(max_lr_error).to_contain_text("max_lr must be > min_lr")
    expect(page.get_by_test_id("error-range.num_steps")).to_contain_text(
        "greater than or equal to 2"
    )
    expect(page.get_by_label("Max learning rate")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Steps per sweep")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Min learning rate")).not_to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"#/new$"))

    # A refused upload is the file field's error (415: not a .keras file).
    fill_form(
        page, {"Min learning rate": "1e-4", "Max learning rate": "10", "Steps per sweep": "40"}
    )
    page.get_by_label("Model", exact=True).select_option("upload")
    fake = tmp_path / "model.h5"
    fake.write_bytes(b"\x89HDF\r\n\x1a\n")
    page.get_by_label("Model file (.keras)").set_input_files(fake)
    page.get_by_role("button", name="Start range test").click()
    expect(page.get_by_test_id("error-model_file")).to_contain_text("only Keras v3 '.keras'")
    expect(max_lr_error).to_be_empty()

    # An accepted upload goes first, then the request, which the server still checks.
    page.get_by_label("Model", exact=True).select_option("builtin:mlp")
    page.get_by_label("Data", exact=True).select_option("upload")
    page.get_by_label("Dataset file (.npz)").set_input_files(tiny_dataset_npz(tmp_path / "d.npz"))
    fill_form(page, {"Max learning rate": "1e-5"})
    page.get_by_role("button", name="Start range test").click()
    expect(max_lr_error).to_contain_text("max_lr must be > min_lr")
    expect(page.get_by_test_id("error-data_file")).to_be_empty()
    assert api(server, "GET", "/jobs", params={"limit": 1})["count"] == before


def test_a_refused_key_brings_the_key_form_back(
    context: BrowserContext, succeeded_job: dict[str, Any]
) -> None:
    context.add_init_script(set_key_script("revoked-key-0123456789"))
    page = context.new_page()
    page.goto(f"/#/jobs/{succeeded_job['id']}")
    form = page.get_by_test_id("key-form")
    expect(form).to_be_visible()
    expect(form.get_by_role("alert")).to_contain_text("refused")
    page.get_by_label("Key", exact=True).fill(KEY_A)
    page.get_by_role("button", name="Use this key").click()
    # Back where it was going, with the key now stored.
    expect(page.get_by_test_id("range-chart")).to_be_visible()

    # A 401 in the middle of the session (the key revoked) shows the form again.
    page.evaluate("sessionStorage.setItem('finder.apiKey', 'revoked-key-0123456789')")
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(form).to_be_visible()
    expect(page.get_by_test_id("jobs-table")).to_have_count(0)


# The search test_tune's quick_tune runs, chosen on the form (families in the form's order).
TUNE_FORM = {"Steps per sweep": "40", "Repeats": "2", "Max trials": "2", "Epochs per trial": "1"}
TUNE_REQUEST = {
    "families": ["constant", "one_cycle"],
    "tuner": "random",
    "max_trials": 2,
    "epochs": 1,
    "executions_per_trial": 1,
    "objective": "val_accuracy",
    "workers": 0,
}


def shown_number(text: str) -> float | None:
    """A score as the page prints it ("—" for none)."""
    return None if text.strip() == "—" else float(text)


def test_schedule_search_from_the_form_live_then_its_trials(
    keyed_page: Page, server: Server, dispatcher: Dispatcher
) -> None:
    page = keyed_page
    page.goto("/#/jobs")
    page.get_by_role("link", name="New job").first.click()
    page.get_by_label("Schedule search").check()
    expect(page.get_by_role("heading", name="New schedule search")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/new\?kind=tune$"))
    # A plan belongs to range tests: a search sizes its schedules to its trials.
    expect(page.get_by_label("Plan: epochs")).to_be_hidden()
    page.get_by_label("Model", exact=True).select_option("builtin:mlp")
    page.get_by_label("Data", exact=True).select_option("builtin:fashion_mnist_sample")
    fill_form(page, TUNE_FORM)
    families = page.get_by_role("group", name="Families")
    for family in get_args(FamilyName):
        families.get_by_label(family, exact=True).set_checked(family in TUNE_REQUEST["families"])
    page.get_by_label("Tuner").select_option("random")
    page.get_by_label("Objective").select_option("val_accuracy")
    page.get_by_role("button", name="Start schedule search").click()

    expect(page).to_have_url(re.compile(r"#/jobs/[0-9a-f]{32}$"))
    job_id = job_id_from_url(page)
    job = api(server, "GET", f"/jobs/{job_id}")
    assert job["kind"] == "tune"
    assert job["request"]["tuning"] == TUNE_REQUEST
    assert job["request"]["range"]["num_steps"] == 40 and job["request"]["repeats"] == 2
    expect(page.get_by_test_id("job-view")).to_contain_text("schedule search")
    expect(page.get_by_test_id("live").get_by_test_id("phases")).to_be_visible()

    expect(page.get_by_test_id("job-status")).to_have_attribute(
        "data-status", "succeeded", timeout=JOB_TIMEOUT_MS
    )
    # The panel named each phase while in it: its steps, then the trials' progress messages.
    running = [s for s in progress_seen(page) if s["status"] == "running"]
    by_phase = {phase: [s for s in running if s["phase"] == phase] for phase in PHASES}
    assert all(by_phase.values()), running
    assert all(s["currentPhase"] == s["phase"] for s in running if s["phase"]), running
    assert any(s["text"].startswith("Range test: step ") for s in by_phase["range_test"]), running
    assert all(s["text"].startswith("Tuning: ") for s in by_phase["tuning"]), running
    assert any(s["message"].startswith("trial ") for s in by_phase["tuning"]), running

    result = api(server, "GET", f"/jobs/{job_id}")["result"]
    trials = result["trials"]
    assert len(trials) == 2 and result["best"] is not None
    rows = page.get_by_test_id("trial-row")
    expect(rows).to_have_count(len(trials))
    for row, trial in zip(rows.all(), trials, strict=True):
        expect(row).to_have_attribute("data-trial-id", trial["trial_id"])
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text("—" if trial["rank"] is None else str(trial["rank"]))
        expect(cells.nth(2)).to_have_text(trial["family"])
        shown = shown_number(cells.nth(5).inner_text())
        assert shown == (None if trial["score"] is None else pytest.approx(trial["score"], 1e-3))
    expect(page.locator('[data-testid="trial-row"].best')).to_have_attribute(
        "data-trial-id", result["best_trial_id"]
    )
    best = page.get_by_test_id("tuning-best")
    expect(best).to_contain_text(result["best"]["family"].replace("_", " "))
    for name in result["best"]["params"]:
        expect(best).to_contain_text(name)
    objective = result["objective"]
    expect(best).to_contain_text(f"{objective['name']} ({objective['direction']})")

    # Its range test, drawn as a range test's view draws one.
    chart = page.get_by_test_id("range-chart")
    expect(chart).to_be_visible()
    range_test = result["range_test"]
    smoothed = plotted(chart)["curve-smoothed"][0]
    assert_plots(smoothed, range_test["lrs"], range_test["smoothed_losses"])
    suggested = [lr for lr in result["range_test"]["suggestions"].values() if lr is not None]
    expect(chart.get_by_test_id("suggestion-marker")).to_have_count(len(suggested))

    # The server draws a tuning job's figure from its range test.
    with page.expect_download() as download:
        page.get_by_test_id("download-svg").click()
    assert b"<svg" in Path(download.value.path()).read_bytes()[:2000]

    # Readable on a phone-sized window: nothing wider than the screen.
    page.set_viewport_size({"width": 400, "height": 800})
    page.wait_for_function(
        "() => document.querySelector('[data-testid=range-chart]').uplot.width < 400"
    )
    assert chart.evaluate("(figure) => figure.uplot.width") >= 100
    assert page.evaluate("document.documentElement.scrollWidth") <= 400


def test_refused_tuning_options_sit_next_to_their_fields(keyed_page: Page, server: Server) -> None:
    page = keyed_page
    before = api(server, "GET", "/jobs", params={"limit": 1})["count"]
    page.goto("/#/new")
    # The kind is a radio group: the arrow keys choose.
    page.get_by_label("Range test", exact=True).focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Schedule search")).to_be_checked()
    expect(page.get_by_role("button", name="Start schedule search")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Schedule search")).to_be_checked()

    # The families offered are the API's, its defaults checked.
    families = page.get_by_role("group", name="Families")
    boxes = families.get_by_role("checkbox")
    offered = boxes.evaluate_all("(boxes) => boxes.map((box) => [box.value, box.checked])")
    assert [value for value, _ in offered] == list(get_args(FamilyName))
    assert [value for value, checked in offered if checked] == sorted(DEFAULT_FAMILIES)

    for box in boxes.all():
        box.uncheck()
    fill_form(page, {"Steps per sweep": "40", "Max trials": "0"})
    page.get_by_role("button", name="Start schedule search").click()

    families_error = page.get_by_test_id("error-tuning.families")
    expect(families_error).to_contain_text("at least 1 item")
    expect(families).to_have_attribute("aria-describedby", re.compile("f-tuning-families-error"))
    expect(boxes.first).to_have_attribute("aria-invalid", "true")
    expect(boxes.first).to_be_focused()
    expect(page.get_by_test_id("error-tuning.max_trials")).to_contain_text(
        "greater than or equal to 1"
    )
    expect(page.get_by_label("Max trials")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Epochs per trial")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("form-alert")).to_be_empty()

    expect(page).to_have_url(re.compile(r"#/new\?kind=tune$"))
    assert api(server, "GET", "/jobs", params={"limit": 1})["count"] == before


def test_api_docs_render_offline(page: Page, server: Server) -> None:
    outside: list[str] = []

    def only_this_origin(route: Route) -> None:
        if route.request.url.startswith(f"{server.url}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_origin)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("finder")
    for method, path in [("post", "/find-lr"), ("post", "/tune"), ("get", "/jobs/{job_id}")]:
        operation = page.locator(f'.opblock-{method} .opblock-summary-path[data-path="{path}"]')
        expect(operation).to_be_visible()
    assert outside == []


def test_jobs_list_filters_and_pages(
    keyed_page: Page, server: Server, succeeded_job: dict[str, Any]
) -> None:
    page = keyed_page
    jobs = api(server, "GET", "/jobs", params={"limit": 100})
    if jobs["count"] < 2:
        for _ in range(2 - jobs["count"]):
            job_id = api(server, "POST", "/find-lr", json=QUICK_BODY)["id"]
            api(server, "POST", f"/jobs/{job_id}/cancel")
        jobs = api(server, "GET", "/jobs", params={"limit": 100})
    newest = [job["id"] for job in jobs["data"]]

    page.goto("/#/jobs?limit=10")
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(min(10, jobs["count"]))
    expect(rows.first).to_have_attribute("data-job-id", newest[0])
    expect(rows.first.locator("time")).to_have_attribute("title", re.compile(r"\d"))
    # Each row says what kind of job it is.
    kinds = {"find_lr": "range test", "tune": "schedule search"}
    shown_kinds = rows.get_by_test_id("job-kind").all_inner_texts()
    assert shown_kinds == [kinds[job["kind"]] for job in jobs["data"][:10]]

    page.get_by_label("Status").select_option("succeeded")
    expect(page).to_have_url(re.compile(r"#/jobs\?status=succeeded"))
    succeeded = api(server, "GET", "/jobs", params={"status": "succeeded"})
    expect(rows).to_have_count(min(10, succeeded["count"]))
    for status in rows.evaluate_all("(rows) => rows.map((row) => row.dataset.status)"):
        assert status == "succeeded"
    expect(page.get_by_test_id("jobs-range")).to_have_text(
        f"1–{min(10, succeeded['count'])} of {succeeded['count']}"
    )

    # One per page: Next shows the second newest, and the range says so.
    page.goto("/#/jobs?limit=1")
    expect(page.get_by_test_id("jobs-range")).to_have_text(f"1–1 of {jobs['count']}")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("jobs-range")).to_have_text(f"2–2 of {jobs['count']}")
    expect(rows.first).to_have_attribute("data-job-id", newest[1])
    expect(page.get_by_role("button", name="Previous")).to_be_enabled()
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"#/jobs/{newest[1]}$"))


def test_a_failed_job_shows_its_classified_reason(
    keyed_page: Page, server: Server, dispatcher: Dispatcher
) -> None:
    job_id = api(server, "POST", "/find-lr", json={**QUICK_BODY, "loss": "not_a_loss"})["id"]
    assert wait_job(server, job_id, {"failed"})["failure_kind"] == "input"
    keyed_page.goto(f"/#/jobs/{job_id}")
    kind = keyed_page.get_by_test_id("failure-kind")
    expect(kind).to_have_attribute("data-kind", "input")
    expect(kind).to_contain_text("not retried")
    expect(keyed_page.get_by_test_id("job-error")).to_contain_text("not_a_loss")


def test_the_jobs_list_recovers_by_itself_after_a_network_error(keyed_page: Page) -> None:
    page = keyed_page
    page.goto("/#/jobs")
    expect(page.get_by_test_id("jobs-range")).to_be_visible()
    # The network drops; the next visit to the list fails.
    listing = re.compile(r"/jobs\?")
    page.route(listing, lambda route: route.abort("internetdisconnected"))
    page.goto("/#/new")
    page.goto("/#/jobs")
    alert = page.locator("section.page .alert-region")
    expect(alert).to_contain_text("Lost the jobs list, retrying")
    page.unroute(listing)
    # No reload, no click: the list's own retry brings it back and clears the alert.
    expect(page.get_by_test_id("jobs-range")).to_be_visible(timeout=10_000)
    expect(alert).to_be_empty()


def test_the_form_offers_tuning_workers(keyed_page: Page) -> None:
    page = keyed_page
    sent: list[Any] = []

    def refuse(route: Route) -> None:
        sent.append(route.request.post_data_json)
        detail = [{"loc": ["body", "tuning", "workers"], "msg": "seen", "type": "value_error"}]
        route.fulfill(status=422, json={"detail": detail})

    page.route(re.compile(r"/tune$"), refuse)
    page.goto("/#/new?kind=tune")
    fill_form(page, {"Steps per sweep": "40", "Workers": "2"})
    page.get_by_role("button", name="Start schedule search").click()
    expect(page.get_by_test_id("error-tuning.workers")).to_contain_text("seen")
    assert sent[0]["tuning"]["workers"] == 2


def test_a_full_queue_or_a_draining_service_is_a_message_not_an_error(keyed_page: Page) -> None:
    page = keyed_page
    # The answers of a full queue (429) and of a draining service (503), as the API gives them.
    answers = [
        (429, {"detail": "The queue is full.", "limit": "max_queued_jobs", "value": 20}, "7"),
        (503, {"detail": "The service is draining.", "limit": "draining", "value": 20}, "5"),
    ]

    def refuse(route: Route) -> None:
        status, body, wait = answers.pop(0)
        route.fulfill(status=status, json=body, headers={"Retry-After": wait})

    page.route(re.compile(r"/find-lr$"), refuse)
    page.goto("/#/new")
    fill_form(page, {"Steps per sweep": "40"})
    start = page.get_by_role("button", name="Start range test")
    notice = page.get_by_test_id("notice")

    start.click()
    expect(notice).to_have_attribute("data-limit", "max_queued_jobs")
    expect(notice).to_contain_text("The queue is full: 20 jobs are waiting")
    expect(notice).to_contain_text("FINDER_MAX_QUEUED_JOBS")
    expect(notice).to_contain_text("try again in 7 s")
    expect(page.get_by_test_id("alert")).to_have_count(0)

    start.click()
    expect(notice).to_have_attribute("data-limit", "draining")
    expect(notice).to_contain_text("shutting down (draining)")
    expect(notice).to_contain_text("try again in 5 s")
    expect(page.get_by_test_id("alert")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"#/new$"))  # still on the form, to send it again
    assert not answers


def test_a_running_jobs_attempts_follow_the_stream(
    keyed_page: Page, server: Server, service_database: str, dispatcher: Dispatcher
) -> None:
    page = keyed_page
    job_id = api(server, "POST", "/find-lr", json=LONG_BODY)["id"]
    page.goto(f"/#/jobs/{job_id}")
    attempts = page.get_by_test_id("job-facts")
    expect(attempts).to_contain_text(re.compile(r"Attempts\s*1 of \d"), timeout=JOB_TIMEOUT_MS)
    engine = create_engine(service_database)

    def worker_pid() -> int | None:
        with engine.connect() as connection:
            row = connection.execute(select(Job).where(Job.id == job_id)).one()
        return row.worker_pid if row.steps_done > 0 else None

    try:
        os.kill(wait_for(worker_pid, JOB_TIMEOUT_MS / 1000, "the job's first steps"), SIGKILL)
    finally:
        engine.dispose()
    # The retry's attempt count arrives through the event stream, without a reload.
    expect(attempts).to_contain_text(re.compile(r"Attempts\s*2 of \d"), timeout=60_000)
    api(server, "POST", f"/jobs/{job_id}/cancel")
