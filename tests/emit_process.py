"""``keel-emit serve`` as a real child process on loopback (helpers, no tests here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

API_KEY = "test-api-key-not-a-secret"


def start_serve(db: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``keel-emit serve --port 0`` on ``db``; (process, base URL) once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keel_verify.emit.cli", "serve", "--port", "0", "--db", str(db),
         "--api-key", API_KEY, *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stderr is not None
    seen = []
    for raw in process.stderr:
        line = raw.decode("utf-8", "replace")
        seen.append(line)
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return process, found.group(1)
    raise AssertionError(f"keel-emit serve did not start: {''.join(seen)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(30)
    if process.stderr is not None:
        process.stderr.close()
