"""The SLO page in a real browser: the seeded SLO's budget bar, burn-rate chart and
alerts, the overview's budget badge, no JavaScript errors."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import SLO, SLO_WINDOWS, Seeded
from tests.browser.test_dashboard_browser import (
    _charts,
    _check_charts,
    _open,
    _screenshot,
    admin_context,
)

__all__ = ["admin_context"]  # the fixture, imported for the tests below


def test_slo_page_draws_the_budget_bar_burn_chart_and_alerts(
    admin_context: BrowserContext, seeded: Seeded, artifacts_dir: Path
) -> None:
    watched = _open(admin_context, "/slos?range=7d")
    page = watched.page
    try:
        charts = _charts(page)
    finally:
        _screenshot(page, artifacts_dir, "slos")

    section = page.locator(f"section.slo[data-slo={SLO}]")
    expect(section).to_have_count(1)
    expect(section.locator("li.objective strong")).to_have_text("99%")
    bar = section.locator(".budget-bar")
    expect(bar).to_be_visible()
    assert 0 <= float(bar.get_attribute("aria-valuenow") or "-1") <= 100
    # The four default burn-rate alerts, each firing or not.
    expect(section.locator("table.slo-alerts tbody tr")).to_have_count(4)
    _check_charts(charts, [f"burn-{SLO}"])
    (chart,) = [c for c in charts if c["name"] == f"burn-{SLO}"]
    # 7 days in 30-minute buckets over the two seeded days: about 96 buckets a window.
    assert int(chart["points"]) >= 90 * len(SLO_WINDOWS), chart
    assert watched.problems() == []
    page.close()


def test_overview_shows_the_models_budget_badge_linking_to_the_slo_page(
    admin_context: BrowserContext, seeded: Seeded
) -> None:
    watched = _open(admin_context, "/")
    page = watched.page
    badge = page.locator("table#models tr[data-model=fraud] td.budget a.badge")
    expect(badge).to_have_count(1)
    assert badge.inner_text().endswith("%")
    assert SLO in (badge.get_attribute("title") or "")
    with page.expect_navigation():
        badge.click()
    assert page.url.endswith("/slos")
    assert watched.problems() == []
    page.close()
