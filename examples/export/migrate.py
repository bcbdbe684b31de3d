"""The stack's migration (a stand-in): waits up to 30 s for the database at
DATABASE_URL to accept connections, then says it applied the migrations.
Exits 1 if the database never answered."""

from __future__ import annotations

import os
import socket
import sys
import time
from urllib.parse import urlsplit


def main() -> int:
    parts = urlsplit(os.environ["DATABASE_URL"])
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection((parts.hostname, parts.port or 5432), 1):
                print("migrations applied", flush=True)
                return 0
        except OSError as error:
            if time.monotonic() > deadline:
                print(f"database unreachable: {error}", file=sys.stderr)
                return 1
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
