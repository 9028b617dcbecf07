"""The dashboard in a real browser: log in, open every page, charts drawn from the seeded
data, no JavaScript errors, acknowledge an alert, change the range, survive a refresh.

Every page is screenshotted (full page) into $MLPULSE_ARTIFACTS or build/screenshots,
named after the page, for a person to look at.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import Seeded

NAV = ("overview", "alerts", "incidents", "experiments", "slos", "business")
RANGES = ["1h", "6h", "24h", "7d", "30d"]
MODEL_CHARTS = ["traffic", "latency", "errors", "drift-heatmap", "performance", "label-coverage"]
# The seed's drift and performance points are hourly: the last hour may hold none of them.
MINUTE_CHARTS = ["traffic", "latency", "errors"]
CHART_TIMEOUT_MS = 15_000

# Listeners added before any script of the page runs: htmx's failures (which reach no
# console) and how many swaps have settled.
WATCH_HTMX = """
window.__mlpulse = {settled: 0, failures: []};
for (const name of ["htmx:responseError", "htmx:sendError", "htmx:swapError",
                    "htmx:targetError", "htmx:onLoadError"]) {
  document.addEventListener(name, (event) => {
    const path = event.detail && event.detail.pathInfo ? event.detail.pathInfo.requestPath : "";
    window.__mlpulse.failures.push(name + " " + path);
  });
}
document.addEventListener("htmx:afterSettle", () => { window.__mlpulse.settled += 1; });
"""
# Timers of 5 s or more (htmx's "every 30s" polling, a refresh interval) fire after 1 s,
# so the auto-refresh tests see refreshes without waiting for them.
FAST_TIMERS = """
for (const name of ["setTimeout", "setInterval"]) {
  const real = window[name].bind(window);
  window[name] = (fn, ms, ...args) => real(fn, ms >= 5000 ? 1000 : ms, ...args);
}
"""


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, uncaught exceptions, 5xx."""

    page: Page
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problems(self, *expected: str) -> list[str]:
        """What went wrong, but for messages that contain one of ``expected``."""
        failures = self.page.evaluate("() => window.__mlpulse ? window.__mlpulse.failures : []")
        return [p for p in [*self.errors, *failures] if not any(e in p for e in expected)]


def _watch(page: Page) -> Watched:
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if message.type == "error":
            watched.errors.append(f"console.error: {message.text} ({where})")
        elif message.type == "warning":
            watched.warnings.append(f"console.warn: {message.text} ({where})")

    def on_response(response: Response) -> None:
        if response.status >= 500:
            watched.errors.append(
                f"HTTP {response.status} {response.request.method} {response.url}"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
    page.on("response", on_response)
    page.add_init_script(WATCH_HTMX)
    return watched


@pytest.fixture
def fresh_context(browser: Browser, seeded: Seeded) -> Iterator[BrowserContext]:
    """A browser context with no session."""
    context = browser.new_context(base_url=seeded.url, viewport={"width": 1440, "height": 900})
    try:
        yield context
    finally:
        context.close()


def _login(page: Page, key: str, next_path: str | None = None) -> None:
    page.goto("/login" + (f"?next={quote(next_path)}" if next_path else ""))
    page.fill("form[action='/login'] input[name=api_key]", key)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def _session(browser: Browser, seeded: Seeded, key: str) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=seeded.url, viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        _login(page, key)
        assert urlsplit(page.url).path == "/", f"the login did not land on / but on {page.url}"
        page.close()
        yield context
    finally:
        context.close()


@pytest.fixture(scope="package")
def admin_context(browser: Browser, seeded: Seeded) -> Iterator[BrowserContext]:
    """A context logged in (through the form) with the admin key."""
    yield from _session(browser, seeded, seeded.collector.admin_key)


@pytest.fixture(scope="package")
def read_context(browser: Browser, seeded: Seeded) -> Iterator[BrowserContext]:
    """A context logged in (through the form) with a read-only key."""
    yield from _session(browser, seeded, seeded.collector.read_key)


def _open(context: BrowserContext, path: str, *, fast_timers: bool = False) -> Watched:
    page = context.new_page()
    watched = _watch(page)
    if fast_timers:
        page.add_init_script(FAST_TIMERS)
    response = page.goto(path)
    assert response is not None and response.ok, (
        f"GET {path}: {response.status if response else 'no response'}"
    )
    assert urlsplit(page.url).path == urlsplit(path).path, f"GET {path} ended on {page.url}"
    return watched


def _charts(page: Page) -> list[dict[str, Any]]:
    """Every chart on the page, once each has finished rendering (or timed out)."""
    done = "(c) => c.dataset.rendered === 'true' || c.dataset.rendered === 'empty'"
    # On a time-out the assertions on the result say which chart did not finish.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"() => [...document.querySelectorAll('div.chart')].every({done})",
            timeout=CHART_TIMEOUT_MS,
        )
    charts: list[dict[str, Any]] = page.eval_on_selector_all(
        "div.chart",
        """charts => charts.map(c => {
            const box = c.getBoundingClientRect();
            return {name: c.dataset.chart, rendered: c.dataset.rendered ?? null,
                    points: c.dataset.points ?? null, width: box.width, height: box.height,
                    drawn: c.querySelector("canvas, svg") !== null};
        })""",
    )
    return charts


