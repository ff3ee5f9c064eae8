"""`tellusonce demo`'s supervisor: it announces the demo only once every part answers, and stops,
saying which part, when one never does or exits first."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tellusonce import cli
from tellusonce.cli import DemoProcess, _supervise


def part(name: str, *command: str) -> DemoProcess:
    return DemoProcess(name, [name], subprocess.Popen(list(command)), time.monotonic())


def sleeping(name: str) -> DemoProcess:
    return part(name, sys.executable, "-c", "import time; time.sleep(60)")


def test_a_part_that_never_answers_stops_the_demo_unannounced_naming_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "READY_TIMEOUT_SECONDS", 1.0)
    announced: list[bool] = []
    parts = [sleeping("web"), sleeping("mail sender")]
    code = _supervise(parts, ready={"web": lambda: False}, announce=lambda: announced.append(True))
    assert code == 1 and announced == []
    assert "web did not answer within 1 s; stopping the demo." in capsys.readouterr().err
    assert all(p.proc.poll() is not None for p in parts)


def test_a_part_that_exits_before_every_part_answers_stops_the_demo(monkeypatch, capsys):
    monkeypatch.setattr(cli, "STARTUP_GRACE_SECONDS", 0.0)
    announced: list[bool] = []
    parts = [sleeping("web"), part("receiver", sys.executable, "-c", "raise SystemExit(3)")]
    code = _supervise(parts, ready={"web": lambda: False}, announce=lambda: announced.append(True))
    assert code == 1 and announced == []
    assert "receiver could not start (exit code 3); stopping the demo." in capsys.readouterr().err
    assert all(p.proc.poll() is not None for p in parts)


@pytest.mark.parametrize("answers_after", [0.0, 0.5])
def test_the_demo_is_announced_once_when_every_probe_answers(answers_after):
    started = time.monotonic()
    announced: list[float] = []
    parts = [sleeping("web"), sleeping("mail sender")]

    def announce() -> None:
        announced.append(time.monotonic() - started)
        signal.raise_signal(signal.SIGTERM)  # then stop the demo, as an operator's Ctrl+C or systemd would

    code = _supervise(parts, ready={"web": lambda: time.monotonic() - started >= answers_after}, announce=announce)
    assert code == 0 and len(announced) == 1 and announced[0] >= answers_after
    assert all(p.proc.poll() is not None for p in parts)
