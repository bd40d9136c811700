"""Data-parallel training: N workers compute what one process computes.

Two local worker processes, over torch.distributed (gloo on 127.0.0.1) and over
tf.distribute (MultiWorkerMirroredStrategy's ring collectives on localhost), train every case
of `_distributed_cases` with the same global batch as a one-process run here; their weights
and logged metrics must agree within float32 tolerance. The launcher, rank-0-only outputs,
resuming on another number of workers and failing workers are tested through the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gancore import InvalidArgumentError
from gancore.distributed import Workers, from_environment, worker_environments
from gancore.training import load_checkpoint
from gancore.training._checkpoint import latest_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from _distributed_cases import CASES, final_state, run_case

HERE = Path(__file__).parent
# As tests/test_training.py compares backends: float32 sums in another order.
STEP_TOL = dict(rtol=2e-4, atol=2e-5)
# The recipe's Adam turns rounding noise in near-zero gradients into full steps.
ADAM_TOL = dict(rtol=1e-3, atol=1e-4)


# --- the workers' environment ---------------------------------------------------------------


def test_torchrun_environment_names_the_worker() -> None:
    env = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h"}
    w = from_environment("torch", env=env)
    assert (w.rank, w.world_size, w.local_rank, w.is_main, w.distributed) == (1, 4, 1, False,
                                                                              True)
    # torchrun's variables mean nothing to TensorFlow, and no variables is one process.
    assert from_environment("tensorflow", env=env) == Workers()
    assert from_environment("torch", env={}) == Workers()


def test_tf_config_names_the_worker() -> None:
    config = {"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker",
                                                                     "index": 2}}
    w = from_environment("tensorflow", env={"TF_CONFIG": json.dumps(config)})
    assert (w.rank, w.world_size) == (2, 3)


@pytest.mark.parametrize("config, match", [
    ("not json", "TF_CONFIG must be JSON"),
    (json.dumps({"cluster": {"worker": ["a:1"], "chief": ["b:2"]},
                 "task": {"type": "worker", "index": 0}}), "workers only"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
     "task index"),
])
def test_a_bad_tf_config_is_refused_clearly(config: str, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        from_environment("tensorflow", env={"TF_CONFIG": config})


def test_bad_worker_settings_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="rank must be in"):
        Workers(rank=2, world_size=2)
    with pytest.raises(InvalidArgumentError, match=r"\$WORLD_SIZE must be an int"):
        from_environment("torch", env={"RANK": "0", "WORLD_SIZE": "two"})
    with pytest.raises(InvalidArgumentError, match="GANCORE_WORKER_TIMEOUT"):
        from_environment("torch", env={"GANCORE_WORKER_TIMEOUT": "-1"})
    with pytest.raises(InvalidArgumentError, match="divisible by the number of workers"):
        Workers(rank=0, world_size=3).local_batch(16)


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_the_backend_trains_data_parallel(name: str) -> None:
    import gancore

    if name not in gancore.backends():
        pytest.skip(f"{name} is not installed")
    assert isinstance(gancore.backend(name), gancore.DistributedBackend)


def test_a_backend_without_workers_support_is_refused_clearly() -> None:
    import types

    import gancore
    from gancore.training import GANTrainer, TrainConfig
    from gancore.training._recipes import build_architecture, load_dataset

    one_process = types.SimpleNamespace(name="single", make_update=lambda *a, **k: None)
    assert not isinstance(one_process, gancore.DistributedBackend)
    data = load_dataset("digits", {})
    pair = build_architecture("dcgan", tuple(data.shape), {})
    with pytest.raises(gancore.GancoreError, match="cannot train on several workers"):
        GANTrainer(pair, data, TrainConfig(batch_size=16), backend=one_process,
                   workers=Workers(rank=0, world_size=2))


def test_each_worker_takes_its_rows_of_the_global_batch() -> None:
    rows = np.arange(12)
    parts = [Workers(rank=r, world_size=3).shard(rows) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), rows)
    assert Workers().shard(rows) is rows


def test_the_local_launcher_describes_each_worker() -> None:
    envs = worker_environments("torch", 2, base={})
    assert [e["RANK"] for e in envs] == ["0", "1"] and envs[0]["MASTER_PORT"] == envs[1][
        "MASTER_PORT"]
    workers = [from_environment("torch", env=e) for e in envs]
    assert [w.rank for w in workers] == [0, 1] and workers[0].launcher == "gancore"
    tf_envs = worker_environments("tensorflow", 2, base={})
    tf_workers = [from_environment("tensorflow", env=e) for e in tf_envs]
    assert [(w.rank, w.world_size) for w in tf_workers] == [(0, 2), (1, 2)]
    with pytest.raises(InvalidArgumentError, match="needs a backend with data-parallel"):
        worker_environments("numpy", 2)


# --- two workers compute what one process computes ------------------------------------------


FRAMEWORKS = ("torch", "tensorflow")


def _gpus(framework: str) -> int:
    if framework == "torch":
        import torch

        return torch.cuda.device_count()
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


# The GPU paths (NCCL) run where there are two GPUs; on the CPU, gloo and ring collectives.
DEVICES = ("cpu", "cuda")


def _start_workers(framework: str, args: list[str], n: int = 2, **popen: Any
                   ) -> list[subprocess.Popen]:
    env_base = {**os.environ, "GANCORE_THREADS": "1", "GANCORE_WORKER_TIMEOUT": "120"}
    return [subprocess.Popen([sys.executable, *args], env=env, **popen)
            for env in worker_environments(framework, n, base=env_base)]


_RUNS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def two_worker_runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each backend's two-worker run of every case, made once when first asked for."""

    def get(framework: str, device: str) -> Path:
        import gancore

        if framework not in gancore.backends():
            pytest.skip(f"{framework} is not installed")
        if device != "cpu" and _gpus(framework) < 2:
            pytest.skip(f"{framework} sees fewer than two GPUs")
        key = f"{framework}-{device}"
        if key not in _RUNS:
            out = tmp_path_factory.mktemp(f"workers-{key}")
            procs = _start_workers(
                framework, [str(HERE / "_distributed_cases.py"), framework, str(out), device],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            logs = [p.communicate(timeout=900)[0].decode(errors="replace") for p in procs]
            for p, log in zip(procs, logs, strict=True):
                assert p.returncode == 0, log[-3000:]
            _RUNS[key] = out
        return _RUNS[key]

    return get


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_two_workers_train_as_one_process(case: str, framework: str, device: str,
                                          two_worker_runs: Any) -> None:
    runs = two_worker_runs(framework, device)
    one = final_state(run_case(case, framework, device=device))
    ranks = [np.load(runs / f"{case}-rank{r}.npz") for r in range(2)]
    assert set(ranks[0].files) == set(one)
    for key in one:
        if "running" not in key:  # the weights stay identical on every worker
            np.testing.assert_array_equal(ranks[1][key], ranks[0][key], err_msg=key)
    if case.endswith("unsynced"):
        # Each worker normalises over its own 8 rows: not the one-process run (whose batch
        # norm sees all 16), and each worker keeps its own running statistics ...
        diff = max(float(np.abs(ranks[0][k] - one[k]).max()) for k in one)
        assert diff > 1e-3
        running = [k for k in one if "running_mean" in k]
        assert running and any(not np.array_equal(ranks[0][k], ranks[1][k]) for k in running)
        # ... and that is the whole difference: one process whose updates average the
        # losses of the two row blocks, each normalised on its own, trains the same weights.
        blocks = final_state(run_case(case, framework, device=device, per_worker_batch_norm=2))
        for key, value in blocks.items():
            if "running" not in key and not key.startswith("metrics"):
                np.testing.assert_allclose(ranks[0][key], value, err_msg=key, **STEP_TOL)
        return
    tol = ADAM_TOL if case.endswith("adam") else STEP_TOL
    for key, value in one.items():
        np.testing.assert_allclose(ranks[0][key], value, err_msg=key, **tol)


# --- a real job: the launcher, one writer, resume on another count, failures ---------------

_TOML = """
[train]
log_every = 1
generator_optimizer = {name = "sgd", lr = 0.01, momentum = 0.5}
critic_optimizer = {name = "sgd", lr = 0.01, momentum = 0.5}
"""


def _gancore(args: list[str], tmp: Path, timeout: float = 600, **popen: Any
             ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GANCORE_THREADS": "1", "GANCORE_WORKER_TIMEOUT": "120"}
    return subprocess.run([sys.executable, "-m", "gancore", *args], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=timeout, **popen)


def _weights(run: Path) -> dict[str, np.ndarray]:
    ckpt = load_checkpoint(latest_checkpoint(run))
    return {f"{n}/{k}": v for n, arrays in ckpt.arrays.items() for k, v in arrays.items()}


@pytest.mark.parametrize("job_backend, resume_backend",
                         [("torch", "torch"), ("tensorflow", "torch")])
def test_a_two_worker_job_writes_once_and_resumes_in_one_process(
        tmp_path: Path, job_backend: str, resume_backend: str) -> None:
    """Two workers to step 2, then one process to step 4 (on torch: a checkpoint of a
    TensorFlow job resumes there too) equal one process from the start."""
    (tmp_path / "sgd.toml").write_text(_TOML)
    common = ["train", "--config", "sgd.toml", "--batch-size", "16", "--seed", "2",
              "--sample-every", "2", "--checkpoint-every", "2", "--no-progress"]
    job = _gancore([*common, "--steps", "2", "--workers", "2", "--sync-batch-norm",
                    "--backend", job_backend, "--out", "job"], tmp_path)
    assert job.returncode == 0, job.stderr
    assert "on 2 workers" in job.stdout
    run = json.loads((tmp_path / "job" / "run.json").read_text())
    assert (run["workers"], run["sync_batch_norm"], run["status"]) == (2, True, "finished")
    # One writer: one line per logged step, one set of files.
    lines = (tmp_path / "job" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    resumed = _gancore(["train", "--resume", "job", "--steps", "4", "--no-progress",
                        "--backend", resume_backend], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    one = _gancore([*common, "--steps", "4", "--backend", resume_backend, "--out", "one"],
                   tmp_path)
    assert one.returncode == 0, one.stderr
    got, expected = _weights(tmp_path / "job"), _weights(tmp_path / "one")
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, err_msg=key, **STEP_TOL)
    steps = [json.loads(line)["step"] for line in
             (tmp_path / "job" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


_LEAVES = """
import sys
import torch.distributed as dist
from gancore.training import train
train(backend="torch", out_dir=sys.argv[1], steps=1, progress=False)
print("in the process group" if dist.is_initialized() else "left the process group")
"""


def test_a_worker_leaves_its_process_group_when_its_job_ends(tmp_path: Path) -> None:
    """A torch process that exits inside a gloo process group can abort at interpreter
    exit (SIGABRT: "terminate called without an active exception"); `train` leaves it."""
    procs = _start_workers("torch", ["-c", _LEAVES, str(tmp_path / "job")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert out.strip().splitlines()[-1] == "left the process group", out[-3000:]


def _training_job(tmp_path: Path) -> subprocess.Popen:
    """A long two-worker job in `tmp_path`/job, returned once its workers train (worker 0
    has written the metrics log)."""
    env = {**os.environ, "GANCORE_THREADS": "1", "GANCORE_WORKER_TIMEOUT": "120"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "gancore", "train", "--steps", "100000", "--batch-size", "16",
         "--workers", "2", "--no-progress", "--out", "job", "--checkpoint-every", "0"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (tmp_path / "job" / "metrics.jsonl").exists():
        if launcher.poll() is not None or time.monotonic() > deadline:
            launcher.kill()
            pytest.fail(f"the job did not start training: {launcher.communicate()}")
        time.sleep(0.5)
    return launcher


def test_a_killed_worker_ends_the_job_with_its_status(tmp_path: Path) -> None:
    launcher = _training_job(tmp_path)
    try:
        # Both workers train (the metrics log grows); now kill worker 1.
        children = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 2, children
        os.kill(int(sorted(children, key=int)[1]), signal.SIGKILL)
        # The launcher stops worker 0 (SIGTERM, SIGKILL after its grace): no hang.
        _, err = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGKILL
    assert "worker 1 of 2 exited with status 137" in err


def test_worker_0s_error_ends_the_job(tmp_path: Path) -> None:
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "run.json").write_text("{}")
    done = _gancore(["train", "--steps", "2", "--workers", "2", "--out", "job"], tmp_path,
                    timeout=120)
    assert done.returncode == 2
    assert "already holds a run" in done.stderr


def test_sigterm_stops_every_worker_after_the_same_step(tmp_path: Path) -> None:
    launcher = _training_job(tmp_path)
    try:
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGTERM, err
    run = json.loads((tmp_path / "job" / "run.json").read_text())
    assert run["status"] == "stopped"
    stopped_at = load_checkpoint(latest_checkpoint(tmp_path / "job")).meta["step"]
    assert stopped_at == run["steps"] > 0
    assert f"resume with: gancore train --resume {tmp_path / 'job'}" in " ".join(err.split()) \
        or "resume with: gancore train --resume job" in err
