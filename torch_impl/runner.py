"""The PyTorch runner: the one place where PyTorch trains a spec'd GAN."""

from __future__ import annotations

import contextlib
import platform
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmark.peak import matmul_gflops
from benchmark.runner import RunnerOptions, StatefulRunner, StepInputs
from benchmark.specs import GANSpec
from torch_impl.losses import LOSSES, gradient_penalty
from torch_impl.nets import build_network
from torch_impl.optim import build_optimizer
from torch_impl.weights import export_network, import_network

# --precision -> autocast's compute type; fp32 runs without autocast.
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def nchw_tensor(images: np.ndarray, dtype: torch.dtype | None = None, device: str = "cpu") -> torch.Tensor:
    """(N, H, W, C) images as a new (N, C, H, W) tensor with C-order strides,
    even where C = 1. A transposed copy (numpy's or torch's) keeps a stride of
    1 on a size-1 channel axis, which `contiguous()` accepts as it is; and
    torch.compile guards on strides, so D was compiled once more when the
    fakes' (64, 64, 8, 1) followed the real batch's (64, 1, 8, 1): a
    compilation of D's forward and backward more for every grey data set."""
    with warnings.catch_warnings():  # a read-only array (MNIST's), only read here: one copy, the result
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        source = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2)
    return torch.empty(source.shape, dtype=dtype or source.dtype, device=device).copy_(source)


