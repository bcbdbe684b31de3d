"""The OpenAPI document of the control API: the one served, the one checked in
(docs/openapi.json), the reference generated from it (docs/api.md) and the
app's actual routes all agree."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from starlette.routing import Route

from coordinator import Command, Daemons, HealthCheckResult, Ready
from healthdaemons._control_api import ControlState, build_app
from healthdaemons._control_api_docs import api_page
from healthdaemons._control_guard import RequestGuard
from healthdaemons._control_openapi import openapi_document, openapi_json
from healthdaemons._control_streams import EventHub
from healthdaemons._up_table import Processes

DOCS = Path(__file__).resolve().parent.parent / "docs"
REGENERATE = "out of date: run `make api-docs`"


def _state() -> ControlState:
    ready = Ready(None, HealthCheckResult.success)
    running = Daemons.of().add_daemon("db", exec=Command(["sleep", "1"]), ready=ready).build()
    return ControlState(running, Processes(), None, time.monotonic(), lambda: None, EventHub())


def test_the_checked_in_document_is_the_code_s() -> None:
    assert (DOCS / "openapi.json").read_text() == openapi_json(), REGENERATE


def test_the_reference_is_generated_from_the_document() -> None:
    assert (DOCS / "api.md").read_text() == api_page(DOCS), REGENERATE


def test_the_document_has_every_route_of_the_app_and_no_other() -> None:
    app = build_app(_state())
    routes = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (path, method)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert routes == documented


async def test_the_served_document_is_the_checked_in_one() -> None:
    app = RequestGuard(build_app(_state()), token=None, listen_host=None, report=print)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://up") as client:
        served = await client.get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads((DOCS / "openapi.json").read_text())
    assert served.json()["openapi"] == "3.1.0"
