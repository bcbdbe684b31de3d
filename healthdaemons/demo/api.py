"""An HTTP API in front of the key-value store: `python3 api.py PORT STORE_URL`.

GET / -> 200 JSON {"greeting": ...} read from the store (502 if the store fails);
GET /health -> 200 "ok". Stops cleanly (exit 0) on SIGTERM or SIGINT.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore HTTP_PROXY
STORE_URL = ""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, "ok", "text/plain")
        elif self.path == "/":
            try:
                with OPENER.open(f"{STORE_URL}/kv/greeting", timeout=2) as response:
                    greeting = response.read().decode("utf-8", errors="replace")
            except urllib.error.HTTPError as error:
                self.reply(502, json.dumps({"error": f"store answered HTTP {error.code}"}))
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                self.reply(502, json.dumps({"error": f"store unreachable: {reason}"}))
            else:
                self.reply(200, json.dumps({"greeting": greeting}))
        else:
            self.reply(404, json.dumps({"error": "not found"}))

    def reply(self, status: int, text: str, kind: str = "application/json") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path != "/health":  # health checks poll often: keep them out of the log
            print(f"api: {self.command} {self.path} -> {code}", flush=True)

    def log_message(self, format: str, *args: object) -> None:
        print("api: " + format % args, flush=True)


def main() -> int:
    global STORE_URL
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        print("usage: api.py PORT STORE_URL", file=sys.stderr)
        return 2
    STORE_URL = sys.argv[2].rstrip("/")
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # the server thread inherits the mask
    try:
        server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    except OSError as error:
        print(f"api: cannot listen on 127.0.0.1:{sys.argv[1]}: {error}", flush=True)
        return 1
    threading.Thread(target=server.serve_forever, args=(0.1,), name="serve").start()
    print(f"api listening on 127.0.0.1:{server.server_address[1]} (store: {STORE_URL})", flush=True)
    received = signal.sigwait(stop)
    print(f"api: got {signal.Signals(received).name}, shutting down", flush=True)
    server.shutdown()
    server.server_close()
    print("api: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
