"""Two gloo ranks whose rank 0 ends while a collective it started is still in
flight, as a rank does after an abandoned backward (DDP's bucket all-reduces:
replicas.py's partly frozen critic), or under load, when gloo's thread lets go
of a finished collective only after the rank has moved on to exit:

    python -m torch.distributed.run --standalone --nproc_per_node=2 \\
        tests/distributed/late_collective.py [--no-close]

Each rank ends as the worker does: DistributedTorchRunner.close(), then
benchmark.worker.leave(0), which exits without the interpreter's shutdown.
With --no-close they just exit, and rank 0 aborts (SIGABRT, "terminate called
without an active exception") when gloo's thread frees the collective's
tensors during the shutdown (tests/distributed/test_shutdown.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from benchmark.registry import create_runner  # noqa: E402
from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import SPECS  # noqa: E402
from benchmark.worker import leave  # noqa: E402

LATE_S = 0.3  # rank 1 waits in the collective this long before rank 0 starts it
GARBAGE = 3_000_000  # objects rank 0 frees as it shuts down: a shutdown of about a second

runner = create_runner("torch", SPECS["vanilla"], RunnerOptions(devices=2, threads=1))
if runner.rank == 0:
    garbage = [[i] for i in range(GARBAGE)]
    time.sleep(LATE_S)
    # Finishes at once, rank 1 waiting in it: gloo's thread then frees it,
    # and with it `held`'s Python object, while this rank goes on to exit.
    held = torch.ones(4096)
    dist.all_reduce(held, async_op=True)  # never waited for
else:
    dist.all_reduce(torch.ones(4096))
if "--no-close" not in sys.argv:
    runner.close()
    assert not dist.is_initialized(), "close() left the process group"
    leave(0)
