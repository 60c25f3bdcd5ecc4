"""The one interface each framework implements. The driver (`benchmark.driver`)
does everything else: batch order, noise, timing, logging, checkpoints.

Arrays cross this boundary as numpy in canonical layout: images NHWC float32
in [-1, 1], weights keyed by the spec's names (`benchmark.weights`). One
exception: with `--input-pipeline native` a step's real images arrive as the
framework's own loader made them (`StepInputs.real`), since a copy through
numpy would add work the framework's users do not do.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.frameworks import PRECISIONS
from benchmark.specs import GANSpec
from benchmark.specs.layers import NetSpec
from benchmark.weights import Weights, check_weights


@dataclass(frozen=True)
class StepInputs:
    """Everything random one training step consumes, drawn by the driver from
    numpy so that every framework gets the same numbers.

    indices: (n_critic, B) int64 rows of the loaded data, one batch per
      discriminator update; the real labels are the loaded labels at these rows.
    noise: (n_critic + 1, B, latent_dim) float32; noise[k] feeds critic update
      k, noise[-1] the generator update.
    fake_labels: (n_critic + 1, B) int64 classes asked of a conditional G, paired
      with noise; unconditional models ignore them.
    mix: (n_critic, B) float32 in [0, 1): real/fake interpolation weights of a
      gradient penalty; other models ignore them.
    real, real_labels: None (the device pipeline: the runner gathers `indices`
      from the data `load_data` gave it), or the native pipeline's batch for
      these indices, as the framework's loader yields it (torch_impl/ and
      tf_impl/input_pipeline.py): images (n_critic * B, ...) float32 in the
      framework's layout and labels (n_critic * B,) int64.
    """

    indices: np.ndarray
    noise: np.ndarray
    fake_labels: np.ndarray
    mix: np.ndarray
    real: Any = None
    real_labels: Any = None

    @classmethod
    def draw(cls, spec: GANSpec, indices: np.ndarray, rng: np.random.Generator,
             dtype: str = "float32", real: Any = None, real_labels: Any = None) -> "StepInputs":
        n_critic, batch = indices.shape
        return cls(
            indices=np.asarray(indices, np.int64),
            noise=rng.standard_normal((n_critic + 1, batch, spec.latent_dim)).astype(dtype, copy=False),
            fake_labels=rng.integers(0, spec.num_classes, (n_critic + 1, batch), dtype=np.int64),
            mix=rng.random((n_critic, batch)).astype(dtype, copy=False),
            real=real, real_labels=real_labels,
        )


@dataclass(frozen=True)
class RunnerOptions:
    device: str = "cpu"  # "cpu" or "cuda"
    mode: str = "eager"  # torch: eager | compile; tf: eager | function | xla
    threads: int = 0  # CPU threads for intra-op parallelism; 0 = every core
    dtype: str = "float32"  # "float64" only for parity tests that must exclude rounding
    # Mixed precision on top of float32 parameters: "bf16" or "fp16" run the
    # forward passes in that type (torch autocast; Keras mixed policies; JAX
    # matmul/conv operands), losses
    # and optimizer state stay float32; "fp16" also scales the losses.
    precision: str = "fp32"
    # Data-parallel replicas sharing each step's batch (benchmark.distributed);
    # 1 is the plain single-device runner.
    devices: int = 1
    # BatchNorm over the global batch: statistics all-reduced across replicas.
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if self.precision != "fp32" and self.dtype != "float32":
            raise ValueError(f"precision {self.precision} needs float32 parameters, not {self.dtype}")


class Runner(abc.ABC):
    """A (framework, model) pair ready to train.

    Construction builds the networks and optimizers; `import_weights` then sets
    every weight, so every framework starts from the same canonical numbers.
    """

    framework: ClassVar[str]
    modes: ClassVar[tuple[str, ...]]

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        if options.mode not in self.modes:
            raise ValueError(
                f"{self.framework} has no mode {options.mode!r}; valid modes: {', '.join(self.modes)}"
            )
        self.spec = spec
        self.options = options

    @abc.abstractmethod
    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Keeps the training images (N, H, W, C) and labels (N,) on the device,
        in the framework's own layout, so that a step moves only indices and
        noise. Not called for the native pipeline, whose steps bring their images."""

    @abc.abstractmethod
    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        """One generator update preceded by `spec.n_critic` discriminator updates,
        consuming `inputs` (see StepInputs): real images gathered from the
        loaded data, or `inputs.real` where the native pipeline gave them.

        Returns:
          {"d_loss": mean over the critic updates, "g_loss": ...} as floats; the
          step's work is finished on the device when this returns.
        """

    def step_seconds(self, seconds: float) -> float:
        """A step's time as the run reports it, given this process's: a
        data-parallel runner over several processes returns the slowest
        replica's; one process returns its own."""
        return seconds

    def synchronize(self) -> None:
        """Waits until every process of a data-parallel run gets here (a
        barrier); one process has nothing to wait for."""

    def close(self) -> None:
        """Ends a run that finished: a data-parallel runner over several
        processes leaves its process group together with its peers, before the
        interpreter shuts down. One process has nothing to leave."""

    @abc.abstractmethod
    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """G(noise) in inference mode (BatchNorm uses moving statistics): (N, H, W, C).
        A conditional G draws class `labels` (N,); others ignore them."""

    @abc.abstractmethod
    def discriminate(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """D(images) logits in inference mode: (N, 1). A conditional D reads `labels`."""

    def _checked_labels(self, labels: np.ndarray | None, n: int) -> np.ndarray | None:
        """The class labels `generate` and `discriminate` pass on: (n,) int64
        for a conditional model (ValueError unless there is one per sample),
        None for the others, which ignore them."""
        if not self.spec.conditional:
            return None
        if labels is None or len(labels) != n:
            raise ValueError(f"{self.spec.name} is conditional: pass one label per sample ({n})")
        return np.asarray(labels, np.int64)

    @abc.abstractmethod
    def export_weights(self) -> Weights:
        """Every weight and BatchNorm statistic, canonical layout."""

    @abc.abstractmethod
    def import_weights(self, weights: Weights) -> None:
        """Sets every weight and BatchNorm statistic from canonical arrays."""

    def save(self, directory: Path) -> None:
        """Writes weights (canonical, `weights.npz`) and optimizer state under `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "weights.npz", **self.export_weights())
        self._save_optimizers(directory)

    def load(self, directory: Path) -> None:
        """Restores what `save` wrote: the weights first, which a runner needs
        before its optimizer state (JAX's state is made by `import_weights`)."""
        with np.load(directory / "weights.npz") as archive:
            self.import_weights(dict(archive))
        self._load_optimizers(directory)

    @abc.abstractmethod
    def _save_optimizers(self, directory: Path) -> None:
        """Writes both optimizers' state (torch: and its loss scales) in the
        framework's own format under the existing `directory`."""

    @abc.abstractmethod
    def _load_optimizers(self, directory: Path) -> None:
        """Restores what `_save_optimizers` wrote, into optimizers whose
        weights `load` has already set."""

    @abc.abstractmethod
    def parameter_counts(self) -> dict[str, int]:
        """Trainable scalars of {"generator": .., "discriminator": ..}."""

    @abc.abstractmethod
    def peak_memory_bytes(self) -> int | None:
        """Peak device memory of this process so far, where the framework reports it."""

    @abc.abstractmethod
    def matmul_gflops(self) -> float:
        """This framework's square matrix-product rate on the run's device, in the
        run's arithmetic (the autocast / policy type under bf16 and fp16), timed
        by `benchmark.peak.matmul_gflops`: the run's own yardstick of peak."""

    @abc.abstractmethod
    def environment(self) -> dict[str, str]:
        """Framework version and the device actually used."""


class StatefulRunner(Runner):
    """A runner whose networks are stateful objects holding their own weights,
    `self.generator` and `self.discriminator` (a torch nn.Module, a Keras
    Model), converted one at a time by its twin's `weights.export_network` and
    `import_network`: the torch and tf runners. (JAX's weights are one pytree
    of the whole training state: `JaxRunner` implements the methods itself.)
    """

    generator: Any
    discriminator: Any

    @staticmethod
    @abc.abstractmethod
    def _export_network(net: NetSpec, network: Any) -> Weights:
        """`network`'s weights and statistics, canonical arrays keyed by `net`'s names."""

    @staticmethod
    @abc.abstractmethod
    def _import_network(net: NetSpec, network: Any, weights: Weights) -> None:
        """Sets `network`'s weights and statistics from canonical `weights`."""

    def export_weights(self) -> Weights:
        return {**self._export_network(self.spec.generator, self.generator),
                **self._export_network(self.spec.discriminator, self.discriminator)}

    def import_weights(self, weights: Weights) -> None:
        check_weights(self.spec, weights)
        self._import_network(self.spec.generator, self.generator, weights)
        self._import_network(self.spec.discriminator, self.discriminator, weights)
