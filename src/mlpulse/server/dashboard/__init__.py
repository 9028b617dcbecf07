"""The web dashboard, served by the collector at ``/``.

Server-rendered pages (Jinja2) behind a session cookie bought with a read-scoped API
key; charts drawn in the browser by ECharts from small JSON endpoints; htmx for partial
updates and actions. Modules:

==================  ==============================================================
``assets``          ECharts and htmx from the npm folder, own static files, favicon
``sessions``        signed session cookies, the signing secret in the data directory
``guards``          session checks, redirects to login, CSRF and admin checks
``auth_routes``     ``/login``, ``/logout``
``page_routes``     the pages and their htmx partials
``data_routes``     the charts' JSON
``action_routes``   acknowledge an alert, add a silence
``templating``      Jinja2 environment, filters, security headers
``time_range``      the range picker's ranges and bucket sizes
``metric_series``   bucketed metric series, whole model against segments
``chart_data``      the JSON shapes the charts are drawn from
``model_health``    the overview's rows, from the live versions' fresh points
``sparklines``      the overview's traffic sparklines (inline SVG)
``model_charts``    the model page's charts
``model_tables``    the model page's tables: versions, data quality, segments
``experiment_view`` estimates and sequential boundaries of an experiment
``business_view``   KPIs per hour beside technical metrics, and their correlations
``slo_routes``      the SLO page and its burn-rate charts' JSON
``slo_view``        SLO cards, burn-rate charts and the overview's budget badges
==================  ==============================================================

``app.include_router(dashboard.router)`` is all the collector needs.
"""

from __future__ import annotations

from fastapi import APIRouter

from mlpulse.server.dashboard import (
    action_routes,
    assets,
    auth_routes,
    data_routes,
    page_routes,
    slo_routes,
)

router = APIRouter(include_in_schema=False)
for _module in (assets, auth_routes, page_routes, slo_routes, data_routes, action_routes):
    router.include_router(_module.router)

__all__ = ["router"]
