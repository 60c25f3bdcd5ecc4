"""Hand-written PyTorch loops that `benchmark.loops.compare` times our
TorchRunner against (twin of `tf_impl/loops.py`).

Nothing here uses `torch_impl`: the networks are written out with torch.nn as
an expert would write them, and only their parameter counts are checked
against the spec. Hyperparameters (learning rates, betas, n_critic, clipping)
are read from the spec, so every variant trains by the same rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.flops import training_flops_per_step, tutorial_dcgan_flops_per_step
from benchmark.loops import Op
from benchmark.specs import GANSpec, OptimizerSpec

if TYPE_CHECKING:
    from benchmark.loops import Loop

LATENT_DIM = 100


def configure(threads: int, seed: int, device: str = "cpu") -> None:
    """The process's intra-op threads (as TorchRunner sets them) and RNG seed."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)


def build_generator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(LATENT_DIM, 128 * 7 * 7, bias=False),
        nn.Unflatten(1, (128, 7, 7)),  # state size. 128 x 7 x 7
        nn.BatchNorm2d(128),
        nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),  # state size. 64 x 14 x 14
        nn.BatchNorm2d(64),
        nn.ReLU(True),
        nn.ConvTranspose2d(64, 1, 4, 2, 1),  # state size. 1 x 28 x 28
        nn.Tanh(),
    )


def build_discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1),  # input 1 x 28 x 28 -> 64 x 14 x 14
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False),  # state size. 128 x 7 x 7
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Flatten(),  # (C, H, W) order: a bare loop has no canonical layout to keep
        nn.Linear(128 * 7 * 7, 1),  # a logit
    )


def weights_init(module: nn.Module) -> None:
    """DCGAN paper: kernels N(0, 0.02), BatchNorm gamma N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_networks(spec: GANSpec, device: str) -> tuple[nn.Sequential, nn.Sequential]:
    """(G, D), initialised, on `device`; raises if their sizes differ from the spec's."""
    generator, discriminator = build_generator(), build_discriminator()
    counts = {name: sum(p.numel() for p in net.parameters())
              for name, net in (("generator", generator), ("discriminator", discriminator))}
    if counts != spec.parameter_counts():
        raise AssertionError(f"bare networks have {counts} parameters, {spec.name} has "
                             f"{spec.parameter_counts()}: the hand-written architecture drifted")
    for net in (generator, discriminator):
        net.apply(weights_init)
    return generator.to(device), discriminator.to(device)


def build_optimizer(spec: OptimizerSpec, params, **speed) -> torch.optim.Optimizer:
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps, **speed)
    return torch.optim.RMSprop(params, lr=spec.lr, alpha=spec.alpha, eps=spec.eps, **speed)


def device_images(images: np.ndarray, device: str) -> torch.Tensor:
    """(N, H, W, C) numpy -> (N, C, H, W) float32 tensor on `device` (a copy: the
    loader's arrays are read-only)."""
    return torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32, order="C")).to(device)


class BareLoop:
    """The fast hand-written step: images on the device, batch indices and
    noise drawn there, preallocated BCE targets, foreach optimizers, one
    device->host copy per step."""

    variant = "bare"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, mode: str,
                 device: str = "cpu") -> None:
        self.spec, self.mode, self.batch_size, self.device = spec, mode, batch_size, device
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        self.images = device_images(images, device)
        self.netG, self.netD = build_networks(spec, device)
        self.d_params = list(self.netD.parameters())
        self.optimizerG = build_optimizer(spec.g_optimizer, self.netG.parameters(), foreach=True)
        self.optimizerD = build_optimizer(spec.d_optimizer, self.d_params, foreach=True)
        compile_ = torch.compile if mode == "compile" else (lambda m: m)
        self.G, self.D = compile_(self.netG), compile_(self.netD)
        self.ones = torch.ones(batch_size, 1, device=device)
        self.zeros = torch.zeros(batch_size, 1, device=device)

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.spec.loss == "wasserstein":
            return fake.mean() - real.mean()
        return (F.binary_cross_entropy_with_logits(real, self.ones)
                + F.binary_cross_entropy_with_logits(fake, self.zeros))

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        if self.spec.loss == "wasserstein":
            return -fake.mean()
        return F.binary_cross_entropy_with_logits(fake, self.ones)

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        n_critic, clip = self.spec.n_critic, self.spec.clip_value
        index = torch.randint(0, len(self.images), (n_critic, self.batch_size), device=self.device)
        noise = torch.randn(n_critic + 1, self.batch_size, LATENT_DIM, device=self.device)

        # (1) Update D n_critic times.
        d_sum = torch.zeros((), device=self.device)
        for k in range(n_critic):
            with torch.no_grad():
                fake = self.G(noise[k])
            errD = self.d_loss(self.D(self.images[index[k]]), self.D(fake))
            self.optimizerD.zero_grad(set_to_none=True)
            errD.backward()
            self.optimizerD.step()
            if clip is not None:
                with torch.no_grad():
                    torch._foreach_clamp_min_(self.d_params, -clip)
                    torch._foreach_clamp_max_(self.d_params, clip)
            d_sum += errD.detach()

        # (2) Update G; D's weights need no gradient.
        for p in self.d_params:
            p.requires_grad_(False)
        errG = self.g_loss(self.D(self.G(noise[n_critic])))
        self.optimizerG.zero_grad(set_to_none=True)
        errG.backward()
        self.optimizerG.step()
        for p in self.d_params:
            p.requires_grad_(True)
        d_mean, g = torch.stack((d_sum / n_critic, errG.detach())).tolist()  # the one sync
        return d_mean, g


