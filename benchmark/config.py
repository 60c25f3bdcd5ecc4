"""Run configuration: frozen dataclasses and named profiles.

A `RunConfig` describes one (framework, model) run completely; it is written
next to every result (`config.json`), and a worker process rebuilds it from
there. Profiles give the sizes; flags override single fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FRAMEWORKS = ("torch", "tf")
# fp32, or mixed precision on float32 parameters (benchmark.runner.RunnerOptions.precision)
PRECISIONS = ("fp32", "bf16", "fp16")
MODES = {"torch": ("eager", "compile"), "tf": ("eager", "function", "xla")}
# The reference choice, used where nothing is measured (`--modes auto` in the
# smoke profile, or a calibration that could time no mode): the fastest modes
# on the 2-core AVX2 EPYC this project was first measured on. `--modes auto`
# measures instead (benchmark.calibration): on an AVX-512 Xeon tf function
# beat xla (README, "Hardware matters").
DEFAULT_MODES = {
    "cpu": {"torch": "eager", "tf": "xla"},
    "cuda": {"torch": "eager", "tf": "xla"},
}


@dataclass(frozen=True)
class Profile:
    """Sizes for a kind of run. `train_size` None means the whole train split."""

    name: str
    description: str
    epochs: int
    batch_size: int
    train_size: int | None
    sample_count: int = 64  # images in the sample grid, from one fixed noise set
    quality_samples: int = 10_000  # generated images scored at each probe (0: none)
    quality_probes: int = 1  # times a run is scored, evenly spaced in steps, the last at its end
    calibrate: bool = True  # --modes auto measures the fastest modes; smoke, which times nothing, does not


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", "seconds per run: checks that everything runs", epochs=1,
                batch_size=32, train_size=640, sample_count=16, quality_samples=500, calibrate=False),
        Profile("quick", "default on CPU: one epoch of the 60k train split", epochs=1,
                batch_size=128, train_size=None, quality_probes=4),
        Profile("full", "default on GPU: 25 epochs, as in the DCGAN paper", epochs=25,
                batch_size=128, train_size=None, quality_probes=25),
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
    d_lr: float | None = None  # overrides the spec's learning rates (None: the paper's)
    g_lr: float | None = None
    tensorboard: bool = False  # also write TensorBoard events under RUN_DIR/tensorboard (benchmark.tensorboard)
    repeat: int = 1  # 1-based index among --repeats identical runs
    tag: str = ""  # appended to the name when sweeps or repeats would repeat it
    precision: str = "fp32"  # fp32, or mixed precision: bf16 | fp16 (README, "Mixed precision")
    nudged: bool = False  # --rounding-control: one initial weight one ulp up (benchmark.weights.nudged_by_one_ulp)

    @property
    def name(self) -> str:
        suffix = "" if self.precision == "fp32" else f"-{self.precision}"
        return f"{self.model}-{self.framework}-{self.mode}{suffix}{self.tag}{'-ulp' if self.nudged else ''}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})

    def differences(self, other: "RunConfig") -> list[str]:
        """'field: this -> other' for every field that differs."""
        return [f"{f.name}: {getattr(self, f.name)!r} -> {getattr(other, f.name)!r}"
                for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)]
