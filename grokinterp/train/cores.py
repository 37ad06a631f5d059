"""Which grokinterp trainings share this machine's cores, and the one line that warns when they oversubscribe them.

Two processes that each run torch on every core do not share the cores politely: OpenMP threads spin-wait on
one another, and each run becomes ~10x slower (measured with two 2-thread trainings on 2 cores), with nothing
telling the user why. Every training loop registers itself (`registered`) for as long as it runs: one small
file per process, `<pid>.json` holding its torch thread count, in a directory per user under the temporary
directory (`GROKINTERP_ACTIVE_DIR` overrides it). A new training reads the others (`other_trainings`; files of
processes that have died are removed; a stopped process, `kill -STOP` or Ctrl-Z, uses no core and is passed
over while it stays stopped) and, when their threads and its own add up to more than the cores this
process may use, prints `oversubscription_message` once on stderr. A sweep gives each of its jobs cores // jobs
threads, so its own jobs never add up to more than the cores and never warn.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Training:
    """One running grokinterp training process and its torch thread count."""

    pid: int
    threads: int


def active_dir() -> Path:
    """Where running trainings register: `GROKINTERP_ACTIVE_DIR`, else `<tmp>/grokinterp-<uid>/training`."""
    env = os.environ.get("GROKINTERP_ACTIVE_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"grokinterp-{os.getuid()}" / "training"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def stopped(pid: int) -> bool:
    """Whether the process is stopped (`kill -STOP`, Ctrl-Z, a debugger): state T or t in /proc/PID/stat. False
    where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] in ("T", "t")  # the state follows the command name's ")"


def other_trainings(directory: Path | None = None) -> list[Training]:
    """The registered trainings other than this process that are still alive and not stopped (the files of
    processes that have died are removed)."""
    directory = active_dir() if directory is None else directory
    found = []
    for f in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(f.read_text())
            pid, threads = int(entry["pid"]), int(entry["threads"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written or not ours: skip it
        if pid == os.getpid():
            continue
        if not alive(pid):
            with contextlib.suppress(OSError):
                f.unlink()
            continue
        if not stopped(pid):
            found.append(Training(pid, threads))
    return found


def oversubscription_message(threads: int, others: list[Training], cores: int) -> str | None:
    """One line when `others` and a new training of `threads` threads want more threads than `cores`, else None."""
    busy = sum(t.threads for t in others)
    if not others or busy + threads <= cores:
        return None
    who = ", ".join(f"pid {t.pid} with {t.threads} thread{'s' * (t.threads != 1)}" for t in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    n = len(others) + 1
    each = max(1, cores // n)
    return (f"grokinterp: {len(others)} other grokinterp training{'s' * (len(others) != 1)} ({who}{more}) already "
            f"use{'s' * (len(others) == 1)} this machine's {cores} cores, and this one adds {threads} thread"
            f"{'s' * (threads != 1)}: oversubscribed, every run slows down several times (~10x measured for two "
            f"2-thread runs on 2 cores). Give each run at most {each} (OMP_NUM_THREADS={each} python -m "
            f"grokinterp.train ...), run them one after another, or run them as one sweep, which splits the "
            f"cores between its jobs")


@contextlib.contextmanager
def registered(threads: int, directory: Path | None = None, warn: bool = True) -> Iterator[list[Training]]:
    """Register this process as a training of `threads` threads while the block runs; on entry, print the
    oversubscription line on stderr when it applies (`warn`). Yields the other trainings found. A directory
    that cannot be written (read-only tmp) only skips the registration."""
    directory = active_dir() if directory is None else directory
    others = other_trainings(directory)
    if warn:
        message = oversubscription_message(threads, others, usable_cores())
        if message:
            print(message, file=sys.stderr, flush=True)
    path = directory / f"{os.getpid()}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "threads": threads}))
        mine = True
    except OSError:
        mine = False
    try:
        yield others
    finally:
        if mine:
            with contextlib.suppress(OSError):
                path.unlink()
