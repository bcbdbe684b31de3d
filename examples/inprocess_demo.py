"""A small in-process system, run for real, its lifecycle printed as it happens.

    store    a key-value store (a daemon)
    migrate  seeds the store (a oneshot), after the store is ready
    api      serves from the store (a daemon), after the migration
    worker   takes jobs (a daemon), after the store
    smoke    asks the api a question (a health check), after the api

Once everything is ready the store has a hiccup: its dependents stop, first
the ones that depend on them, and restart when it recovers. Then the whole
system shuts down in reverse dependency order. The run is written to
demo-out/inprocess-run.jsonl.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from coordinator import (
    Daemons,
    Event,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    Ready,
    describe_event,
    dump_events,
)
from coordinator.triggers import cooldown_trigger


class Store:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.accepting = False

    async def serve(self, _: object) -> None:
        await anyio.sleep(0.2)  # boot
        self.accepting = True
        try:
            await anyio.sleep_forever()
        finally:
            self.accepting = False

    def check(self) -> HealthCheckResult:
        if self.accepting:
            return HealthCheckResult.success(f"{len(self.data)} keys")
        return HealthCheckResult.failure("not accepting connections")


def build(store: Store) -> Daemons:
    api_cache: dict[str, str] = {}
    jobs_done = [0]

    async def migrate(_: object) -> None:
        await anyio.sleep(0.1)
        store.data["greeting"] = "hello"

    async def api(_: object) -> None:
        api_cache.update(store.data)
        try:
            await anyio.sleep_forever()
        finally:
            api_cache.clear()

    async def worker(_: object) -> None:
        while True:
            await anyio.sleep(0.05)
            jobs_done[0] += 1

    def api_answers() -> HealthCheckResult:
        if api_cache.get("greeting") == "hello":
            return HealthCheckResult.success("GET /greeting -> hello")
        return HealthCheckResult.failure("no answer")

    def worker_busy() -> HealthCheckResult:
        if jobs_done[0]:
            return HealthCheckResult.success(f"{jobs_done[0]} jobs done")
        return HealthCheckResult.starting("no job yet")

    fast = cooldown_trigger(0.05)
    return (
        Daemons.of()
        .add_daemon("store", exec=ExecFn(store.serve), ready=Ready("Store", store.check, 1, fast))
        .add_oneshot("migrate", exec=ExecFn(migrate), requires=["store"])
        .add_daemon(
            "api", exec=ExecFn(api), ready=Ready("API", api_answers, 1, fast), requires=["migrate"]
        )
        .add_daemon(
            "worker",
            exec=ExecFn(worker),
            ready=Ready("Worker", worker_busy, 1, fast),
            requires=["store"],
        )
        .add_health_check(
            "smoke", ready=Ready("Smoke test", api_answers, 1, fast), requires=["api"]
        )
    )


async def main() -> list[Event]:
    store = Store()
    system = build(store)
    running = system.build()
    started = anyio.current_time()

    async def show(stream: MemoryObjectReceiveStream[Event]) -> None:
        async with stream:
            async for event in stream:
                print(f"{event.at - started:7.3f}s  {describe_event(event)}")

    async with anyio.create_task_group() as printer:
        printer.start_soon(show, running.subscribe())
        async with running:
            await running.wait_ready(timeout=10)
            print("---- every entry is ready; now the store has a hiccup ----")
            store.accepting = False
            await running.wait_until(lambda: running.state("api") is LifecycleState.WAITING)
            store.accepting = True
            await running.wait_ready(timeout=10)
            print("---- ready again; shutting down in reverse dependency order ----")
    return running.history


if __name__ == "__main__":
    history = anyio.run(main)
    record = Path("demo-out") / "inprocess-run.jsonl"
    record.parent.mkdir(exist_ok=True)
    dump_events(history, record)
    print(f"{len(history)} events written to {record}")
    print(f"replay them with: .venv/bin/healthdaemons events {record}")
