"""Run commands as children and report each one's wall time and its own peak memory.

Usage (the harness runs this as ``python -I -S benchmarks/_measure.py SPEC_JSON``)::

    {"commands": [["keel-verify", "a.json"], ...], "stdout": "out.txt", "stderr": "err.txt"}

prints one JSON list, one object per command, run one after the other::

    [{"wall_s": 0.31, "maxrss_kib": 41234, "user_s": 0.25, "sys_s": 0.04, "exit": 0}, ...]

Why a wrapper: Linux carries the parent's peak RSS into a child started with
fork/vfork/posix_spawn (``exec`` records the old address space's high-water mark), so a
child of the harness would report the harness's peak, and ``RUSAGE_CHILDREN`` is the
maximum over all children anyway. This process is tiny (stdlib only, no ``site``), and
``os.wait4`` gives the rusage of exactly the one child it reaps. A child's peak can thus
not read below this wrapper's own size (about 10 MiB), far below any Python program's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def run_one(command: list[str], stdout: str, stderr: str) -> dict[str, Any]:
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
    ]
    start = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "maxrss_kib": usage.ru_maxrss,  # KiB on Linux
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "exit": os.waitstatus_to_exitcode(status),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    results = [run_one(list(command), spec["stdout"], spec["stderr"]) for command in spec["commands"]]
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