class TorchRunner(StatefulRunner):
    framework = "torch"
    modes = ("eager", "compile")
    _export_network = staticmethod(export_network)
    _import_network = staticmethod(import_network)

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        super().__init__(spec, options)
        if options.threads:
            torch.set_num_threads(options.threads)
        if options.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda: PyTorch sees no CUDA device (is the CUDA build installed?)")
        self.device = torch.device(options.device)
        self.dtype = getattr(torch, options.dtype)
        self.generator = build_network(spec.generator).to(self.device, self.dtype)
        self.discriminator = build_network(spec.discriminator).to(self.device, self.dtype)
        self.g_optimizer = build_optimizer(spec.g_optimizer, self.generator.parameters())
        self.d_optimizer = build_optimizer(spec.d_optimizer, self.discriminator.parameters())
        self.loss = LOSSES[spec.loss]
        self.autocast_dtype = self._check_precision(options.precision)
        # fp16 scales each loss before its backward pass (dynamic, one scaler
        # per optimizer: the D and G losses differ in size and update apart).
        # A disabled scaler passes the loss and the step through unchanged.
        scaling = options.precision == "fp16"
        self.d_scaler = torch.amp.GradScaler(self.device.type, enabled=scaling)
        self.g_scaler = torch.amp.GradScaler(self.device.type, enabled=scaling)
        # torch.compile traces on first call; the driver times that as warm-up.
        compile_ = torch.compile if options.mode == "compile" else (lambda m: m)
        self._g = compile_(self.generator)
        self._d = compile_(self.discriminator)
        self.images: torch.Tensor | None = None  # (N, C, H, W)
        self.labels: torch.Tensor | None = None  # (N,)

    def _check_precision(self, precision: str) -> torch.dtype | None:
        """autocast's dtype for `precision` (None for fp32); a ValueError where
        this device has no autocast in that type (autocast itself only warns)."""
        if precision == "fp32":
            return None
        dtype = AUTOCAST_DTYPES[precision]
        if not torch.amp.is_autocast_available(self.device.type):
            raise ValueError(f"--precision {precision}: torch has no autocast on {self.device.type}; "
                             "use fp32")
        if self.device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise ValueError("--precision bf16: this GPU has no bfloat16; use fp16 or fp32")
        return dtype

    def _mixed(self) -> contextlib.AbstractContextManager:
        """The forward passes' context: autocast under bf16/fp16, nothing under fp32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        # nchw_tensor copies: torch owns its data set on the device, as
        # TFRunner owns its Variable, so peak memory counts one copy in both
        # frameworks; the read-only MNIST arrays are never aliased.
        self.images = nchw_tensor(images, self.dtype, self.device)
        self.labels = torch.tensor(np.asarray(labels, np.int64), device=self.device)

    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        real_all, real_labels_all = self._native_batch(inputs)
        assert real_all is not None or self.images is not None, "load_data first"
        indices_t = torch.from_numpy(inputs.indices).to(self.device, non_blocking=True)
        noise_t = torch.from_numpy(inputs.noise).to(self.device, self.dtype, non_blocking=True)
        conditional, penalty = self.spec.conditional, self.spec.gradient_penalty
        # Unconditional models ignore labels, and take no time copying them.
        fake_labels_t = (torch.from_numpy(inputs.fake_labels).to(self.device, non_blocking=True)
                         if conditional else [None] * len(noise_t))
        if penalty is not None:
            mix_t = torch.from_numpy(inputs.mix).to(self.device, self.dtype, non_blocking=True)
        self.generator.train()
        self.discriminator.train()

        # (1) Update D n_critic times: minimise loss.d(D(x), D(G(z))) [+ penalty].
        # D sees real, then fake, then interpolates, in both twins: each
        # training pass advances spectral norm's power iteration.
        d_losses = []
        for k in range(self.spec.n_critic):
            if real_all is None:  # the device pipeline: gather the batch on the device
                real = self.images[indices_t[k]]  # (B, C, H, W)
                real_labels = self.labels[indices_t[k]] if conditional else None
            else:
                real, real_labels = real_all[k], real_labels_all[k] if conditional else None
            with self._mixed():
                with torch.no_grad():
                    fake = self._g(noise_t[k], fake_labels_t[k])
                real_logits, fake_logits = self._d(real, real_labels), self._d(fake, fake_labels_t[k])
            # Losses in the parameters' type (float32 under mixed precision).
            d_loss = self.loss.d(real_logits.to(self.dtype), fake_logits.to(self.dtype))
            if penalty is not None:
                # The eager D: torch.compile has no double backward. Interpolates
                # are read with the real images' labels.
                def critic(x: torch.Tensor) -> torch.Tensor:
                    with self._mixed():
                        scores = self.discriminator(x, real_labels)
                    return scores.to(self.dtype)
                d_loss = d_loss + penalty * gradient_penalty(critic, real, fake, mix_t[k])
            self.d_optimizer.zero_grad(set_to_none=True)
            self.d_scaler.scale(d_loss).backward()
            self.d_scaler.step(self.d_optimizer)  # unscales first; skipped on inf/NaN gradients
            self.d_scaler.update()
            if self.spec.clip_value is not None:
                with torch.no_grad():
                    for p in self.discriminator.parameters():
                        p.clamp_(-self.spec.clip_value, self.spec.clip_value)
            d_losses.append(d_loss.detach())

        # (2) Update G: minimise loss.g(D(G(z))). D's weights need no gradient here.
        self.discriminator.requires_grad_(False)
        with self._mixed():
            fake_logits = self._d(self._g(noise_t[-1], fake_labels_t[-1]), fake_labels_t[-1])
        g_loss = self.loss.g(fake_logits.to(self.dtype))
        self.g_optimizer.zero_grad(set_to_none=True)
        self.g_scaler.scale(g_loss).backward()
        self.g_scaler.step(self.g_optimizer)
        self.g_scaler.update()
        self.discriminator.requires_grad_(True)

        # One device->host copy, which also waits for the step to finish.
        d_mean, g = torch.stack([torch.stack(d_losses).mean(), g_loss.detach()]).tolist()
        return {"d_loss": d_mean, "g_loss": g}

    def _native_batch(self, inputs: StepInputs) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The native pipeline's (n_critic * B, C, H, W) images and labels as
        (n_critic, B, C, H, W) and (n_critic, B) on the device; (None, None) for the device pipeline."""
        if inputs.real is None:
            return None, None
        n_critic, batch = inputs.indices.shape
        images = inputs.real.to(self.device, self.dtype, non_blocking=True)
        labels = inputs.real_labels.to(self.device, non_blocking=True)
        return images.view(n_critic, batch, *images.shape[1:]), labels.view(n_critic, batch)

    def _labels(self, labels: np.ndarray | None, n: int) -> torch.Tensor | None:
        labels = self._checked_labels(labels, n)
        return None if labels is None else torch.from_numpy(labels).to(self.device)

    @torch.no_grad()
    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        self.generator.eval()
        with self._mixed():
            images = self.generator(torch.from_numpy(noise).to(self.device, self.dtype),
                                    self._labels(labels, len(noise)))
        return images.to(self.dtype).permute(0, 2, 3, 1).cpu().numpy()

    @torch.no_grad()
    def discriminate(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        self.discriminator.eval()
        nchw = nchw_tensor(images, self.dtype, self.device)
        with self._mixed():
            logits = self.discriminator(nchw, self._labels(labels, len(images)))
        return logits.to(self.dtype).cpu().numpy()

    def _save_optimizers(self, directory: Path) -> None:
        torch.save({"g": self.g_optimizer.state_dict(), "d": self.d_optimizer.state_dict(),
                    "g_scaler": self.g_scaler.state_dict(), "d_scaler": self.d_scaler.state_dict()},
                   directory / "optimizers.pt")

    def _load_optimizers(self, directory: Path) -> None:
        state = torch.load(directory / "optimizers.pt", map_location=self.device)
        self.g_optimizer.load_state_dict(state["g"])
        self.d_optimizer.load_state_dict(state["d"])
        # Loss scales (fp16 only; empty otherwise and in older checkpoints).
        if state.get("g_scaler"):
            self.g_scaler.load_state_dict(state["g_scaler"])
            self.d_scaler.load_state_dict(state["d_scaler"])

    def parameter_counts(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in net.parameters())
                for name, net in (("generator", self.generator), ("discriminator", self.discriminator))}

    def peak_memory_bytes(self) -> int | None:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        return None  # CPU: the driver reports the process's peak RSS instead

    def matmul_gflops(self) -> float:
        dtype = self.autocast_dtype or self.dtype

        def product(size: int):
            a = torch.randn(size, size, device=self.device, dtype=dtype)

            def run() -> None:
                a @ a
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
            return run

        with torch.no_grad():
            return matmul_gflops(product)

    def environment(self) -> dict[str, str]:
        device = (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                  else platform.processor() or platform.machine())
        return {"framework_version": f"torch {torch.__version__}", "device_name": device,
                "threads": str(torch.get_num_threads())}
