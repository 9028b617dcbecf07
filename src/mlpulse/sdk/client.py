"""The client serving code calls: ``log_*`` append to a buffer and return at once.

Everything slow (encoding, compression, HTTP, retries) happens on the shipper's
background thread (:mod:`mlpulse.sdk.shipper`). The ``log_*`` methods validate
nothing and never raise (the one exception: ``attributions``, see
:mod:`mlpulse.sdk.attributions`): what the collector refuses is counted in
:meth:`Client.stats` and logged by the ``mlpulse.sdk`` logger.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, Unpack

from mlpulse.domain.events import MAX_BATCH_EVENTS, MAX_NAME_LENGTH
from mlpulse.errors import ConfigurationError, ParameterError, parameter_error
from mlpulse.sdk import lifecycle
from mlpulse.sdk.attributions import attribution_features
from mlpulse.sdk.backoff import Backoff
from mlpulse.sdk.endpoints import Endpoints, split_urls
from mlpulse.sdk.options import (
    API_KEY_VARIABLE,
    MAX_BUFFER_LIMIT,
    URL_VARIABLE,
    ClientOptions,
    check_api_key,
    check_int,
    check_seconds,
    check_url,
    environment_variable,
)
from mlpulse.sdk.reply import Transport
from mlpulse.sdk.resources import ProcessSample, ResourceSampler, start_sampler
from mlpulse.sdk.shipper import Shipper
from mlpulse.sdk.stats import ClientStats
from mlpulse.sdk.trace_context import OTEL_TRACE_MODULE, current_trace_id
from mlpulse.sdk.track import Tracking
from mlpulse.sdk.wire import LABEL, OUTCOME, PREDICTION, RESOURCE, Compression

if TYPE_CHECKING:  # the router imports httpx: loaded by Client.router, not by ``import mlpulse``
    from mlpulse.sdk.router import Router, RouterOptions

Timestamp = float | datetime
_modules = sys.modules  # a global read, not an attribute lookup, on the hot path


class Client:
    """Sends predictions, labels, outcomes and resource samples to a collector in the background.

    >>> client = Client("http://localhost:8000", "mlp_key")  # doctest: +SKIP
    >>> rid = client.log_prediction("fraud", "v3", {"amount": 12.5}, 0)  # doctest: +SKIP
    >>> client.log_label("fraud", rid, 0)  # doctest: +SKIP

    Parameters
    ----------
    url : str or sequence of str
        The collector's base URL (``http://`` or ``https://``); batches go to
        ``{url}/v1/ingest``. Several URLs (a list, or one str with commas) are replicas of
        one collector: every call goes to the one that answered last, and on no answer or
        a 5xx moves to the next at once, avoiding a failed URL for a few seconds (see
        :mod:`mlpulse.sdk.endpoints`). A batch keeps its id on every URL it is sent to,
        so replicas that share a store keep it once.
    api_key : str
        A key with the ``ingest`` scope, sent as ``Authorization: Bearer <api_key>``.
    batch_size : int
        Most events per request; a full batch is shipped without waiting for the interval.
    flush_interval : float
        Seconds between shipments of whatever is buffered.
    max_buffer : int
        Most events held while the collector is slow or down; new events are then
        dropped and counted (``stats().dropped``) rather than blocking or growing memory.
    timeout : float
        Seconds for one HTTP request.
    compression : "gzip" or None
        Compress request bodies (worth it over slow links; costs CPU in this process).
    backoff_base, backoff_cap : float
        Retries wait a random time up to ``min(backoff_cap, backoff_base * 2**attempt)``
        seconds, or longer if the collector asks with ``Retry-After``.
    exit_timeout : float
        At interpreter exit, seconds to keep trying to deliver what is still buffered.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        api_key: str,
        *,
        batch_size: int = 1000,
        flush_interval: float = 0.25,
        max_buffer: int = 10_000,
        timeout: float = 10.0,
        compression: Compression = None,
        backoff_base: float = 0.1,
        backoff_cap: float = 30.0,
        exit_timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str | list | tuple):
            raise parameter_error("url", "Client", "a URL or a list of URLs", url)
        urls = split_urls(url)
        if not urls:
            raise parameter_error("url", "Client", "at least one collector URL", url)
        for each in urls:
            check_url(each)
        check_api_key(api_key)
        check_int("batch_size", batch_size, 1, MAX_BATCH_EVENTS)
        check_int("max_buffer", max_buffer, batch_size, MAX_BUFFER_LIMIT)
        check_seconds("flush_interval", flush_interval, positive=True)
        check_seconds("timeout", timeout, positive=True)
        check_seconds("backoff_base", backoff_base, positive=True)
        check_seconds("backoff_cap", backoff_cap, positive=True)
        if backoff_cap < backoff_base:
            raise parameter_error(
                "backoff_cap", "Client", f"at least backoff_base ({backoff_base})", backoff_cap
            )
        check_seconds("exit_timeout", exit_timeout, positive=False)
        if compression not in (None, "gzip"):
            raise parameter_error("compression", "Client", "None or 'gzip'", compression)

        self._endpoints = endpoints = Endpoints(urls)
        self._router_settings = (api_key, timeout)
        self._routers: dict[str, Router] = {}
        self._routers_lock = threading.Lock()
        self._batch_size = batch_size
        self._shipper = shipper = Shipper(
            transport_factory=lambda: _http_transport(endpoints, api_key, timeout),
            batch_size=batch_size,
            max_buffer=max_buffer,
            flush_interval=flush_interval,
            backoff=Backoff(base=backoff_base, cap=backoff_cap),
            compression=compression,
            exit_timeout=exit_timeout,
        )
        # The same deque for the shipper's whole life (a forked child clears it), so the
        # hot path can hold it directly.
        self._buffer = shipper.buffer
        lifecycle.manage(shipper)
        self._samplers: list[ResourceSampler] = []
        # A client dropped without close(): its shipper delivers what it holds and quits.
        self._finalizer = weakref.finalize(self, shipper.request_stop, exit_timeout)
        self._finalizer.atexit = False  # lifecycle's exit hook does it, and waits for it

    @classmethod
    def from_env(cls, **options: Unpack[ClientOptions]) -> Self:
        """A client for ``MLPULSE_URL`` with ``MLPULSE_API_KEY``; other options as keywords.

        ``MLPULSE_URL`` may list several collectors separated by commas.

        Raises :class:`~mlpulse.errors.ConfigurationError` naming the variable that is
        missing, empty or invalid.
        """
        url = environment_variable(URL_VARIABLE)
        api_key = environment_variable(API_KEY_VARIABLE)
        urls = split_urls(url)
        try:
            if not urls:
                raise parameter_error("url", "Client", "at least one collector URL", url)
            for each in urls:
                check_url(each)
        except ParameterError as exc:
            raise ConfigurationError(
                f"The environment variable {URL_VARIABLE} must be an http:// or https:// URL, "
                f"or several separated by commas. Got {url!r} instead."
            ) from exc
        try:
            check_api_key(api_key)
        except ParameterError as exc:
            raise ConfigurationError(
                f"The environment variable {API_KEY_VARIABLE} must be an API key without "
                "spaces or control characters."
            ) from exc
        return cls(urls, api_key, **options)

    # -- the hot path: no validation, no locks, no I/O -------------------------------

    def log_prediction(
        self,
        model: str,
        version: str,
        features: Mapping[str, Any],
        prediction: Any = None,
        *,
        request_id: str | None = None,
        score: float | None = None,
        probabilities: Mapping[str, float] | None = None,
        latency_ms: float | None = None,
        segment: Mapping[str, str] | None = None,
        trace_id: str | None = None,
        error: str | None = None,
        timestamp: Timestamp | None = None,
        attributions: Mapping[str, float] | None = None,
    ) -> str:
        """Record one prediction; returns its request id (made up if not given).

        Pass the returned id to :meth:`log_label` when the ground truth arrives.
        ``timestamp`` defaults to now (seconds since the epoch). ``features`` is copied,
        so the caller may reuse its dict.

        ``attributions`` (feature name → attribution, e.g. SHAP values) are sent as extra
        numeric features named ``attr:<feature>``: the collector stores, profiles and
        drift-checks them like any feature, with no schema of their own. Unlike the other
        arguments they are checked here: a value that is not a finite number, or an
        ``attr:`` name that ``features`` already has, raises
        :class:`~mlpulse.errors.ParameterError`.

        ``trace_id`` defaults to the trace of the active OpenTelemetry span, if the process
        has imported OpenTelemetry and a span is current (32 hex digits), so an incident's
        example requests lead to their traces; an explicit ``trace_id`` wins.
        """
        extra = None if attributions is None else attribution_features(attributions, features)
        shipper = self._shipper
        if request_id is None:
            # Not uuid4 (about 6 µs): a random per-process prefix and a counter are just as
            # unique for ~0.1 µs. Formatted here only because the caller gets the id back.
            request_id = f"{shipper.id_prefix}{next(shipper.id_counter)}"
        buffer = self._buffer
        if len(buffer) >= shipper.limit:
            shipper.count_dropped()
            return request_id
        # contextlib.suppress would cost ~0.3 µs here; a try without an exception costs nothing.
        try:  # noqa: SIM105
            features = dict(features)  # callers often reuse one dict for every request
        except (TypeError, ValueError):
            pass  # sent as it is: the collector rejects the event, naming the field
        if extra is not None and type(features) is dict:
            features.update(extra)
        if trace_id is None and OTEL_TRACE_MODULE in _modules:  # no OTel imported: no span
            trace_id = current_trace_id()
        buffer.append(
            (
                PREDICTION,
                model,
                version,
                request_id,
                features,
                prediction,
                time.time() if timestamp is None else timestamp,
                score,
                None if probabilities is None else _copy(probabilities),
                latency_ms,
                None if segment is None else _copy(segment),
                trace_id,
                error,
            )
        )
        if len(buffer) == self._batch_size:
            shipper.wake()
        return request_id

    def log_label(
        self,
        model: str,
        request_id: str,
        label: Any,
        *,
        version: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> None:
        """Record the ground truth for the prediction logged with ``request_id``."""
        buffer = self._buffer
        if len(buffer) >= self._shipper.limit:
            self._shipper.count_dropped()
            return
        buffer.append(
            (
                LABEL,
                model,
                request_id,
                label,
                version,
                time.time() if timestamp is None else timestamp,
            )
        )
        if len(buffer) == self._batch_size:
            self._shipper.wake()

    def log_outcome(
        self,
        name: str,
        value: float = 1.0,
        *,
        model: str | None = None,
        version: str | None = None,
        request_id: str | None = None,
        unit_id: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> None:
        """Record a business event (click, purchase, revenue...), tied to a prediction
        by ``request_id`` or to an experiment unit by ``unit_id`` when given."""
        buffer = self._buffer
        if len(buffer) >= self._shipper.limit:
            self._shipper.count_dropped()
            return
        buffer.append(
            (
                OUTCOME,
                name,
                value,
                model,
                version,
                request_id,
                unit_id,
                time.time() if timestamp is None else timestamp,
            )
        )
        if len(buffer) == self._batch_size:
            self._shipper.wake()

    def log_resource(
        self,
        *,
        cpu_percent: float | None = None,
        memory_rss_mb: float | None = None,
        memory_percent: float | None = None,
        gpu_utilization: Sequence[float] | None = None,
        gpu_memory_used_mb: Sequence[float] | None = None,
        model: str | None = None,
        version: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        timestamp: Timestamp | None = None,
    ) -> None:
        """Record a CPU/GPU/memory sample of a process, optionally tied to a model version.

        ``cpu_percent`` is in percent of one core (over 100 on several); ``memory_percent``
        is the share of the host's memory in [0, 100]; sizes are in MB of 2**20 bytes; the
        GPU sequences hold one value per device (utilization in [0, 100]). The collector
        shows the latest sample per (host, pid, model, version) on ``/metrics``.
        :meth:`start_resource_sampler` calls this periodically for this process.
        """
        buffer = self._buffer
        if len(buffer) >= self._shipper.limit:
            self._shipper.count_dropped()
            return
        buffer.append(
            (
                RESOURCE,
                model,
                version,
                host,
                pid,
                time.time() if timestamp is None else timestamp,
                cpu_percent,
                memory_rss_mb,
                memory_percent,
                None if gpu_utilization is None else _copy_list(gpu_utilization),
                None if gpu_memory_used_mb is None else _copy_list(gpu_memory_used_mb),
            )
        )
        if len(buffer) == self._batch_size:
            self._shipper.wake()

    def start_resource_sampler(
        self,
        *,
        interval: float = 15.0,
        model: str | None = None,
        version: str | None = None,
    ) -> ResourceSampler:
        """Sample this process every ``interval`` seconds on a daemon thread (psutil).

        Each sample is logged with :meth:`log_resource`: CPU, resident memory (and its
        share of the host's), this host's name and pid, and the given ``model`` and
        ``version``. GPU utilization and memory are added when the ``nvidia-ml-py``
        package (NVML) is installed and finds a GPU; otherwise samples have no GPU fields.
        The first sample comes one interval after the start. The sampler stops on
        :meth:`ResourceSampler.stop`, on :meth:`close`, or when this client is garbage
        collected; it does not follow ``os.fork``.

        Raises :class:`~mlpulse.errors.ConfigurationError` when psutil is not installed
        (``pip install 'mlpulse[resources]'``).
        """
        owner = "Client.start_resource_sampler"
        check_seconds("interval", interval, positive=True, owner=owner)
        for name, value in (("model", model), ("version", version)):
            if value is not None and not (
                isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH
            ):
                expected = f"None or a str of 1 to {MAX_NAME_LENGTH} characters"
                raise parameter_error(name, owner, expected, value)
        # Weak: a running sampler must not keep a dropped client (and its shipper) alive.
        client = weakref.ref(self)

        def emit(sample: ProcessSample) -> bool:
            live = client()
            if live is None or live._shipper.stopping:
                return False
            live.log_resource(
                cpu_percent=sample.cpu_percent,
                memory_rss_mb=sample.memory_rss_mb,
                memory_percent=sample.memory_percent,
                gpu_utilization=sample.gpu_utilization,
                gpu_memory_used_mb=sample.gpu_memory_used_mb,
                model=model,
                version=version,
                host=sample.host,
                pid=sample.pid,
            )
            return True

        sampler = start_sampler(emit, interval=interval)
        self._samplers = [s for s in self._samplers if s.running]
        self._samplers.append(sampler)
        return sampler

    def track(
        self,
        model: str,
        version: str,
        features: Mapping[str, Any],
        *,
        request_id: str | None = None,
        segment: Mapping[str, str] | None = None,
        trace_id: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> Tracking:
        """Time a block and log it as a prediction, with the error if it raises.

        >>> with client.track("fraud", "v3", features) as t:  # doctest: +SKIP
        ...     t.prediction = model.predict(row)
        ...     t.score = float(proba)
        >>> t.request_id, t.latency_ms  # doctest: +SKIP
        ('5f0c2a9e13b7-1', 3.2)
        """
        if request_id is None:
            shipper = self._shipper
            request_id = f"{shipper.id_prefix}{next(shipper.id_counter)}"
        return Tracking(
            self,
            model,
            version,
            features,
            request_id=request_id,
            segment=segment,
            trace_id=trace_id,
            timestamp=timestamp,
        )

    def router(self, model: str, **options: Unpack[RouterOptions]) -> Router:
        """The router of ``model``: which version serves each unit (one router per model).

        >>> router = client.router("recs")  # doctest: +SKIP
        >>> choice = router.choose(user_id)  # doctest: +SKIP
        >>> router.record(choice.version, ok=True, latency_ms=12.0)  # doctest: +SKIP

        Waits up to ``ready_timeout`` seconds (default 5) for the first routing table and
        raises :class:`~mlpulse.errors.ConfigurationError` when none arrives. Circuit
        trips and recoveries are logged as ``circuit_open`` / ``circuit_closed`` outcomes
        of this client; with ``exposure="exposure"``, each unit's first choice of a version
        is logged as that outcome (with its unit id), the units rollouts and bandits count.
        The router is closed with the client. Options apply when the
        router is made: passing them again for a model that has one raises
        :class:`~mlpulse.errors.ParameterError`. See :class:`mlpulse.sdk.router.Router`.
        """
        from mlpulse.sdk.router import Router

        if not (isinstance(model, str) and 0 < len(model) <= MAX_NAME_LENGTH):
            expected = f"a str of 1 to {MAX_NAME_LENGTH} characters"
            raise parameter_error("model", "Client.router", expected, model)
        client = weakref.ref(self)  # a router must not keep a dropped client alive

        def report(name: str, version: str) -> None:
            live = client()
            if live is not None:
                live.log_outcome(name, 1.0, model=model, version=version)

        def expose(name: str, version: str, unit_id: str) -> None:
            live = client()
            if live is not None:
                live.log_outcome(name, 1.0, model=model, version=version, unit_id=unit_id)

        with self._routers_lock:
            existing = self._routers.get(model)
            if existing is not None:
                if options:
                    expected = f"empty: model {model!r} already has a router"
                    raise parameter_error("options", "Client.router", expected, options)
                return existing
            api_key, timeout = self._router_settings
            options.setdefault("timeout", timeout)
            router = Router(
                self._endpoints, api_key, model, report=report, expose=expose, **options
            )
            weakref.finalize(self, router.request_stop).atexit = False
            self._routers[model] = router
            return router

    # -- control ---------------------------------------------------------------------

    def stats(self) -> ClientStats:
        """What this client has logged, sent, had rejected, dropped and retried so far."""
        return self._shipper.stats()

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every event logged before this call is settled by the collector
        (accepted or rejected); False if that takes longer than ``timeout`` seconds."""
        check_seconds("timeout", timeout, positive=False, owner="Client.flush")
        return self._shipper.flush(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Deliver what is buffered (for at most ``timeout`` seconds) and stop.

        Returns True when everything was settled. Idempotent; later ``log_*`` calls are
        dropped (and counted), never raised on. Also done at interpreter exit.
        """
        check_seconds("timeout", timeout, positive=False, owner="Client.close")
        for sampler in self._samplers:  # first, so their last samples are still shipped
            sampler.stop(timeout)
        self._samplers = []
        with self._routers_lock:
            routers, self._routers = self._routers, {}
        for router in routers.values():  # before the shipper, so a last trip is shipped
            router.close(timeout)
        shipper = self._shipper
        shipper.stop(timeout)
        settled = shipper.join(timeout)
        self._finalizer.detach()
        lifecycle.forget(shipper)
        return settled

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        urls = self._endpoints.urls
        return f"Client({urls[0] if len(urls) == 1 else list(urls)!r})"


def _http_transport(endpoints: Endpoints, api_key: str, timeout: float) -> Transport:
    # Imported when the first client is made, not by ``import mlpulse``: httpx takes
    # ~50 ms to import, and ~150 ms where its CLI extras (rich, pygments) are installed.
    from mlpulse.sdk.transport import FailoverTransport

    return FailoverTransport(endpoints, api_key, timeout=timeout)


def _copy_list(values: Sequence[Any]) -> Any:
    try:
        return list(values)
    except (TypeError, ValueError):
        return values  # sent as it is: the collector rejects the event, naming the field


def _copy(mapping: Mapping[str, Any]) -> Any:
    try:
        return dict(mapping)
    except (TypeError, ValueError):
        return mapping  # sent as it is: the collector rejects the event, naming the field
