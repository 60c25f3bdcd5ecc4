"""Data-parallel runs (`--devices N`), framework-neutral: how a run is
launched, which process writes, and which slice of a step each replica takes.

Strong scaling: the global batch B stays the spec's and each of N replicas
takes B/N. The driver draws every step's inputs for the global batch on the
host, as for one device, and replica r takes the contiguous slice r of the
batch axis (`shard`), so that both frameworks give each replica the same
images, noise, labels and penalty mixes. (A DistributedSampler would
interleave instead, which changes the real/fake pairs a gradient penalty mixes.)

Launch. PyTorch: the suite starts the worker under torchrun
(`python -m torch.distributed.run --standalone --nproc_per_node N -m
benchmark.worker RUN_DIR`); torchrun sets RANK, LOCAL_RANK and WORLD_SIZE,
and across nodes a user starts the same worker with torchrun's own flags
(README). TensorFlow: one process drives N local devices through
MirroredStrategy; across hosts each host runs the worker with TF_CONFIG set,
and MultiWorkerMirroredStrategy joins them. JAX: one process drives N local
devices through a jax.sharding mesh; across hosts each host runs the worker
with JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES and
JAX_PROCESS_ID set, and `jax.distributed` joins their devices into one mesh.
Either way the process of rank 0 (TF: worker 0, the chief; JAX: process 0)
writes the run's files; the others train the same steps and write nothing
but a note of their own failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmark.frameworks import framework as framework_facts
from benchmark.runner import StepInputs

# A rank other than 0 that fails writes RUN_DIR/failed-rank<r>.json ({"rank", "reason"}):
# rank 0 writes result.json, and the suite names the first rank that failed.
RANK_FAILURE = "failed-rank{rank}.json"
# Seconds a collective waits for a peer that neither answers nor closes its
# connection (torch.distributed's default is 30 minutes); a peer that dies
# closes its sockets and fails the collective at once.
COLLECTIVE_TIMEOUT_S = float(os.environ.get("GANBENCH_COLLECTIVE_TIMEOUT_S", 600))


class UsageError(ValueError):
    """A --devices value the run cannot honour (the batch does not split)."""


def check_batch(batch_size: int, replicas: int) -> None:
    """Strong scaling needs B/N images per replica, a whole number."""
    if replicas < 1:
        raise UsageError(f"--devices {replicas}: give 1 or more")
    if batch_size % replicas:
        raise UsageError(f"--devices {replicas} with batch {batch_size}: each of the {replicas} replicas "
                         f"takes batch/{replicas} images, and {batch_size} does not divide; choose a "
                         f"--batch-size that is a multiple of {replicas} (e.g. "
                         f"{max(replicas, batch_size - batch_size % replicas)})")


def shard(inputs: StepInputs, replica: int, replicas: int) -> StepInputs:
    """Replica `replica`'s contiguous slice of a global step's inputs: columns
    [r B/N, (r + 1) B/N) of every (.., B) array."""
    batch = inputs.indices.shape[1]
    check_batch(batch, replicas)
    local = batch // replicas
    part = slice(replica * local, (replica + 1) * local)
    # Optional fields (a native loader's real images) are None on the device pipeline.
    return StepInputs(*(None if (value := getattr(inputs, f.name)) is None else value[:, part]
                        for f in dataclasses.fields(StepInputs)))


@dataclass(frozen=True)
class Process:
    """This process's place in a data-parallel run."""

    rank: int = 0  # torch: RANK; tf multi-worker: the task index; jax: JAX_PROCESS_ID
    world: int = 1  # processes taking part (torch: WORLD_SIZE; tf: workers; jax: JAX_NUM_PROCESSES)
    local_rank: int = 0  # torch: the GPU this process drives on its node

    @property
    def writes(self) -> bool:
        """Rank 0 writes the run's files; the others train silently."""
        return self.rank == 0


# jax.distributed.initialize reads JAX_COORDINATOR_ADDRESS itself, but takes the
# process count and index as arguments only (outside SLURM, MPI and TPU pods):
# these two name them the way its own variable is named.
JAX_PROCESSES = ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def this_process() -> Process:
    """From torchrun's variables, else TF_CONFIG's task, else JAX's
    JAX_NUM_PROCESSES and JAX_PROCESS_ID, else a single process."""
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
        return Process(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                       int(os.environ.get("LOCAL_RANK", 0)))
    cluster = tf_config_workers()
    if cluster > 1:
        task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
        return Process(int(task.get("index", 0)), cluster)
    count, index = (os.environ.get(name) for name in JAX_PROCESSES)
    if count and index and int(count) > 1:
        if not 0 <= int(index) < int(count):
            raise UsageError(f"JAX_PROCESS_ID={index} with JAX_NUM_PROCESSES={count}: "
                             f"give each process an index from 0 to {int(count) - 1}")
        return Process(int(index), int(count))
    return Process()