def _check_charts(charts: list[dict[str, Any]], required: list[str]) -> None:
    """Every chart finished and is visible; the required ones drew points."""
    by_name = {c["name"]: c for c in charts}
    missing = [name for name in required if name not in by_name]
    assert not missing, f"charts missing: {missing}; on the page: {sorted(by_name)}"
    for chart in charts:
        assert chart["rendered"] in ("true", "empty"), f"chart never finished rendering: {chart}"
        assert chart["width"] > 100 and chart["height"] > 100, f"chart has no room: {chart}"
        if chart["rendered"] == "true":
            assert chart["drawn"], f"chart says rendered but has no canvas or svg: {chart}"
            assert int(chart["points"] or 0) > 0, f"chart rendered without data-points: {chart}"
    empty = [by_name[name] for name in required if by_name[name]["rendered"] != "true"]
    assert not empty, f"charts empty although the seed has their data: {empty}"


def _screenshot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


# -- logging in -------------------------------------------------------------------------------


def test_login_page_has_the_form(fresh_context: BrowserContext) -> None:
    watched = _open(fresh_context, "/login")
    page = watched.page
    form = page.locator("form[method=post][action='/login']")
    expect(form).to_have_count(1)
    expect(form.locator("input[name=api_key]")).to_have_attribute("type", "password")
    csrf = form.locator("input[type=hidden][name=csrf_token]")
    expect(csrf).to_have_count(1)
    assert csrf.get_attribute("value"), "the csrf_token field is empty"
    expect(form.locator("button[type=submit]")).to_be_visible()
    assert watched.problems() == []


def test_a_bad_key_shows_an_error_and_opens_no_session(
    fresh_context: BrowserContext, artifacts_dir: Path
) -> None:
    page = fresh_context.new_page()
    watched = _watch(page)
    _login(page, "mlp_not-a-key-at-all")

    expect(page.locator(".error")).to_be_visible()
    _screenshot(page, artifacts_dir, "login")
    assert urlsplit(page.url).path == "/login"
    page.goto("/")
    assert urlsplit(page.url).path == "/login", "a bad key opened a session"
    # The refused login answers 401, which chromium logs as a failed resource.
    assert watched.problems("status of 401 (Unauthorized) (http://127.0.0.1") == []


