"""The stack's background worker (a stand-in): checks that the cache at
REDIS_URL answers PING, says `worker ready: 1 queue`, then does one job every
few seconds until SIGTERM. Exits 1 if the cache does not answer."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from urllib.parse import urlsplit


def ping(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), 2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if not ping(os.environ["REDIS_URL"]):
        print("cache unreachable", file=sys.stderr)
        return 1
    print("worker ready: 1 queue", flush=True)
    done = 0
    while True:
        time.sleep(5)
        done += 1
        print(f"job {done} done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