def tf_config_workers() -> int:
    """Hosts named in TF_CONFIG (MultiWorkerMirroredStrategy); 0 without it."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 0
    cluster = json.loads(text).get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


# torchrun --log-dir under a run folder: <job id>/attempt_<n>/<local rank>/stderr.log,
# each rank's own output (also teed to the worker's stderr.log, interleaved).
RANK_LOGS = "ranks"


def worker_command(framework: str, devices: int, run_dir: Path) -> list[str]:
    """The command that trains one run: the worker itself, or with several
    devices the framework's launcher around it (benchmark.frameworks:
    torchrun starts one process per device). --standalone lets torchrun pick a
    free port for its rendezvous, so runs never clash on one; --log-dir with
    --tee keeps each rank's output in a file of its own."""
    worker = ["-m", "benchmark.worker", str(run_dir)]
    if devices > 1 and framework_facts(framework).launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={devices}", "--monitor-interval=1",
                "--log-dir", str(run_dir / RANK_LOGS), "--tee", "3", *worker]
    return [sys.executable, *worker]


def rank_stderr_tails(log_dir: Path, lines: int) -> dict[int, str]:
    """{local rank: its last `lines` lines of stderr} from torchrun's newest
    attempt under `log_dir` (a resumed run starts a new job folder there);
    ranks that wrote nothing are left out."""
    attempts = sorted(log_dir.glob("*/attempt_*"), key=lambda p: p.stat().st_mtime)
    if not attempts:
        return {}
    tails = {}
    for path in sorted(attempts[-1].glob("*/stderr.log"), key=lambda p: int(p.parent.name)):
        text = path.read_text(errors="replace").strip()
        if text:
            tails[int(path.parent.name)] = "\n".join(text.splitlines()[-lines:])
    return tails


def record_rank_failure(run_dir: Path, rank: int, reason: str) -> None:
    """A non-zero rank's failure, for the suite (rank 0's goes to result.json)."""
    from benchmark import io

    io.write_json(run_dir / RANK_FAILURE.format(rank=rank), {"rank": rank, "reason": reason})


# torchrun's summary of a failed run lists every failed rank, then the first
# observed ("Root Cause"), each as
#   rank      : 1 (local_rank: 1)
#   exitcode  : -9 (pid: 1234)
#   traceback : Signal 9 (SIGKILL) received by PID 1234
_FAILED_RANK = re.compile(r"^\s*rank\s*:\s*(\d+) \(local_rank.*?^\s*exitcode\s*:\s*(-?\d+) \(pid", re.S | re.M)
_ROOT_CAUSE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.S)


def failure_reason(run_dir: Path, stderr_text: str, devices: int) -> str | None:
    """Why a data-parallel run failed, naming the rank: a rank killed by a
    signal (a rank torchrun did not stop itself; such a rank writes nothing),
    else the first rank's own failure note, else torchrun's root cause; None
    when none says. A killed rank need not be torchrun's "first observed
    failure": its peers' collectives fail at once ("Connection reset by
    peer") and may exit before torchrun looks, so every listed rank is read."""
    for rank, code in ((int(r), int(c)) for r, c in _FAILED_RANK.findall(stderr_text)):
        if code < 0 and -code != signal.SIGTERM:  # torchrun stops the survivors with SIGTERM
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"rank {rank} of {devices} was killed by signal {name}; torchrun stopped the other ranks"
    found = _ROOT_CAUSE.search(stderr_text)
    cause = None
    if found is not None:
        rank, code = int(found.group(1)), int(found.group(2))
        cause = f"rank {rank} of {devices} exited with code {code}; torchrun stopped the other ranks"
    notes = sorted(run_dir.glob(RANK_FAILURE.format(rank="*")))
    if notes:
        from benchmark import io

        note = io.read_json(notes[0])
        return f"rank {note['rank']} of {devices} failed: {note['reason']}"
    return cause
