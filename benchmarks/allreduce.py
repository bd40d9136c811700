"""What one update's communication costs: a gloo all-reduce of the DCGAN's gradients.

`gancore bench --workers 2` counts the bytes each update all-reduces (the trainable
parameters of the network it updates, as one flat float32 buffer). This script times that
all-reduce alone, written the way a torch user writes it (two processes on 127.0.0.1,
``torch.distributed.all_reduce`` of one flat tensor over gloo, no gancore code in the
timed loop), for the critic's and the generator's buffer of the bench's 28 x 28 DCGAN, so
that the share of a distributed step spent communicating can be read beside the step
times.

    python benchmarks/allreduce.py --repeats 50 --out benchmarks/results/workers-2/allreduce.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _sizes() -> dict[str, int]:
    from gancore.architectures import dcgan
    from gancore.nn import parameter_shapes, trainable_names

    pair = dcgan((28, 28, 1))
    out = {}
    for name, spec in (("critic", pair.critic), ("generator", pair.generator)):
        shapes = parameter_shapes(spec)
        out[name] = sum(int(np.prod(shapes[k])) for k in trainable_names(spec))
    return out


def _worker(rank: int, world: int, port: int, sizes: dict[str, int], repeats: int,
            queue: Any) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    result = {}
    for name, n in sizes.items():
        buffer = torch.randn(n)
        for _ in range(5):  # warm-up
            dist.all_reduce(buffer)
        times = []
        for _ in range(repeats):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(buffer)
            times.append(time.perf_counter() - start)
        result[name] = {"floats": n, "bytes": 4 * n, "ms_median": 1000 * statistics.median(times),
                        "ms_worst": 1000 * max(times)}
    dist.destroy_process_group()
    if rank == 0:
        queue.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sizes = _sizes()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.spawn(_worker, args=(args.workers, port, sizes, args.repeats, queue),
             nprocs=args.workers, join=True)
    result = queue.get()
    print("| buffer | MB | ms per all-reduce (median) | worst | MB/s |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in result.items():
        mb = r["bytes"] / 1e6
        print(f"| {name} | {mb:.2f} | {r['ms_median']:.2f} | {r['ms_worst']:.2f} | "
              f"{mb / (r['ms_median'] / 1000):.0f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {"workers": args.workers, "repeats": args.repeats, "backend": "gloo",
                  "torch": torch.__version__, "buffers": result}
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
