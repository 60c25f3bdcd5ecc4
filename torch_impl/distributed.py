"""Data-parallel PyTorch: DistributedDataParallel over the process group that
torchrun starts (one process per device; gloo on the CPU, NCCL on GPUs).
See `benchmark.distributed` for the launch and the slicing of a step.

What DDP needs from a GAN, and where it is done here:
- G and D are wrapped apart, each with every parameter trainable when
  wrapped. During G's update the step freezes all of D
  (`requires_grad_(False)` on the whole module, never a subset): no hook of
  D's reducer fires, so its next backward starts clean;
  find_unused_parameters stays False.
- broadcast_buffers=False (torch 2.14: forward_sync_buffers=False): with it on, DDP re-broadcasts buffers in place
  before every forward, and D(real) then D(fake) through a BatchNorm fails
  ("modified by an inplace operation"). Parameters and buffers are broadcast
  from rank 0 once, after the canonical weights or a checkpoint are loaded.
- The gradient penalty's inner torch.autograd.grad runs through the plain D;
  the D loss and the penalty then go through one backward that also passes
  D's DDP outputs, so the penalty's weight gradients are all-reduced with the
  rest (a backward through autograd.grad alone would skip DDP's hooks).
- Spectral norm's u, v depend on the weights only, which are identical on
  every rank after each all-reduced update: they stay identical by themselves.
- BatchNorm: without --sync-batchnorm each replica normalises with its own
  slice's statistics, and the running statistics are averaged over the
  replicas after every step (the mean of per-replica moving averages is the
  moving average of their means, which is what TensorFlow's MEAN-aggregated
  moving statistics hold). With it, `SyncedBatchNorm` normalises with the
  global batch's statistics: torch's SyncBatchNorm refuses the CPU, so this
  is the same statistics on `torch.distributed.nn.functional.all_reduce`,
  which is differentiable (its backward all-reduces the gradient).
- Losses are each replica's batch means; DDP averages gradients over
  replicas, which for equal slices is the gradient of the global batch mean.
  The reported losses are the replicas' mean. Clipping runs on identical
  weights on every rank, so it keeps them identical.
"""

from __future__ import annotations

import inspect
import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from benchmark.distributed import COLLECTIVE_TIMEOUT_S, shard
from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import GANSpec
from benchmark.weights import Weights
from torch_impl.optim import build_optimizer
from torch_impl.runner import TorchRunner


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of `x` over the ranks, differentiable: its backward all-reduces
    the gradient (torch's functional collective; before torch 2.14 the now
    deprecated torch.distributed.nn.functional.all_reduce)."""
    try:
        from torch.distributed import _functional_collectives as funcol

        return funcol.all_reduce(x, "sum", dist.group.WORLD)
    except (ImportError, AttributeError):
        import torch.distributed.nn.functional as dist_fn

        return dist_fn.all_reduce(x)


# torch 2.14 renamed DDP's broadcast_buffers to forward_sync_buffers.
_NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else {"broadcast_buffers": False})


class SyncedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch in training: per-channel mean, then the
    mean squared deviation from it, each a sum all-reduced over the replicas
    (two passes, as a single device computes them). Running statistics take the
    unbiased global variance, n / (n - 1) with n the global count, as
    nn.BatchNorm does on one device. In inference, or in one process, it is
    nn.BatchNorm."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"expected (N, C) or (N, C, H, W) input, got {x.dim()} dimensions")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]  # every axis but the channels
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = x.to(self.weight.dtype)  # statistics in the parameters' type under autocast
        count = y.numel() // y.shape[1] * dist.get_world_size()  # equal slices (check_batch)
        mean = all_reduce_sum(y.sum(dims)) / count  # (C,)
        centered = y - mean.view(shape)
        var = all_reduce_sum(centered.square().sum(dims)) / count  # biased, for normalising
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * (count / (count - 1)), alpha=m)
            self.num_batches_tracked.add_(1)
        out = centered * torch.rsqrt(var + self.eps).view(shape) * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)


def synced_batchnorm(module: nn.Module) -> nn.Module:
    """Replaces every BatchNorm1d/2d under `module` by a SyncedBatchNorm with
    its parameters and statistics; returns `module`."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            synced = SyncedBatchNorm(child.num_features, child.eps, child.momentum)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced.to(child.weight.device, child.weight.dtype))
        else:
            synced_batchnorm(child)
    return module