def test_a_page_without_a_session_sends_to_login_and_back_after_it(
    fresh_context: BrowserContext, seeded: Seeded
) -> None:
    page = fresh_context.new_page()
    watched = _watch(page)
    page.goto("/alerts?range=6h")
    url = urlsplit(page.url)
    assert url.path == "/login", f"/alerts without a session ended on {page.url}"
    assert parse_qs(url.query).get("next", [""])[0].startswith("/alerts"), page.url

    page.fill("input[name=api_key]", seeded.collector.read_key)
    with page.expect_navigation():
        page.click("button[type=submit]")

    assert urlsplit(page.url).path == "/alerts", f"the login did not go back: {page.url}"
    assert any(c["name"] for c in fresh_context.cookies()), "no session cookie"
    assert watched.problems() == []


def test_the_admin_key_logs_in_to_the_models_overview(
    fresh_context: BrowserContext, seeded: Seeded
) -> None:
    page = fresh_context.new_page()
    watched = _watch(page)
    _login(page, seeded.collector.admin_key)

    assert urlsplit(page.url).path == "/"
    for model in ("fraud", "recs"):
        expect(page.locator(f"table#models tr[data-model={model}]")).to_have_count(1)
    session = [c for c in fresh_context.cookies() if c["httpOnly"]]
    assert session, f"no HttpOnly session cookie: {fresh_context.cookies()}"
    assert watched.problems() == []


# -- every page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    path: str  # {incident} and {experiment} are filled from the seed
    charts: list[str]  # charts that must draw points from the seed
    shows: list[str]  # selectors that must be on the page ({alert:<rule>} → a fingerprint)


PAGES = {
    "overview": PageSpec("/", [], ["table#models tr[data-model=fraud]"]),
    "model": PageSpec("/models/fraud", MODEL_CHARTS, ["select[name=range]"]),
    "alerts": PageSpec(
        "/alerts",
        [],
        [
            "tr[data-alert='{alert:latency-high}'] td.state",
            "tr[data-alert='{alert:errors-high}']",
            "form#silence",
        ],
    ),
    "incidents": PageSpec("/incidents", [], ["a[href*='/incidents/{incident}']"]),
    "incident": PageSpec("/incidents/{incident}", [], []),
    "experiments": PageSpec("/experiments", [], ["a[href*='/experiments/{experiment}']"]),
    "experiment": PageSpec("/experiments/{experiment}", ["estimates", "sequential"], []),
    "business": PageSpec("/business", ["kpis"], ["table#correlations"]),
}


def _fill(text: str, seeded: Seeded) -> str:
    text = text.replace("{incident}", seeded.incident_id)
    text = text.replace("{experiment}", seeded.experiment)
    return re.sub(r"\{alert:([\w-]+)\}", lambda m: seeded.alerts[m.group(1)], text)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_draws_its_charts_without_errors(
    name: str, admin_context: BrowserContext, seeded: Seeded, artifacts_dir: Path
) -> None:
    spec = PAGES[name]
    watched = _open(admin_context, _fill(spec.path, seeded))
    page = watched.page
    try:
        charts = _charts(page)
    finally:
        _screenshot(page, artifacts_dir, name)

    for nav in NAV:
        expect(page.locator(f"nav a[data-nav={nav}]")).to_have_count(1)
    for selector in spec.shows:
        expect(page.locator(_fill(selector, seeded)).first).to_be_attached()
    _check_charts(charts, spec.charts)
    if name == "business":
        rows = page.locator("table#correlations tbody tr")
        assert rows.count() > 0, "table#correlations has no rows (the seed has KPIs and metrics)"
    assert watched.problems() == []
    page.close()


def test_nav_links_lead_to_their_pages(admin_context: BrowserContext, seeded: Seeded) -> None:
    watched = _open(admin_context, "/")
    page = watched.page
    for nav, path in [
        ("alerts", "/alerts"),
        ("incidents", "/incidents"),
        ("experiments", "/experiments"),
        ("slos", "/slos"),
        ("business", "/business"),
        ("overview", "/"),
    ]:
        page.click(f"nav a[data-nav={nav}]")
        page.wait_for_url(f"{seeded.url}{path}")
    assert watched.problems() == []
    page.close()


