"""The stack's web app, standard library only: `python3 webapp.py PORT`.

GET /health: 200 once the database and the cache accept TCP connections (from
DATABASE_URL and REDIS_URL), 503 otherwise; GET /live: 200 while the process
answers; GET /: a page.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            urls = [os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")]
            ok = all(reachable(url) for url in urls)
            self.answer(200 if ok else 503, b"ok\n" if ok else b"not ready\n")
        elif self.path == "/live":
            self.answer(200, b"alive\n")
        else:
            self.answer(200, b"hello from the stack\n")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"web app on port {sys.argv[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
