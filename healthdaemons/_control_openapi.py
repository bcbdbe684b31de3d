"""The OpenAPI 3.1 document of the control API, written as data.

It is served at `/v1/openapi.json`, checked in as docs/openapi.json, and
docs/api.md is generated from it (`_control_api_docs`). The tests keep the
three, and the app's routes, in agreement. Regenerate both files after a
change with `make api-docs`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["openapi_document", "openapi_json"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_ENTRY = {"$ref": "#/components/schemas/Entry"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The entry's id, as in the config file.",
    "schema": {"type": "string"},
}
_FOLLOW = {
    "name": "follow",
    "in": "query",
    "required": False,
    "description": "`true`: a live stream of server-sent events instead of one answer.",
    "schema": {"type": "boolean", "default": False},
}
_UNKNOWN = _error("No entry with this id; the message suggests the closest one.")
_BAD = _error("A bad query parameter or body.")
_RENDER_FAILED = _error("The Graphviz renderer failed.")
_NO_RENDERER = _error("No Graphviz renderer on this machine.")


def _svg(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _action(verb: str, what: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{verb}Entry",
            "summary": f"{verb.capitalize()} one entry",
            "description": what,
            "parameters": [_ID],
            "responses": {
                "200": _json(_ENTRY, "The entry, once the action has taken effect."),
                "404": _UNKNOWN,
                "409": _error("The system is shutting down: no more actions."),
            },
        }
    }


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What went wrong."}},
    },
    "Health": {
        "type": "object",
        "required": ["result", "message"],
        "properties": {
            "result": {
                "enum": ["success", "failure", "starting", "loading", "disabled", "waiting"]
            },
            "message": {"type": ["string", "null"]},
        },
    },
    "Entry": {
        "type": "object",
        "required": [
            "id",
            "name",
            "kind",
            "state",
            "held",
            "ended",
            "health",
            "pid",
            "restarts",
            "uptime",
            "requires",
            "waiting_for",
        ],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": ["string", "null"], "description": "The display name, if any."},
            "kind": {"enum": ["daemon", "oneshot", "check"]},
            "state": {"enum": ["waiting", "starting", "ready", "failing", "stopping", "stopped"]},
            "held": {
                "type": "boolean",
                "description": "Stopped by an operator (or by its restart policy), until "
                "started or restarted.",
            },
            "ended": {
                "type": "boolean",
                "description": "Held because its restart policy ended it: it exited with "
                'code 0 under restart = "on-failure" or "no" (the health message says so).',
            },
            "health": {
                "oneOf": [{"$ref": "#/components/schemas/Health"}, {"type": "null"}],
                "description": "The last health report (null before the first).",
            },
            "pid": {"type": ["integer", "null"], "description": "Its live process, if any."},
            "restarts": {"type": "integer", "description": "Restarts of the current launch."},
            "uptime": {
                "type": ["number", "null"],
                "description": "Seconds since its current process was spawned.",
            },
            "requires": {"type": "array", "items": {"type": "string"}},
            "waiting_for": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The entries it requires that are not ready now.",
            },
        },
    },
    "OutputLine": {
        "type": "object",
        "required": ["entry", "stream", "at", "text"],
        "properties": {
            "entry": {"type": "string"},
            "stream": {"enum": ["stdout", "stderr"]},
            "at": {"type": "number", "description": "When it was read: seconds since the epoch."},
            "text": {"type": "string", "description": "The line, without its line ending."},
        },
    },
    "Event": {
        "type": "object",
        "required": ["type", "at"],
        "description": "An event, as `up --record` writes it (`coordinator.event_json`).",
        "properties": {"type": {"type": "string"}, "at": {"type": "number"}},
    },
}

_PATHS: dict[str, Any] = {
    "/v1/health": {
        "get": {
            "operationId": "health",
            "summary": "The supervisor's own liveness",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["status", "pid", "config", "entries", "ready", "uptime"],
                        "properties": {
                            "status": {"enum": ["running", "stopping", "stopped"]},
                            "pid": {"type": "integer", "description": "The pid of `up`."},
                            "config": {"type": ["string", "null"]},
                            "entries": {"type": "integer"},
                            "ready": {"type": "integer"},
                            "uptime": {"type": "number", "description": "Seconds since it began."},
                            "web": {
                                "type": ["string", "null"],
                                "description": "The web console's address (`up --web`), "
                                "without its token; null without one.",
                            },
                        },
                    },
                    "`stopping` once the ordered shutdown has begun, `stopped` once "
                    "everything has stopped (the server closes next).",
                )
            },
        }
    },
    "/v1/entries": {
        "get": {
            "operationId": "listEntries",
            "summary": "Every entry, in the order they were added",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["entries"],
                        "properties": {"entries": {"type": "array", "items": _ENTRY}},
                    },
                    "The entries.",
                )
            },
        }
    },
    "/v1/entries/{id}": {
        "get": {
            "operationId": "getEntry",
            "summary": "One entry",
            "parameters": [_ID],
            "responses": {"200": _json(_ENTRY, "The entry."), "404": _UNKNOWN},
        }
    },
    "/v1/entries/{id}/stop": _action(
        "stop",
        "Holds the entry: its running dependents stop first, in order, then the entry. "
        "Answers once it has stopped. It stays stopped until started or restarted.",
    ),
    "/v1/entries/{id}/start": _action(
        "start",
        "Releases a held entry: it launches once its dependencies are ready. "
        "Does nothing to an entry that is not held.",
    ),
    "/v1/entries/{id}/restart": _action(
        "restart",
        "A fresh launch: the entry and its running dependents stop, dependents first, "
        "and start again. Answers once the entry has launched again (not once it is ready).",
    ),
    "/v1/wait": {
        "post": {
            "operationId": "wait",
            "summary": "Wait until entries are ready",
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "entries": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "Empty or missing: every entry.",
                                },
                                "timeout": {"type": ["number", "null"], "minimum": 0},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["ready"],
                        "properties": {
                            "ready": {"type": "boolean"},
                            "reason": {"type": "string"},
                            "waiting": {"type": "array", "items": _ENTRY},
                        },
                    },
                    '`{"ready": true}` once all are ready at the same time; `ready: false` '
                    "with a reason and the entries not ready when the timeout ran out or "
                    "the system began shutting down.",
                ),
                "400": _BAD,
                "404": _UNKNOWN,
                "408": _error("The body did not arrive in time."),
                "413": _error("The body is too large."),
            },
        }
    },
    "/v1/output": {
        "get": {
            "operationId": "output",
            "summary": "The latest output lines of one entry or all, or follow them live",
            "description": "With `follow=true`: server-sent events, the last `lines` lines "
            "(default 10) then live: `event: line` (data: an OutputLine), `event: lost` "
            '(data: `{"lost": n}`, lines skipped because the reader fell behind), and '
            "`event: end` once the system has stopped; `: keep-alive` every 15 s.",
            "parameters": [
                {
                    "name": "entry",
                    "in": "query",
                    "required": False,
                    "description": "Missing: every entry, in time order.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "lines",
                    "in": "query",
                    "required": False,
                    "description": "How many of the latest lines (default 100; 10 when following).",
                    "schema": {"type": "integer", "minimum": 0},
                },
                _FOLLOW,
            ],
            "responses": {
                "200": {
                    "description": "The lines, oldest first; or the stream.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["lines"],
                                "properties": {
                                    "lines": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/OutputLine"},
                                    }
                                },
                            }
                        },
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": _BAD,
                "404": _UNKNOWN,
            },
        }
    },
    "/v1/events": {
        "get": {
            "operationId": "events",
            "summary": "The events kept so far, or follow them live",
            "description": "With `follow=true`: server-sent events, every event from now on "
            "(`event: event`, data: an Event; with `history=true` the events kept so far "
            'first), `event: lost` (data: `{"lost": n}`) when the reader fell behind, '
            "`event: end` once the system has stopped.",
            "parameters": [
                _FOLLOW,
                {
                    "name": "history",
                    "in": "query",
                    "required": False,
                    "description": "With `follow=true`: send the events kept so far first.",
                    "schema": {"type": "boolean", "default": False},
                },
            ],
            "responses": {
                "200": {
                    "description": "The events kept, oldest first; or the stream.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["events"],
                                "properties": {
                                    "events": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Event"},
                                    }
                                },
                            }
                        },
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": _BAD,
            },
        }
    },
    "/v1/graph": {
        "get": {
            "operationId": "graph",
            "summary": "The system graph with live states (DOT or SVG)",
            "parameters": [
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["dot", "svg"], "default": "dot"},
                },
                _query(
                    "states",
                    {"type": "boolean", "default": True},
                    "`false`: no state colours and no state or health text, so the "
                    "drawing stays the same for the whole run (the web console colours "
                    "its nodes itself; drawn once).",
                ),
            ],
            "responses": {
                "200": {
                    "description": "The drawing.",
                    "content": {
                        "text/vnd.graphviz": {"schema": {"type": "string"}},
                        "image/svg+xml": {"schema": {"type": "string"}},
                    },
                },
                "400": _BAD,
                "500": _RENDER_FAILED,
                "503": _error("No Graphviz renderer on this machine (SVG only)."),
            },
        }
    },
    "/v1/lifecycle": {
        "get": {
            "operationId": "lifecycle",
            "summary": "The lifecycle state machine of one kind of entry (SVG)",
            "description": "As `healthdaemons lifecycle --kind KIND`; drawn once for each "
            "`kind` and `current`.",
            "parameters": [
                {
                    "name": "kind",
                    "in": "query",
                    "required": True,
                    "schema": {"enum": ["daemon", "oneshot", "check"]},
                },
                _query(
                    "current",
                    {"enum": ["waiting", "starting", "ready", "failing", "stopping", "stopped"]},
                    "The state to highlight (an entry's state now).",
                ),
            ],
            "responses": {
                "200": _svg("The drawing."),
                "400": _BAD,
                "500": _RENDER_FAILED,
                "503": _NO_RENDERER,
            },
        }
    },
    "/v1/timeline": {
        "get": {
            "operationId": "timeline",
            "summary": "The run so far as a timeline (SVG)",
            "description": "The events kept in the history, drawn as `healthdaemons "
            "timeline` draws a record: one lane per entry. Drawn again only after new events.",
            "parameters": [
                _query(
                    "start",
                    {"type": "number", "minimum": 0},
                    "The first moment shown, in seconds from the first event.",
                ),
                _query(
                    "end",
                    {"type": "number", "minimum": 0},
                    "The last moment shown (after `start`), in seconds from the first event.",
                ),
                _query(
                    "width",
                    {"type": "integer", "minimum": 300, "maximum": 20000, "default": 1200},
                    "Pixels.",
                ),
            ],
            "responses": {
                "200": _svg("The drawing."),
                "400": _error(
                    "A bad start, end or width, or a window that starts after the last event."
                ),
            },
        }
    },
    "/v1/shutdown": {
        "post": {
            "operationId": "shutdown",
            "summary": "Stop everything in order, dependents first",
            "description": "Answers at once; `up` exits once everything has stopped. Idempotent.",
            "responses": {
                "202": _json(
                    {"type": "object", "properties": {"status": {"const": "stopping"}}},
                    "The shutdown has begun.",
                )
            },
        }
    },
    "/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
        }
    },
}

_COMMON_ERRORS = {
    "401": "TCP only: no token, or a wrong one (`Authorization: Bearer TOKEN`).",
    "400": "A `Host` header that is not the listen address, localhost or an IP address "
    "(TCP), or a malformed request.",
    "403": "An `Origin` header that is not the server's own: no cross-origin request.",
    "404": "No such endpoint.",
    "405": "A method the endpoint does not have.",
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "healthdaemons control API",
            "version": "1",
            "description": "The API of a running `healthdaemons up`, on its unix socket "
            "(and on TCP with `up --listen`). Every error is a JSON object "
            '`{"error": message}`. See docs/api.md for the security model.',
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "TCP only; the unix socket needs none.",
                }
            },
        },
        "x-common-errors": _COMMON_ERRORS,
        "paths": _PATHS,
    }


def openapi_json() -> str:
    """docs/openapi.json, as checked in."""
    return json.dumps(openapi_document(), indent=2) + "\n"