def test_the_model_row_links_to_the_model_page(admin_context: BrowserContext) -> None:
    watched = _open(admin_context, "/")
    page = watched.page
    page.locator("table#models tr[data-model=fraud] a[href*='/models/fraud']").first.click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/models/fraud")
    _check_charts(_charts(page), MODEL_CHARTS)
    assert watched.problems() == []
    page.close()


# -- acting on alerts -------------------------------------------------------------------------


def test_an_admin_acknowledges_an_alert_with_its_button(
    admin_context: BrowserContext, seeded: Seeded
) -> None:
    fingerprint = seeded.alerts["latency-high"]
    watched = _open(admin_context, "/alerts")
    page = watched.page
    row = page.locator(f"tr[data-alert='{fingerprint}']")
    button = row.locator("button[data-action=ack]")
    expect(button).to_be_enabled()

    button.click()

    expect(row.locator("td.state")).to_contain_text("acknowledged", timeout=10_000)
    alerts = httpx.get(
        f"{seeded.url}/v1/alerts", headers=seeded.collector.headers(seeded.collector.read_key)
    ).json()["alerts"]
    (alert,) = [a for a in alerts if a["fingerprint"] == fingerprint]
    assert alert["acknowledged_by"] == "admin", alert
    page.reload()
    expect(page.locator(f"tr[data-alert='{fingerprint}'] td.state")).to_contain_text("acknowledged")
    assert watched.problems() == []
    page.close()


def test_a_read_only_session_sees_the_ack_button_disabled(
    read_context: BrowserContext, admin_context: BrowserContext, seeded: Seeded,
    artifacts_dir: Path,
) -> None:  # fmt: skip
    fingerprint = seeded.alerts["errors-high"]
    watched = _open(read_context, "/alerts")
    page = watched.page
    _screenshot(page, artifacts_dir, "alerts-read-only")
    buttons = page.locator("button[data-action=ack]")
    assert buttons.count() > 0, "no ack buttons at all"
    expect(page.locator(f"tr[data-alert='{fingerprint}']")).to_have_count(1)
    for i in range(buttons.count()):
        expect(buttons.nth(i)).to_be_disabled()
    expect(page.locator("form#silence button[type=submit]")).to_be_disabled()
    assert watched.problems() == []

    # A disabled button is a courtesy: the server refuses the action too. The request the
    # admin's button sends, sent with the read-only session (and its CSRF token).
    admin_page = admin_context.new_page()
    admin_page.goto("/alerts")
    ack = admin_page.locator(f"tr[data-alert='{fingerprint}'] button[data-action=ack]")
    action = ack.get_attribute("hx-post") or ack.get_attribute("formaction")
    admin_page.close()
    assert action, "the admin's ack button names no URL (hx-post)"
    status = page.evaluate(
        """async (url) => {
            const meta = document.querySelector('meta[name="csrf-token"]');
            const field = document.querySelector('input[name="csrf_token"]');
            const token = (meta && meta.content) || (field && field.value) || "";
            const answer = await fetch(url, {method: "POST", headers: {"X-CSRF-Token": token,
                "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"},
                body: "csrf_token=" + encodeURIComponent(token)});
            return answer.status;
        }""",
        action,
    )
    assert status in (401, 403), f"a read-only session's ack answered {status}"
    alerts = httpx.get(
        f"{seeded.url}/v1/alerts", headers=seeded.collector.headers(seeded.collector.read_key)
    ).json()["alerts"]
    (alert,) = [a for a in alerts if a["fingerprint"] == fingerprint]
    assert alert.get("acknowledged_by") is None, alert
    page.close()


