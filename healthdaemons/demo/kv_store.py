"""A key-value store over HTTP, kept in memory: `python3 kv_store.py PORT`.

GET /health -> 200 "ok"; GET /kv/KEY -> 200 value or 404; PUT /kv/KEY (body = value) -> 204.
Stops cleanly (exit 0) on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORE: dict[str, str] = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, "ok")
        elif self.path.startswith("/kv/"):
            with LOCK:
                value = STORE.get(self.path[4:])
            if value is None:
                self.reply(404, "no such key")
            else:
                self.reply(200, value)
        else:
            self.reply(404, "not found")

    def do_PUT(self) -> None:
        if not self.path.startswith("/kv/") or len(self.path) == 4:
            self.reply(404, "not found")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with LOCK:
            STORE[self.path[4:]] = body.decode("utf-8", errors="replace")
        self.reply(204, "")

    def reply(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path != "/health":  # health checks poll often: keep them out of the log
            print(f"store: {self.command} {self.path} -> {code}", flush=True)

    def log_message(self, format: str, *args: object) -> None:
        print("store: " + format % args, flush=True)


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: kv_store.py PORT", file=sys.stderr)
        return 2
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # the server thread inherits the mask
    try:
        server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    except OSError as error:
        print(f"store: cannot listen on 127.0.0.1:{sys.argv[1]}: {error}", flush=True)
        return 1
    threading.Thread(target=server.serve_forever, args=(0.1,), name="serve").start()
    print(f"store listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    received = signal.sigwait(stop)
    print(f"store: got {signal.Signals(received).name}, shutting down", flush=True)
    server.shutdown()
    server.server_close()
    print("store: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
