"""Config files that are not what a config file should be: special files,
huge files, deep nesting, huge numbers, and systems large enough to show
the cost of loading (issue 11, item 11). Each is a `ConfigError`, at once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import coordinator._config
from coordinator._config import MAX_CONFIG_BYTES, load_config
from coordinator._config_schema import Service
from coordinator.errors import ConfigError

DB = '[services.db]\ncommand = "true"\nready.port = 5432\n'


def config_error(path: str | Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    prefix = f"{os.fspath(path)}: "
    assert message.startswith(prefix)
    return message.removeprefix(prefix)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "app.toml"
    os.mkfifo(fifo)
    outcome: list[str] = []
    reader = threading.Thread(target=lambda: outcome.append(config_error(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():
        # Release the blocked open() so that the thread ends, then fail.
        with open(fifo, "wb"):
            pass
        reader.join(timeout=10)
        pytest.fail("load_config waited for a writer on a FIFO")
    assert outcome == ["cannot read: not a regular file (a FIFO, a device or a socket)"]


def test_a_path_with_a_nul_is_a_config_error() -> None:
    assert config_error("app\0.toml") == "cannot read: embedded null byte"


def test_a_device_is_refused() -> None:
    message = config_error("/dev/zero")
    assert message == "cannot read: not a regular file (a FIFO, a device or a socket)"


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    with open(path, "wb") as file:
        file.write(DB.encode())
        file.truncate(MAX_CONFIG_BYTES + 1)  # sparse: no disk space used
    assert config_error(path) == (
        f"too large: a config file may hold at most {MAX_CONFIG_BYTES:,} bytes"
    )


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(DB + "#" * (MAX_CONFIG_BYTES - len(DB) - 1) + "\n")
    assert load_config(path).ids == ("db",)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("[" * 498 + "]" * 498, id="arrays-498-deep"),
        pytest.param("{a=" * 2000 + "1" + "}" * 2000, id="inline-tables-2000-deep"),
    ],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text(DB + f"env.X = {value}\n")
    assert config_error(path) == "invalid TOML: arrays or tables nested too deeply"


def test_nesting_the_parser_can_take_is_a_type_error_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(DB + "env.X = " + "[" * 50 + "]" * 50 + "\n")
    assert config_error(path) == "services.db.env.X: must be a string, not list"


def test_an_integer_with_too_many_digits_for_python(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(DB + "sigterm_timeout = 1" + "0" * 5000 + "\n")
    message = config_error(path)
    assert message.startswith("invalid TOML: Exceeds the limit (4300 digits)")
    assert "sys." not in message  # Python's advice is for programmers, not config files


def test_an_integer_too_large_for_a_float_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(DB + "ready.grace_period = 1" + "0" * 400 + "\n")
    assert config_error(path) == (
        "services.db.ready.grace_period: must be a finite number, not an integer of 401 digits"
    )


def reversed_chain(count: int) -> str:
    """`s{count-1}` requires `s{count-2}` ... requires `s0`, listed from the top:
    every service comes before the one it requires."""
    return "".join(
        f'[services.s{i}]\nkind = "oneshot"\ncommand = ["true"]\n'
        + (f'requires = ["s{i - 1}"]\n' if i else "")
        for i in reversed(range(count))
    )


def test_ordering_a_reversed_chain_looks_at_each_service_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: the old order scanned every unplaced service at
    each step (n * (n + 1) / 2 looks for a chain listed in reverse)."""
    looks = [0]
    plain: Callable[[Service], object] = Service.requires.fget  # type: ignore[attr-defined]

    def counted(service: Service) -> object:
        looks[0] += 1
        return plain(service)

    monkeypatch.setattr(Service, "requires", property(counted))
    count = 2000
    path = tmp_path / "chain.toml"
    path.write_text(reversed_chain(count))
    looks[0] = 0
    daemons = coordinator._config.load_config(path)
    assert daemons.ids == tuple(f"s{i}" for i in range(count))
    assert looks[0] <= 4 * count


def test_loading_time_grows_about_linearly(tmp_path: Path) -> None:
    """4 times the services take about 4 times as long (quadratic: 16 times).
    The bound is loose for a loaded machine; the best of three runs each."""

    def best_time(count: int) -> float:
        path = tmp_path / f"chain-{count}.toml"
        path.write_text(reversed_chain(count))
        times = []
        for _ in range(3):
            began = time.perf_counter()
            load_config(path)
            times.append(time.perf_counter() - began)
        return min(times)

    small, large = best_time(1500), best_time(6000)
    assert large / small < 10, (small, large)
