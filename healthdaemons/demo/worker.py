"""A background worker fed by the key-value store: `python3 worker.py STORE_URL`.

Reads the number of queued jobs from the store's `jobs` key, prints `worker ready`,
then does one job a second, reading `jobs` again whenever its queue runs dry.
Stops cleanly (exit 0) on SIGTERM or SIGINT; exits 1 if the store cannot be read at start.
"""

from __future__ import annotations

import signal
import sys
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore HTTP_PROXY
STOP = {signal.SIGTERM, signal.SIGINT}


def read_jobs(store: str) -> int:
    """The `jobs` key as a number; `OSError` (urllib's errors) or `ValueError` if unreadable."""
    with OPENER.open(f"{store}/kv/jobs", timeout=2) as response:
        return int(response.read())


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: worker.py STORE_URL", file=sys.stderr)
        return 2
    store = sys.argv[1].rstrip("/")
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)  # taken with sigtimedwait, between jobs
    try:
        queued = read_jobs(store)
    except (OSError, ValueError) as error:
        print(f"worker: cannot read 'jobs' from the store at {store}: {error}", flush=True)
        return 1
    print(f"worker ready: {queued} jobs queued", flush=True)
    done = 0
    while True:
        if queued <= 0:
            try:
                queued = read_jobs(store)
                print(f"worker: {queued} more jobs queued", flush=True)
            except (OSError, ValueError) as error:
                print(f"worker: cannot read 'jobs', will retry: {error}", flush=True)
        if queued > 0:
            queued -= 1
            done += 1
            print(f"worker: job {done} done", flush=True)
        received = signal.sigtimedwait(STOP, 1.0)
        if received is not None:
            print(f"worker: got {signal.Signals(received.si_signo).name}, stopping", flush=True)
            print(f"worker: stopped after {done} jobs", flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
