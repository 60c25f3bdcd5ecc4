"""Run configuration: frozen dataclasses and named profiles.

A `RunConfig` describes one (framework, model) run completely; it is written
next to every result (`config.json`), and a worker process rebuilds it from
there. Profiles give the sizes; flags override single fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from benchmark.specs import GANSpec

# --input-pipeline: `device` holds the data set on the device and gathers each
# batch by index inside the step; `native` loads each batch through the
# framework's own loader, in the driver's order (benchmark.frameworks,
# Framework.input_pipeline). The frameworks' facts (modes, precisions, runners)
# are in benchmark.frameworks.
INPUT_PIPELINES = ("device", "native")
NATIVE_LOADER_WORKERS = 2  # DataLoader worker processes of torch's native pipeline

DEFAULT_DATASET = "mnist"
# Sample quality on data other than MNIST is FID/KID on Inception-v3
# (benchmark.metrics.inception), about 2.5 images/s on a 2-core CPU: there the
# default scores this many samples, once, at the end of a run (FID's bias
# grows as N falls, so compare such FIDs only with each other; KID is unbiased).
INCEPTION_CPU_SAMPLES = 500
INCEPTION_CPU_PROBES = 1
# On MNIST, FID/KID on Inception-v3 beside the classifier's (RunConfig.inception_samples):
# the standard FID, the one papers publish, scored once at the end of a run on
# the profile's samples (full and converge), at most INCEPTION_CPU_SAMPLES on a
# CPU, where 500 samples cost about 75 s a run on 2 cores (docs/metrics.md,
# "Inception FID"); quick, the CPU default, leaves it to --inception-samples.


MNIST_TRAIN_IMAGES = 60_000

# The converge profile's budget per model, in generator updates (docs/metrics.md,
# "Budgets"): 20 epochs of DCGAN at batch 128, the budget of Lucic et al. and of
# the reference DCGAN for MNIST. A 20-epoch pilot on a CPU found DCGAN's FID
# still falling there (173 after 10 epochs, 126 after 18, 116 after 20), so it
# is the references' budget, not a measured plateau. The 5-critic WGANs get as
# many generator updates (five times the critic updates, 101 epochs), still far
# below their references (WGAN 37k, WGAN-GP 200k generator updates), which a CPU
# cannot afford: they are not converged.
CONVERGE_GENERATOR_UPDATES = 9_360
CONVERGE_BUDGETS = {model: CONVERGE_GENERATOR_UPDATES for model in (
    "vanilla", "lsgan", "dcgan", "cgan", "sn_dcgan", "sagan", "wgan", "wgan_gp")}


@dataclass(frozen=True)
class Profile:
    """Sizes for a kind of run. `train_size` None means the whole train split.
    `generator_updates` (model -> updates), where given, sets each model's
    epochs instead of `epochs` (`epochs_for`)."""

    name: str
    description: str
    epochs: int
    batch_size: int
    train_size: int | None
    sample_count: int = 64  # images in the sample grid, from one fixed noise set
    quality_samples: int = 10_000  # generated images scored at each probe (0: none)
    quality_probes: int = 1  # times a run is scored, evenly spaced in steps, the last at its end
    inception_samples: int = 10_000  # MNIST: samples scored on Inception-v3 at the end, beside the classifier
    calibrate: bool = True  # --modes auto measures the fastest modes; smoke, which times nothing, does not
    generator_updates: Mapping[str, int] | None = None

    def epochs_for(self, model: str, n_critic: int, batch_size: int, train_size: int | None,
                   n_images: int = MNIST_TRAIN_IMAGES) -> int:
        """The profile's epochs, or the fewest whole epochs that give `model`
        its budget of generator updates (a 5-critic model takes 5 batches per
        update) on `n_images` training images (`train_size` of them when smaller)."""
        if not self.generator_updates:
            return self.epochs
        steps_per_epoch = max(1, min(train_size or n_images, n_images) // (batch_size * n_critic))
        return max(1, math.ceil(self.generator_updates[model] / steps_per_epoch))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", "seconds per run: checks that everything runs", epochs=1,
                batch_size=32, train_size=640, sample_count=16, quality_samples=500, inception_samples=0,
                calibrate=False),
        Profile("quick", "default on CPU: one epoch of the 60k train split", epochs=1,
                batch_size=128, train_size=None, quality_probes=4, inception_samples=0),
        Profile("full", "default on GPU: 25 epochs, as in the DCGAN paper", epochs=25,
                batch_size=128, train_size=None, quality_probes=25),
        Profile("converge", f"{CONVERGE_GENERATOR_UPDATES:,} generator updates per model, "
                "DCGAN's 20 epochs (docs/metrics.md, Budgets)", epochs=20, batch_size=128,
                train_size=None, quality_probes=20, generator_updates=CONVERGE_BUDGETS),
    )
}


@dataclass(frozen=True)
class RunConfig:
    """Everything one (framework, model) run depends on."""

    framework: str
    model: str
    mode: str
    device: str  # "cpu" or "cuda"
    profile: str
    epochs: int
    batch_size: int
    train_size: int | None
    sample_count: int
    seed: int
    threads: int
    data_dir: str | None
    quality_samples: int = 0  # generated images scored at each probe
    quality_probes: int = 1  # probes per run, evenly spaced in steps, the last after the final step
    # MNIST: samples scored on Inception-v3 (FID, KID) once after the final step, beside
    # the classifier's scores (0: none); other data is scored on Inception by quality_samples
    inception_samples: int = 0
    d_lr: float | None = None  # overrides the spec's learning rates (None: the paper's)
    g_lr: float | None = None
    tensorboard: bool = False  # also write TensorBoard events under RUN_DIR/tensorboard (benchmark.tensorboard)
    repeat: int = 1  # 1-based index among --repeats identical runs
    tag: str = ""  # appended to the name when sweeps or repeats would repeat it
    precision: str = "fp32"  # fp32, or mixed precision: bf16 | fp16 (docs/performance.md, "Mixed precision")
    nudged: bool = False  # --rounding-control: one initial weight one ulp up (benchmark.weights.nudged_by_one_ulp)
    # --devices: data-parallel replicas sharing batch_size (benchmark.distributed); 1 is one device
    devices: int = 1
    # --sync-batchnorm: BatchNorm normalises with the global batch's statistics
    # (all-reduced over replicas) instead of each replica's slice
    sync_batchnorm: bool = False
    # --dataset: mnist | fashion_mnist | cifar10 | folder:PATH (benchmark.data.load_dataset)
    dataset: str = DEFAULT_DATASET
    image_size: int | None = None  # --image-size: a folder's side in pixels (None: 64)
    input_pipeline: str = "device"  # --input-pipeline: one of INPUT_PIPELINES

    @property
    def name(self) -> str:
        suffix = "" if self.precision == "fp32" else f"-{self.precision}"
        devices = f"-d{self.devices}" if self.devices > 1 else ""
        pipeline = "" if self.input_pipeline == "device" else f"-{self.input_pipeline}"
        return (f"{self.model}-{self.framework}-{self.mode}{suffix}{devices}{pipeline}{self.tag}"
                f"{'-ulp' if self.nudged else ''}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})

    def differences(self, other: "RunConfig") -> list[str]:
        """'field: this -> other' for every field that differs."""
        return [f"{f.name}: {getattr(self, f.name)!r} -> {getattr(other, f.name)!r}"
                for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def image_shape_of(config: RunConfig) -> tuple[int, int, int]:
    """(H, W, C) of the run's images, without reading them."""
    from benchmark.data import image_shape

    return image_shape(config.dataset, config.image_size)


def spec_for(config: RunConfig) -> "GANSpec":
    """The model's networks for the run's data (`benchmark.specs.spec_for_image`:
    MNIST's own for 28x28x1, the DCGAN paper's family for larger squares), with
    the run's learning-rate overrides. ValueError when the model has no
    networks for that shape, or is conditional and the data has no labels."""
    from benchmark.data import parse_dataset
    from benchmark.specs import SPECS, spec_for_image

    classes = parse_dataset(config.dataset).num_classes
    if SPECS[config.model].conditional and not classes:
        raise ValueError(f"{config.model} is conditional: it needs labelled data, and {config.dataset} has "
                         "no labels (an image folder has none); choose an unconditional model")
    spec = spec_for_image(config.model, image_shape_of(config), num_classes=classes or 10)
    if config.d_lr is not None:
        spec = dataclasses.replace(spec, d_optimizer=dataclasses.replace(spec.d_optimizer, lr=config.d_lr))
    if config.g_lr is not None:
        spec = dataclasses.replace(spec, g_optimizer=dataclasses.replace(spec.g_optimizer, lr=config.g_lr))
    return spec