def _epochs(loader: torch.utils.data.DataLoader) -> Iterator[list[torch.Tensor]]:
    """Batches of one epoch after another, as the tutorial's `for epoch ...: for data in loader`."""
    while True:
        yield from loader


class TutorialDCGANLoop:
    """pytorch/examples `dcgan/main.py`'s loop on the bare networks: a
    DataLoader over a TensorDataset, label tensors, nn.BCEWithLogitsLoss (the
    logit form, D ending in a logit), D updated on real then fake with two
    backward passes, the fake batch reused for G's update, `.item()` for the
    per-step log line."""

    variant = "tutorial"
    mode = "eager"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.images_per_step = batch_size
        self.flops_per_step = tutorial_dcgan_flops_per_step(spec, batch_size, one_forward=False)
        dataset = torch.utils.data.TensorDataset(device_images(images, "cpu"))
        # drop_last: every timed step trains on a whole batch.
        self.dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                                      num_workers=0, drop_last=True)
        self.batches = _epochs(self.dataloader)
        self.netG, self.netD = build_networks(spec, device)
        self.criterion = nn.BCEWithLogitsLoss()
        self.optimizerD = build_optimizer(spec.d_optimizer, self.netD.parameters())
        self.optimizerG = build_optimizer(spec.g_optimizer, self.netG.parameters())
        self.real_label, self.fake_label = 1.0, 0.0

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        data = next(self.batches)
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        self.netD.zero_grad()
        real_cpu = data[0].to(self.device)
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), self.real_label, dtype=real_cpu.dtype, device=self.device)
        output = self.netD(real_cpu).view(-1)
        errD_real = self.criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        noise = torch.randn(b_size, LATENT_DIM, device=self.device)
        fake = self.netG(noise)
        label.fill_(self.fake_label)
        output = self.netD(fake.detach()).view(-1)
        errD_fake = self.criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()

        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        self.netG.zero_grad()
        label.fill_(self.real_label)
        output = self.netD(fake).view(-1)
        errG = self.criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        del D_x, D_G_z1, D_G_z2  # the tutorial prints them
        return errD.item(), errG.item()


class TutorialWGANLoop:
    """The same loop adapted to WGAN as its reference code (martinarjovsky/
    WassersteinGAN) does: RMSprop, n_critic batches from the DataLoader's
    iterator per G update, critic weights clamped after each update, D frozen
    by requires_grad for G's update, `.item()` for the log line."""

    variant = "tutorial"
    mode = "eager"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu") -> None:
        self.spec = spec
        self.device = torch.device(device)
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        dataset = torch.utils.data.TensorDataset(device_images(images, "cpu"))
        self.dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                                      num_workers=0, drop_last=True)
        self.batches = _epochs(self.dataloader)
        self.netG, self.netD = build_networks(spec, device)
        self.optimizerD = build_optimizer(spec.d_optimizer, self.netD.parameters())
        self.optimizerG = build_optimizer(spec.g_optimizer, self.netG.parameters())

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        clip = self.spec.clip_value
        ############################
        # (1) Update D network n_critic times: maximize D(x) - D(G(z))
        ###########################
        for p in self.netD.parameters():
            p.requires_grad = True
        for _ in range(self.spec.n_critic):
            real_cpu = next(self.batches)[0].to(self.device)
            b_size = real_cpu.size(0)
            self.netD.zero_grad()
            errD_real = -self.netD(real_cpu).mean()
            errD_real.backward()
            noise = torch.randn(b_size, LATENT_DIM, device=self.device)
            with torch.no_grad():
                fake = self.netG(noise)
            errD_fake = self.netD(fake).mean()
            errD_fake.backward()
            errD = errD_real + errD_fake
            self.optimizerD.step()
            if clip is not None:
                for p in self.netD.parameters():
                    p.data.clamp_(-clip, clip)

        ############################
        # (2) Update G network: maximize D(G(z))
        ###########################
        for p in self.netD.parameters():
            p.requires_grad = False
        self.netG.zero_grad()
        noise = torch.randn(b_size, LATENT_DIM, device=self.device)
        errG = -self.netD(self.netG(noise)).mean()
        errG.backward()
        self.optimizerG.step()
        return errD.item(), errG.item()  # the reference logs the last critic update's loss


def tutorial_loop(spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu"):
    """The tutorial's loop for the spec's loss: DCGAN's for BCE, WGAN's for Wasserstein."""
    cls = TutorialWGANLoop if spec.loss == "wasserstein" else TutorialDCGANLoop
    return cls(spec, images, batch_size, device)


# --- profiling (python -m benchmark.loops.profile) ------------------------------------

# What an op's time means in the profile's table.
PROFILE_TIME = "self time on the calling thread (its OpenMP threads work inside each op)"


def profile_ops(loop: "Loop", steps: int, run_steps: Callable[[], object]) -> list[Op]:
    """Our step's ops over `run_steps()` (which runs `steps` steps of `loop`):
    torch.profiler's self CPU time per aten op and input shapes."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        run_steps()
    ops = []
    for entry in profiler.key_averages(group_by_input_shape=True):
        if entry.self_cpu_time_total > 0:
            shapes = ", ".join(str(list(s)) for s in entry.input_shapes if s)
            ops.append(Op(entry.key, entry.count / steps, entry.self_cpu_time_total / 1e3 / steps, shapes,
                          entry.key))
    return ops
