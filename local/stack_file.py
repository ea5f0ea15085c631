"""`stack.json`: what a client of the running local stack needs, and whether that stack still runs.

The stack writes the file last, once everything answers, and removes it when it stops. A stack
that was killed (SIGKILL, a crash) cannot remove it: the file then names a process that is gone.
Every local tool reads the file through `read_stack`/`read_stack_file`, which say so in one line,
with what to do; `python -m local up` (`make local`) removes such a stale file before it starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.paths import DEFAULT_STATE_DIR

NAME = "stack.json"


class StackNotRunning(RuntimeError):
    """No live local stack behind a state directory; the message is one line saying what to do."""


class StackAlreadyRunning(RuntimeError):
    """A live stack already uses the state directory a new one was asked to start in."""


def path_in(state_dir: Path) -> Path:
    return state_dir / NAME


def start_command(state_dir: Path) -> str:
    """The command that starts a stack in `state_dir`, as a user would type it."""
    if state_dir.resolve() == DEFAULT_STATE_DIR.resolve():
        return "`make local`"
    return f"`python -m local up --state-dir {state_dir}`"


def process_alive(pid: object) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True


def process_command_line(pid: int) -> str:
    """A process's command line, from ps (Linux and macOS); -ww: never cut to the terminal's width."""
    ps = ["ps", "-ww", "-o", "args=", "-p", str(pid)]
    return subprocess.run(ps, capture_output=True, text=True, check=False).stdout  # noqa: S603


def read_stack(state_dir: Path) -> dict[str, Any]:
    """The stack.json of the stack running from `state_dir`; StackNotRunning if there is none."""
    return read_stack_file(path_in(state_dir))


def read_stack_file(path: Path) -> dict[str, Any]:
    """A stack.json whose stack still runs; StackNotRunning (one line: what to do) otherwise."""
    start = start_command(path.parent)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise StackNotRunning(f"no local stack is running ({path} is missing); start one: {start}") from None
    except (OSError, ValueError) as exc:
        raise StackNotRunning(f"{path} is unreadable ({exc}): start the stack: {start}") from None
    if not isinstance(info, dict) or not process_alive(info.get("pid")):
        pid = info.get("pid") if isinstance(info, dict) else None
        raise StackNotRunning(
            f"the local stack is not running: {path} is left from a stack that was killed "
            f"(process {pid} is gone); start it again with {start}, which replaces the file"
        )
    return info


def clear_stale(state_dir: Path) -> str | None:
    """Before a stack starts in `state_dir`: remove a stale stack.json and say so (None: none was
    there); StackAlreadyRunning when a live stack owns the directory."""
    path = path_in(state_dir)
    if not path.exists():
        return None
    try:
        info = read_stack(state_dir)
    except StackNotRunning:
        stale = _load(path)
        path.unlink(missing_ok=True)
        return f"removed a stale {path} (its stack was killed without stopping){_stop_orphan(stale)}"
    raise StackAlreadyRunning(
        f"a local stack is already running from {state_dir} (process {info.get('pid')}, API "
        f"{info.get('api_url')}): stop it (Ctrl-C in its terminal) or give this one another --state-dir"
    )


def _load(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _stop_orphan(stale: dict[str, Any]) -> str:
    """A stack killed on its own (SIGKILL to its process, not its group) leaves its container
    running. Stop it, if the process is still that container: the model server on that port."""
    pid, url = stale.get("container_pid"), stale.get("container_url")
    if not process_alive(pid) or not isinstance(url, str):
        return ""
    command = process_command_line(pid)
    if "song_model.serve" not in command or f"--port {urlsplit(url).port}" not in command:
        return ""  # the id now belongs to another process
    os.kill(pid, signal.SIGTERM)
    return f", and stopped its container (process {pid}), which had outlived it"
