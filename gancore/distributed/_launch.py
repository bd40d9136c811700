"""``gancore train --workers N``: start N local worker processes of the same command, the
way torchrun starts torch workers and ``TF_CONFIG`` describes TensorFlow ones, and watch
them: the job ends when all have ended, or as soon as one fails (the others are stopped and
its exit status and error are the job's)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from gancore._errors import InvalidArgumentError

__all__ = ["launch_local", "worker_environments"]

#: Seconds the other workers get to stop after one failed, before they are killed.
GRACE = 10.0


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_environments(framework: str, workers: int, base: dict[str, str] | None = None
                        ) -> list[dict[str, str]]:
    """The environment of each of `workers` local workers: torchrun's variables for torch,
    a ``TF_CONFIG`` for TensorFlow, and a thread count that shares the cores."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InvalidArgumentError(f"workers must be an int >= 1; received {workers!r}")
    if framework not in ("torch", "tensorflow"):
        raise InvalidArgumentError(
            f"--workers needs a backend with data-parallel training ('torch' or 'tensorflow');"
            f" received {framework!r}"
        )
    base = dict(os.environ if base is None else base)
    base.setdefault("GANCORE_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    base["GANCORE_LAUNCHER"] = "gancore"
    ports = _free_ports(workers if framework == "tensorflow" else 1)
    envs = []
    for rank in range(workers):
        env = dict(base)
        if framework == "torch":
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(ports[0]), RANK=str(rank),
                       WORLD_SIZE=str(workers), LOCAL_RANK=str(rank),
                       LOCAL_WORLD_SIZE=str(workers))
        else:
            env["TF_CONFIG"] = json.dumps({
                "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                "task": {"type": "worker", "index": rank}})
            env["LOCAL_RANK"] = str(rank)
        envs.append(env)
    return envs


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def launch_local(argv: Sequence[str], framework: str, workers: int) -> int:
    """Run ``python -m gancore ARGV`` as `workers` local workers; returns the job's exit
    status (0, or the first failed worker's). Worker 0 writes to this terminal; the
    others' output goes to a log that is shown when one of them fails. SIGINT and SIGTERM
    are passed on to every worker (they stop together after the same step)."""
    envs = worker_environments(framework, workers)
    logs = []
    procs: list[subprocess.Popen] = []
    cmd = [sys.executable, "-m", "gancore", *argv]
    for rank, env in enumerate(envs):
        if rank == 0:
            procs.append(subprocess.Popen(cmd, env=env))
            logs.append("")
            continue
        fd, log = tempfile.mkstemp(prefix=f"gancore-worker{rank}-", suffix=".log")
        logs.append(log)
        with os.fdopen(fd, "w") as out:
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))

    stopping: list[int] = []

    def forward(signum: int, frame: object) -> None:
        stopping.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed: tuple[int, int] | None = None
        while True:
            codes = [p.poll() for p in procs]
            if all(c is not None for c in codes) and (stopping or all(c == 0 for c in codes)):
                # Asked to stop: the workers stop together after one step and worker 0
                # writes the checkpoint; its status is the job's.
                return _status(codes[0]) if stopping else 0
            bad = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if bad and not stopping:
                failed = bad[0]
                break
            time.sleep(0.1)
        rank, code = failed[0], _status(failed[1])
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + GRACE
        for p in procs:
            remaining = deadline - time.monotonic()
            try:
                p.wait(max(remaining, 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if rank:
            tail = _tail(logs[rank])
            print(f"gancore: error: worker {rank} of {workers} exited with status {code}"
                  + (f"; its last output:\n{tail}" if tail else ""), file=sys.stderr)
        elif code not in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            print(f"gancore: worker 0 of {workers} exited with status {code}; the other "
                  f"workers were stopped", file=sys.stderr)
        return code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for log in logs[1:]:
            with contextlib.suppress(OSError):
                os.unlink(log)


def _status(code: int) -> int:
    """A process's exit status as a shell reports it (128 + N when signal N killed it)."""
    return 128 - code if code < 0 else code
