"""The parent side: one child process per backend's jobs, read line by line
with a deadline per job, so that a crash or a compile that takes too long becomes a row of
the table ("timeout", "crashed") and a fresh child goes on with the remaining jobs."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gancore.bench._catalog import Job

#: Seconds a child may take to import its framework before its first job starts.
STARTUP_TIMEOUT = 300.0
#: The child process.
CHILD = (sys.executable, "-m", "gancore.bench._child")

Report = Callable[[Job, dict[str, Any]], None]


def _environment(backend: str, threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if threads:  # the BLAS and OpenMP pools the frameworks may use besides their own
        env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    if backend == "tensorflow":
        env["KERAS_BACKEND"] = "tensorflow"  # the hand-written loop's Keras
    # The ceiling is the CPU's: the frameworks must not move work to a GPU.
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _tail(path: str, count: int = 3) -> str:
    with open(path, errors="replace") as f:
        lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    return " | ".join(lines[-count:])[-500:]


class Group:
    """The jobs of one backend, run in child processes until each has a result."""

    def __init__(self, backend: str, jobs: Sequence[Job], settings: dict[str, Any],
                 timeout: float, report: Report, command: Sequence[str] = CHILD) -> None:
        self.backend = backend
        self.command = list(command)
        self.pending = list(jobs)
        self.settings = settings
        self.timeout = timeout
        self.report = report
        self.info: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        """Run every job; returns the first child's description of its framework (with its
        matmul rate)."""
        while self.pending:
            self._child(ceiling=not self.info)
        return self.info

    def _finish(self, job: Job, result: dict[str, Any]) -> None:
        self.pending.remove(job)
        self.report(job, result)

    def _child(self, ceiling: bool) -> None:
        payload = {**self.settings, "backend": self.backend, "ceiling": ceiling,
                   "jobs": [j.to_dict() for j in self.pending]}
        by_id = {j.id: j for j in self.pending}
        with tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False) as err:
            log = err.name
        try:
            with open(log, "w") as err_file:
                proc = subprocess.Popen(
                    self.command, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=err_file, text=True,
                    env=_environment(self.backend, self.settings.get("threads")),
                    # its own process group: a kill also ends its compiler workers
                    start_new_session=True,
                )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(payload))
            proc.stdin.close()
            lines: queue.Queue[str | None] = queue.Queue()
            reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
            reader.start()
            self._follow(proc, lines, by_id, log)
            reader.join(timeout=10.0)  # the child is gone: its pipe ends
            if not reader.is_alive():
                proc.stdout.close()
        finally:
            os.unlink(log)
        # compiler workers a crashed child left behind, in its own process group only
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def _follow(self, proc: subprocess.Popen[str], lines: queue.Queue[str | None],
                by_id: dict[int, Job], log: str) -> None:
        current: Job | None = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                proc.kill()
                proc.wait()
                if current is None:  # stuck before any job: give up on the group
                    for job in list(self.pending):
                        self._finish(job, {"status": "error",
                                           "error": "the child did not start in time"})
                else:
                    self._finish(current, {"status": "timeout",
                                           "error": f"no result after {self.timeout:.0f} s"})
                return
            if line is None:
                code = proc.wait()
                if current is not None:
                    self._finish(current, {"status": "crashed", "error":
                                           f"exit code {code}: {_tail(log)}"})
                elif self.pending:  # died outside a job (at start-up): a retry would too
                    for job in list(self.pending):
                        self._finish(job, {"status": "error", "error":
                                           f"the child failed (exit code {code}): {_tail(log)}"})
                return
            message = json.loads(line)
            if message["event"] == "info":
                self.info = self.info or message["info"]  # a restart measures no ceiling
            elif message["event"] == "start":
                current = by_id[message["id"]]
                deadline = time.monotonic() + self.timeout
            elif message["event"] == "result" and current is not None:
                self._finish(current, message["result"])
                current = None
                deadline = time.monotonic() + self.timeout
