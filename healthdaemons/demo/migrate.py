"""A oneshot that seeds the key-value store: `python3 migrate.py STORE_URL`.

Exits 0 once every seed key is written, 1 with a message if the store cannot be reached.
SIGTERM keeps its default action on purpose: a migration cut short must not exit 0,
which would claim the store is seeded (a supervisor that sent the signal knows why it died).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

SEEDS = {"greeting": "hello from the store", "jobs": "3"}
# Straight to the store, whatever HTTP_PROXY says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: migrate.py STORE_URL", file=sys.stderr)
        return 2
    store = sys.argv[1].rstrip("/")
    print(f"migrate: seeding {store}", flush=True)
    for key, value in SEEDS.items():
        request = urllib.request.Request(f"{store}/kv/{key}", data=value.encode(), method="PUT")
        try:
            with OPENER.open(request, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            print(f"migrate: store refused {key!r}: HTTP {error.code}", flush=True)
            return 1
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            print(f"migrate: cannot reach the store at {store}: {reason}", flush=True)
            return 1
        print(f"migrate: set {key} = {value!r} (HTTP {status})", flush=True)
    print(f"migrate: done, {len(SEEDS)} keys seeded", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