def init_process_group(device: str) -> None:
    """Joins the group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT):
    gloo on the CPU, NCCL on GPUs, each rank on the GPU of its LOCAL_RANK."""
    if dist.is_initialized():
        return
    if "WORLD_SIZE" not in os.environ:
        raise RuntimeError("--devices N > 1 with torch runs under torchrun, which sets RANK and "
                           "WORLD_SIZE; start the worker with `torchrun --nproc_per_node N -m "
                           "benchmark.worker RUN_DIR` (README, data-parallel training)")
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if device == "cuda" else "gloo",
                            timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S))


class DistributedTorchRunner(TorchRunner):
    """TorchRunner whose step runs on this rank's slice of the global batch,
    with gradients all-reduced by DDP (module docstring)."""

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        init_process_group(options.device)
        self.rank, self.replicas = dist.get_rank(), dist.get_world_size()
        if options.devices != self.replicas:
            raise ValueError(f"--devices {options.devices}, but torchrun started {self.replicas} "
                             "processes; give torchrun as many processes in all as --devices")
        super().__init__(spec, options)
        if options.sync_batchnorm:
            synced_batchnorm(self.generator)
            synced_batchnorm(self.discriminator)
            # The optimizers were built on the modules' old parameters.
            self.g_optimizer = build_optimizer(spec.g_optimizer, self.generator.parameters())
            self.d_optimizer = build_optimizer(spec.d_optimizer, self.discriminator.parameters())
        self._batchnorms = [m for net in (self.generator, self.discriminator) for m in net.modules()
                            if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        device_ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None

        def wrap(net: nn.Module) -> nn.Module:
            ddp = DistributedDataParallel(net, device_ids=device_ids, find_unused_parameters=False,
                                          **_NO_BUFFER_SYNC)
            return torch.compile(ddp) if options.mode == "compile" else ddp

        self._g = wrap(self.generator)
        self._d = wrap(self.discriminator)

    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        losses = super().train_step(shard(inputs, self.rank, self.replicas))
        # One all-reduce: both losses and, without synced BatchNorm, every
        # running statistic, averaged over the replicas.
        averaged = [] if self.options.sync_batchnorm else [
            t for m in self._batchnorms for t in (m.running_mean, m.running_var)]
        flat = torch.cat([torch.tensor([losses["d_loss"], losses["g_loss"]], dtype=self.dtype,
                                       device=self.device), *(t.reshape(-1) for t in averaged)])
        dist.all_reduce(flat)
        flat /= self.replicas
        with torch.no_grad():
            offset = 2
            for t in averaged:
                t.copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()
        d_loss, g_loss = flat[:2].tolist()
        return {"d_loss": d_loss, "g_loss": g_loss}

    def step_seconds(self, seconds: float) -> float:
        slowest = torch.tensor([seconds], dtype=torch.float64, device=self.device)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        return float(slowest.item())

    def synchronize(self) -> None:
        dist.barrier()

    def close(self) -> None:
        """Leaves the process group with the peers: a barrier, then
        destroy_process_group, which joins gloo's worker threads.

        Without it a rank can abort as it exits (SIGABRT, "terminate called
        without an active exception"): a gloo thread that finishes the last
        collective drops that collective's tensors, whose Python objects need
        the GIL to be freed; if the main thread is already finalizing the
        interpreter, taking the GIL ends the thread with a forced unwind
        through a noexcept destructor, and C++ calls std::terminate. gloo's
        barrier first waits for every collective this rank started (a
        backward's bucket all-reduces included), so no thread is left with
        work when the group is destroyed. That narrows the window but does not
        close it: destroy_process_group drops torch's own references only, and
        the DDP wrappers keep the group and its threads until the interpreter
        finalizes; so a rank ends without finalizing (benchmark.worker.leave).
        tests/distributed/test_shutdown.py."""
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def _broadcast_state(self) -> None:
        """Every parameter and buffer as rank 0 holds it, on every rank."""
        with torch.no_grad():
            for net in (self.generator, self.discriminator):
                for tensor in [*net.parameters(), *net.buffers()]:
                    dist.broadcast(tensor, src=0)

    def import_weights(self, weights: Weights) -> None:
        super().import_weights(weights)
        self._broadcast_state()

    def load(self, directory) -> None:
        super().load(directory)  # every rank reads rank 0's checkpoint (one node, or shared storage)
        self._broadcast_state()

    def replica_states(self) -> list[Weights]:
        """Every rank's weights and statistics, gathered on every rank: for the
        tests that check the replicas agree."""
        gathered: list = [None] * self.replicas
        dist.all_gather_object(gathered, {k: np.asarray(v) for k, v in self.export_weights().items()})
        return gathered

    def environment(self) -> dict[str, str]:
        backend = dist.get_backend()
        return {**super().environment(), "data_parallel": f"DistributedDataParallel, {self.replicas} "
                f"processes ({backend})"}
