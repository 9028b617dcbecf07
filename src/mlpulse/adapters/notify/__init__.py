"""Notifiers: the :class:`mlpulse.ports.Notifier` port over Slack, PagerDuty, Opsgenie,
a generic (Alertmanager-compatible) webhook and email.

Each makes one attempt per ``send`` and reports it as a
:class:`~mlpulse.domain.alerts.DeliveryResult`; retries, backoff and dead-lettering are
the outbox's. :func:`build_notifier` makes one from a receiver's settings, and
:func:`settings_problems` checks settings without building anything (when a config is
validated). Numbers and booleans may be written as text (``port: "587"``):

=========  ==========================  =================================================
kind       required                    optional (defaults)
=========  ==========================  =================================================
slack      url                         timeout (10), rate_per_s (1), burst (1)
pagerduty  routing_key                 events_url (https://events.pagerduty.com),
                                       source, client ("mlpulse"), timeout,
                                       rate_per_s (110/60), burst (10)
opsgenie   api_key                     api_url (https://api.opsgenie.com), tags, source,
                                       timeout, rate_per_s, burst (no limit by default)
webhook    url                         secret, headers, max_alerts (0 = all), timeout,
                                       rate_per_s, burst (no limit by default)
email      to, from, host              port (587), username + password, starttls (true),
                                       timeout, rate_per_s, burst (no limit by default)
=========  ==========================  =================================================

>>> build_notifier("pagerduty", {})
Traceback (most recent call last):
...
mlpulse.errors.ConfigurationError: The 'routing_key' setting of a pagerduty receiver is required.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from mlpulse.adapters.notify import email, opsgenie, pagerduty, slack, webhook
from mlpulse.adapters.notify.rate_limit import RateLimiter, RateLimiterPool
from mlpulse.adapters.notify.settings import SettingsReader
from mlpulse.errors import ConfigurationError
from mlpulse.ports import Clock, Notifier

__all__ = ["KINDS", "build_notifier", "settings_problems"]


# A builder reads every setting first and returns what makes the notifier, so settings
# can be checked without opening a client (settings_problems).
_Factory = Callable[[], Notifier]


def _limiter(
    reader: SettingsReader,
    pool: RateLimiterPool,
    key: str,
    default: tuple[float, int] | None,
) -> RateLimiter | None:
    rate = reader.number("rate_per_s", default[0] if default else 0.0)
    burst = reader.integer("burst", default[1] if default else 1, minimum=1, maximum=10_000)
    if rate <= 0.0:
        return None
    return pool.get(reader.kind, key, rate_per_s=rate, burst=burst)


def _slack(reader: SettingsReader, pool: RateLimiterPool, clock: Clock | None) -> _Factory:
    url = reader.url("url", required=True)
    return partial(
        slack.SlackNotifier,
        url,
        timeout=reader.number("timeout", 10.0),
        rate_limiter=_limiter(reader, pool, url, (slack.RATE_PER_S, slack.BURST)),
    )


def _pagerduty(reader: SettingsReader, pool: RateLimiterPool, clock: Clock | None) -> _Factory:
    key = reader.string("routing_key", required=True)
    default = (pagerduty.RATE_PER_S, pagerduty.BURST)
    return partial(
        pagerduty.PagerDutyNotifier,
        key,
        events_url=reader.url("events_url", pagerduty.DEFAULT_EVENTS_URL),
        source=reader.string("source", "mlpulse"),
        client=reader.string("client", "mlpulse"),
        timeout=reader.number("timeout", 10.0),
        rate_limiter=_limiter(reader, pool, key, default),
    )


def _opsgenie(reader: SettingsReader, pool: RateLimiterPool, clock: Clock | None) -> _Factory:
    key = reader.string("api_key", required=True)
    return partial(
        opsgenie.OpsgenieNotifier,
        key,
        api_url=reader.url("api_url", opsgenie.DEFAULT_API_URL),
        tags=reader.strings("tags"),
        source=reader.string("source", "mlpulse"),
        timeout=reader.number("timeout", 10.0),
        rate_limiter=_limiter(reader, pool, key, None),
    )


def _webhook(reader: SettingsReader, pool: RateLimiterPool, clock: Clock | None) -> _Factory:
    url = reader.url("url", required=True)
    return partial(
        webhook.WebhookNotifier,
        url,
        secret=reader.optional_string("secret"),
        headers=reader.string_map("headers"),
        max_alerts=reader.integer("max_alerts", 0, minimum=0, maximum=1_000_000),
        clock=clock,
        timeout=reader.number("timeout", 10.0),
        rate_limiter=_limiter(reader, pool, url, None),
    )


def _email(reader: SettingsReader, pool: RateLimiterPool, clock: Clock | None) -> _Factory:
    to = reader.strings("to", required=True)
    sender = reader.string("from", required=True)
    for name, address in [*(("to", a) for a in to), ("from", sender)]:
        if "@" not in address and address and not reader.stands_in(address):
            reader.invalid(name, "an email address", address)
    host = reader.string("host", required=True)
    port = reader.integer("port", 587, minimum=1, maximum=65535)
    username = reader.optional_string("username")
    password = reader.optional_string("password")
    if (username is None) != (password is None):
        missing = "password" if password is None else "username"
        reader.fail(
            missing,
            f"The {missing!r} setting of an email receiver is required "
            "when the other of username/password is set.",
            "required when the other of username/password is set",
        )
    return partial(
        email.EmailNotifier,
        host,
        sender=sender,
        to=to,
        port=port,
        username=username,
        password=password,
        starttls=reader.boolean("starttls", True),
        timeout=reader.number("timeout", 10.0),
        rate_limiter=_limiter(reader, pool, f"{host}:{port}", None),
    )


_Builder = Callable[[SettingsReader, RateLimiterPool, Clock | None], _Factory]
_BUILDERS: dict[str, _Builder] = {
    "slack": _slack,
    "pagerduty": _pagerduty,
    "opsgenie": _opsgenie,
    "webhook": _webhook,
    "email": _email,
}
KINDS = tuple(_BUILDERS)


def build_notifier(
    kind: str,
    settings: Mapping[str, Any],
    *,
    clock: Clock | None = None,
    rate_limiters: RateLimiterPool | None = None,
) -> Notifier:
    """A notifier of ``kind`` made from a receiver's ``settings`` (the table above).

    Raises :class:`~mlpulse.errors.ConfigurationError` naming the missing, invalid or
    unknown field. Pass one ``rate_limiters`` pool to every call so receivers sharing a
    routing key or webhook URL share its rate limit; without it each notifier has its
    own bucket. ``clock`` dates webhook signatures (the wall clock by default).
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ConfigurationError(
            f"The receiver kind must be one of {', '.join(KINDS)}. Got {kind!r} instead."
        )
    reader = SettingsReader(kind, settings)
    make = builder(reader, rate_limiters or RateLimiterPool(), clock)
    reader.finish()
    return make()


def settings_problems(kind: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What :func:`build_notifier` would refuse in ``settings``, every problem at once, as
    (setting, problem); nothing is built.

    For checking a config before the collector builds its receivers: a value holding
    ``${NAME}`` is read from the collector's environment only then, so here it stands
    for any valid value.

    >>> for problem in settings_problems("email", {"to": "${ONCALL}", "port": "25x"}):
    ...     print(problem)
    ('from', 'required for an email receiver')
    ('host', 'required for an email receiver')
    ('port', "must be an int in [1, 65535]; got '25x'")
    >>> settings_problems("slack", {"url": "${SLACK_URL}", "timeout": "2.5", "rate_per_s": "1"})
    []
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        return [("", f"the receiver kind must be one of {', '.join(KINDS)}; got {kind!r}")]
    reader = SettingsReader(kind, settings, checking=True)
    builder(reader, RateLimiterPool(), None)
    reader.finish()
    return reader.problems