def test_an_admin_adds_a_silence_with_the_form(
    admin_context: BrowserContext, seeded: Seeded
) -> None:
    watched = _open(admin_context, "/alerts")
    page = watched.page
    form = page.locator("form#silence")
    form.locator("input[name=matchers]").fill("model=recs, severity=warning")
    form.locator("input[name=duration]").fill("30m")
    form.locator("input[name=comment]").fill("browser test: recs maintenance")

    form.locator("button[type=submit]").click()

    expect(page.locator("#silences")).to_contain_text("browser test: recs maintenance")
    silences = httpx.get(
        f"{seeded.url}/v1/silences", headers=seeded.collector.headers(seeded.collector.read_key)
    ).json()["silences"]
    (silence,) = [s for s in silences if s["comment"] == "browser test: recs maintenance"]
    assert silence["matchers"] == {"model": "recs", "severity": "warning"}, silence
    assert watched.problems() == []
    page.close()


# -- the time range and refreshes -------------------------------------------------------------


def test_changing_the_range_reloads_with_range_in_the_url(admin_context: BrowserContext) -> None:
    watched = _open(admin_context, "/models/fraud")
    page = watched.page
    select = page.locator("select[name=range]")
    values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert values == RANGES
    _check_charts(_charts(page), MODEL_CHARTS)

    counts = {}
    for wanted in ("7d", "1h"):
        select.select_option(wanted)
        page.wait_for_url(re.compile(rf"[?&]range={wanted}(&|$)"))
        page.wait_for_load_state()
        charts = _charts(page)
        _check_charts(charts, MODEL_CHARTS if wanted == "7d" else MINUTE_CHARTS)
        expect(page.locator("select[name=range]")).to_have_value(wanted)
        counts[wanted] = {c["name"]: int(c["points"]) for c in charts}

    assert counts["1h"]["traffic"] <= counts["7d"]["traffic"], counts
    assert watched.problems() == []
    page.close()


@pytest.fixture
def own_admin_context(browser: Browser, seeded: Seeded) -> Iterator[BrowserContext]:
    """An admin session of the test's own (the auto-refresh choice stays in its storage)."""
    yield from _session(browser, seeded, seeded.collector.admin_key)


@pytest.mark.parametrize("name", ["model", "overview", "alerts", "business"])
def test_an_auto_refresh_keeps_the_charts_drawn(
    name: str, own_admin_context: BrowserContext, seeded: Seeded
) -> None:
    spec = PAGES[name]
    watched = _open(own_admin_context, _fill(spec.path, seeded), fast_timers=True)
    page = watched.page
    before = _charts(page)
    _check_charts(before, spec.charts)
    background: list[str] = []
    page.on(
        "request",
        lambda r: background.append(r.url) if r.resource_type in ("fetch", "xhr") else None,
    )
    refresh = page.locator("select[name=refresh]")
    assert refresh.count() == 1, "no auto-refresh control (select[name=refresh])"
    fastest = min(v for v in refresh.locator("option").evaluate_all(
        "options => options.map(o => parseInt(o.value, 10) || 0)") if v > 0)  # fmt: skip

    refresh.select_option(str(fastest))
    page.wait_for_timeout(3500)  # about three refreshes (timers of 5 s or more take 1 s)
    refresh.select_option("0")  # off, so that nothing redraws while the charts are read

    assert background, "turning auto-refresh on fetched nothing"
    after = _charts(page)
    _check_charts(after, spec.charts)
    assert sorted(c["name"] for c in after) == sorted(c["name"] for c in before)
    for selector in spec.shows:
        expect(page.locator(_fill(selector, seeded)).first).to_be_attached()
    if page.locator("[data-refresh], [hx-trigger*='every']").count():
        settled = page.evaluate("() => window.__mlpulse.settled")
        assert settled > 0, "the page's htmx parts never refreshed"
    reinitialised = [w for w in watched.warnings if "already initialized" in w]
    assert not reinitialised, f"charts were initialised twice (not disposed): {reinitialised}"
    assert watched.problems() == []
    page.close()
