"""A child process never outlives the process that started it, even when that one is killed
while the child is still starting (the parent-death signal used to be asked for only after
the child's imports: children were alive 10 s later in 2 of 10 kills)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A parent that starts a child and is SIGKILLed at once, while the child is still starting.
PARENT = """
import multiprocessing, os, signal, sys, time
from balmon import children
context = multiprocessing.get_context("spawn")
mine, theirs = context.Pipe()
child = children.spawn(
    context, target="tests.test_children:wait_for_ever", connection=theirs, args=(sys.argv[1],),
    death_signal=signal.SIGKILL, name="orphan-candidate", daemon=False,
)
child.start()
print(child.pid, flush=True)
time.sleep(float(sys.argv[2]))
os.kill(os.getpid(), signal.SIGKILL)
"""


def wait_for_ever(connection: object, note: str) -> None:
    Path(note).write_text("started", encoding="utf-8")
    while True:
        time.sleep(1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 2.0])
def test_a_child_dies_with_a_parent_killed_while_it_starts(tmp_path: Path, delay: float) -> None:
    note = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, str(note), str(delay)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert parent.returncode == -9, parent.stderr
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"child {child} outlived its parent (delay {delay}s)"
    if delay >= 2.0:
        assert note.exists()  # it did start: the signal, not a failed start, ended it
