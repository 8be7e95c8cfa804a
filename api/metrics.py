"""``GET /metrics``: Prometheus text format (``prometheus-client``), one registry per app.

=====================================  =========  =============================================
metric                                 type       labels
=====================================  =========  =============================================
``ledger_appends_total``               counter    ``event_type``, ``outcome`` (``appended``,
                                                  ``replayed``, or the refusal: ``version_conflict``,
                                                  ``access_denied``, ``rule_violation`` ...)
``ledger_append_seconds``              histogram  ``event_type`` (single appends; batches count only)
``ledger_log_head``                    gauge      (none): the seq of the last event
``ledger_projection_position``         gauge      ``view``
``ledger_projection_lag``              gauge      ``view``: head minus position
``ledger_projection_failing``          gauge      ``view``: 1 while the view is stopped on an error
``ledger_kafka_producer_errors_total`` counter    ``kind``: failed write batches (Kafka backend only)
``http_requests_total``                counter    ``method``, ``route`` (the route template, e.g.
                                                  ``/v1/retirees/{retiree_id}``), ``status``
``http_request_seconds``               histogram  ``method``, ``route``
=====================================  =========  =============================================

Labels never carry ids or personal data: routes are templates (an unmatched path is ``unmatched``),
event types and outcomes are names from fixed sets. The read-side figures are read when scraped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.bootstrap import Services

router = APIRouter(tags=["health"])
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The metrics of one app, in its own ``CollectorRegistry`` (tests build many apps)."""

    def __init__(self, services: Callable[[], Services | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.appends = Counter("ledger_appends", "Commands handled, by event type and outcome.",
                               ["event_type", "outcome"], registry=self.registry)
        self.append_seconds = Histogram("ledger_append_seconds", "Time to decide and append one command.",
                                        ["event_type"], registry=self.registry)
        self.requests = Counter("http_requests", "HTTP requests by route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram("http_request_seconds", "HTTP request duration by route template.",
                                         ["method", "route"], registry=self.registry)
        self.registry.register(_ReadSideCollector(services))
        # The labelled children, kept: ``labels()`` takes a lock and builds a key per call (~10 µs), and
        # label values come from fixed sets (routes, methods, statuses, event types, outcomes).
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*values))
        return child

    def observe_append(self, event_type: str, outcome: str, seconds: float | None) -> None:
        """A ``Ledger.on_handled`` observer."""
        self._child(self.appends, event_type, outcome).inc()
        if seconds is not None:
            self._child(self.append_seconds, event_type).observe(seconds)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.request_seconds, method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ReadSideCollector(Collector):
    """Log head, each view's position, lag and failure, and Kafka producer errors, read at scrape time."""

    def __init__(self, services: Callable[[], Services | None]) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        head = GaugeMetricFamily("ledger_log_head", "The seq of the last event in the log.")
        position = GaugeMetricFamily("ledger_projection_position", "The seq a view has applied.", labels=["view"])
        lag = GaugeMetricFamily("ledger_projection_lag", "Events in the log a view has not applied.", labels=["view"])
        failing = GaugeMetricFamily("ledger_projection_failing", "1 while a view is stopped on an error.",
                                    labels=["view"])
        producer = CounterMetricFamily("ledger_kafka_producer_errors", "Failed Kafka write batches by kind.",
                                       labels=["kind"])
        services = self.services()
        if services is not None:
            log_head = services.ledger.head()
            head.add_metric([], log_head)
            side = services.read_side()
            for view, at in side.positions.items():
                position.add_metric([view], at)
                lag.add_metric([view], max(log_head - at, 0))
                failing.add_metric([view], 1 if view in side.errors else 0)
            failures: Any = getattr(getattr(services.ledger.log, "writer", None), "failures", None)
            for kind, count in (failures or {}).items():
                producer.add_metric([kind], count)
        yield from (head, position, lag, failing, producer)


class HTTPMetrics:
    """ASGI middleware counting requests by route template and status.

    Templates are the OpenAPI paths plus the app's other fixed paths (``/docs`` ...), matched against
    the request path; anything else is ``unmatched``, so a raw path never becomes a label. They are
    matched by one regular expression, an alternation in the order of ``templates`` (one ``fullmatch``
    per request, not one per template).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: tuple[list[str], re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.route_template(scope)
            method = str(scope.get("method", ""))
            method = method if method in _METHODS else "other"  # any token is a method to HTTP: bound the labels
            self.metrics.observe_request(method, route, status, time.perf_counter() - started)

    def route_template(self, scope: Scope) -> str:
        """The path template the request's path matches, ``/static`` for files, else ``unmatched``."""
        path = str(scope.get("path", ""))
        if path.startswith("/static/"):
            return "/static"
        if self._templates is None and "app" in scope:
            found = templates(scope["app"])
            alternatives = "|".join(f"(?P<t{n}>{pattern.pattern})" for n, (_, pattern) in enumerate(found))
            self._templates = ([template for template, _ in found], re.compile(alternatives or "(?!)"))
        if self._templates is None:
            return UNMATCHED
        names, pattern = self._templates
        matched = pattern.fullmatch(path)
        return names[int(matched.lastgroup[1:])] if matched is not None and matched.lastgroup else UNMATCHED


def templates(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """Every path template of ``app`` (fixed ones first, so ``/v1/retirees/lookup`` wins over ``{id}``)."""
    paths = set(app.openapi().get("paths", {}))
    paths.update(path for route in app.routes if isinstance(path := getattr(route, "path", None), str)
                 and "{" not in path)
    ordered = sorted(paths, key=lambda template: (template.count("{"), template))
    return [(template, re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)))) for template in ordered]


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format; see ``api.metrics`` for the metrics and their labels."""
    found: Metrics = request.app.state.metrics
    return Response(found.render(), media_type=CONTENT_TYPE_LATEST)
