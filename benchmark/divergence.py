"""When do two twins stop being the same network? A trace of each run that
another run can be held against after both have finished.

Two runs that start from the same weights and see the same data and noise (two
frameworks at one seed, or a framework and its one-ulp twin from
`--rounding-control`) follow the same path until rounding differences grow
into different networks. Each run records, at steps 0, 1, 2, 4, 8, ... and at
its last step (`trace_steps`):

- a sketch of the generator's and of the discriminator's weights, from which
  the distance between two runs' weights is read (`compare`);
- the digit the MNIST classifier sees in each of up to `TRACE_SAMPLES` images
  generated from the first vectors of the fixed quality noise, from which the
  share of samples two runs turn into the same digit is read. A run that
  scores fewer samples (`--quality-samples`) classifies that many; one that
  scores none records weights only.

The sketch is a CountSketch (Charikar et al. 2002): weight i of tensor `key` is
added, with sign s(i), to bucket h(i) of `SKETCH_SIZE`, both drawn from a
generator seeded by the key's name, so every run and framework uses the same
map. The map is linear, so sketch(a) - sketch(b) = sketch(a - b), and
E||sketch(d)||^2 = ||d||^2: the distance of two sketches estimates the
distance of the weights, to within about 1/sqrt(2 SKETCH_SIZE) = 2% for a
difference spread over many weights, from 8 KiB per network and step instead
of the weights themselves (DCGAN's are 4 MB per step). Written here because
no maintained package sketches a vector to be compared offline in float64;
random projections (scikit-learn's) would need a dense (k, n) matrix or a new
dependency. Sums run in float64 over float32 weights, so identical weights
give identical sketches bit for bit, and the first steps' differences of
1e-7 relative lie far above the sketch's own rounding (1e-16).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark import io
from benchmark.metrics.classifier import load_classifier
from benchmark.specs import GANSpec
from benchmark.weights import Weights

TRACE_FILE = "trace.npz"
SKETCH_SIZE = 1024
TRACE_SAMPLES = 1000  # images classified per trace step: a share to +-1.6% (binomial, p = 0.5)
NETWORKS = ("generator", "discriminator")


def trace_steps(total: int) -> set[int]:
    """Step counts after which a run is traced: 0 (the start), powers of two,
    and `total`. Rounding differences grow geometrically, so a log-spaced
    trace sees the whole divergence in about log2(total) records."""
    steps, power = {0, total}, 1
    while power < total:
        steps.add(power)
        power *= 2
    return steps


class CountSketch:
    """The fixed linear map from a network's canonical weights to SKETCH_SIZE
    float64 buckets (module docstring)."""

    def __init__(self) -> None:
        self._maps: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def _map(self, key: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        if (key, size) not in self._maps:
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            buckets = rng.integers(0, SKETCH_SIZE, size)
            signs = rng.integers(0, 2, size).astype(np.float64) * 2 - 1
            self._maps[key, size] = buckets, signs
        return self._maps[key, size]

    def __call__(self, weights: Weights, network: str) -> tuple[np.ndarray, float]:
        """(the sketch of every weight under `network`/, their exact Euclidean norm)."""
        sketch, squares = np.zeros(SKETCH_SIZE), 0.0
        for key in sorted(weights):
            if not key.startswith(network + "/"):
                continue
            values = np.asarray(weights[key], np.float64).ravel()
            buckets, signs = self._map(key, values.size)
            sketch += np.bincount(buckets, weights=signs * values, minlength=SKETCH_SIZE)
            squares += float(values @ values)
        return sketch, squares ** 0.5


@dataclass
class Trace:
    """A run's trace: one row per traced step. Sketches (K, SKETCH_SIZE) and
    norms (K,) per network; digits (K, TRACE_SAMPLES) uint8."""

    steps: list[int] = field(default_factory=list)
    sketches: dict[str, list[np.ndarray]] = field(default_factory=lambda: {n: [] for n in NETWORKS})
    norms: dict[str, list[float]] = field(default_factory=lambda: {n: [] for n in NETWORKS})
    digits: list[np.ndarray] = field(default_factory=list)

    def save(self, path: Path) -> None:
        if not self.steps:
            return
        io.write_npz(path, steps=np.asarray(self.steps, np.int64), digits=np.stack(self.digits),
                     **{f"{n}_sketch": np.stack(self.sketches[n]) for n in NETWORKS},
                     **{f"{n}_norm": np.asarray(self.norms[n]) for n in NETWORKS})

    @classmethod
    def load(cls, path: Path, up_to_step: int | None = None) -> "Trace":
        """A saved trace (empty if there is none), keeping the steps <= `up_to_step`:
        what an interrupted attempt recorded up to its checkpoint."""
        trace = cls()
        if not path.exists():
            return trace
        with np.load(path) as saved:
            keep = np.ones(len(saved["steps"]), bool) if up_to_step is None else saved["steps"] <= up_to_step
            trace.steps = saved["steps"][keep].tolist()
            trace.digits = list(saved["digits"][keep])
            for network in NETWORKS:
                trace.sketches[network] = list(saved[f"{network}_sketch"][keep])
                trace.norms[network] = saved[f"{network}_norm"][keep].tolist()
        return trace


class Tracer:
    """Records a run's trace: `tracer(step, runner)` at each of `trace_steps`."""

    def __init__(self, noise: np.ndarray, labels: np.ndarray, trace: Trace | None = None) -> None:
        self.noise, self.labels = noise, labels
        self.trace = trace or Trace()
        self._sketch = CountSketch()

    @classmethod
    def for_run(cls, spec: GANSpec, quality_samples: int, quality_rng: np.random.Generator,
                trace: Trace | None = None) -> "Tracer":
        """Traces the first min(TRACE_SAMPLES, quality_samples) vectors (and
        requested labels) of the run's fixed quality noise: give it a fresh
        `driver.Seeds.quality`, from which `benchmark.quality.QualityProbe`
        draws the same vectors first."""
        count = min(TRACE_SAMPLES, quality_samples)
        noise = quality_rng.standard_normal((count, spec.latent_dim), dtype=np.float32)
        return cls(noise, np.arange(count) % spec.num_classes, trace)

    def __call__(self, step: int, runner) -> None:
        if self.trace.steps and self.trace.steps[-1] >= step:
            return  # a resumed run passes its checkpoint's step again
        weights = runner.export_weights()
        for network in NETWORKS:
            sketch, norm = self._sketch(weights, network)
            self.trace.sketches[network].append(sketch)
            self.trace.norms[network].append(norm)
        digits = np.zeros(0, np.uint8)
        if len(self.noise):
            _, logits = load_classifier().features_and_logits(runner.generate(self.noise, self.labels))
            digits = np.argmax(logits, axis=1).astype(np.uint8)
        self.trace.digits.append(digits)
        self.trace.steps.append(step)


@dataclass(frozen=True)
class Divergence:
    """Two traces compared at the steps both recorded."""

    steps: np.ndarray  # (K,)
    distance: dict[str, np.ndarray]  # network -> (K,) ||a - b|| / mean(||a||, ||b||)
    same_digit: np.ndarray | None  # (K,) share of the traced samples classified alike; None: not traced
    # (K,) the share two independent generators with these digit frequencies
    # would classify alike by chance, sum_k p_a(k) p_b(k): 0.1 for balanced
    # digits, 1.0 when both draw one digit only
    chance_digit: np.ndarray | None = None


def compare(a: Trace, b: Trace) -> Divergence:
    common = sorted(set(a.steps) & set(b.steps))
    ia = [a.steps.index(s) for s in common]
    ib = [b.steps.index(s) for s in common]
    distance = {}
    for network in NETWORKS:
        sa, sb = np.asarray(a.sketches[network])[ia], np.asarray(b.sketches[network])[ib]
        scale = (np.asarray(a.norms[network])[ia] + np.asarray(b.norms[network])[ib]) / 2
        distance[network] = np.linalg.norm(sa - sb, axis=1) / scale
    digits_a, digits_b = np.asarray(a.digits)[ia], np.asarray(b.digits)[ib]
    same = chance = None  # compared on the samples both classified: the same noise vectors
    if (n := min(digits_a.shape[1], digits_b.shape[1])) > 0:
        same = (digits_a[:, :n] == digits_b[:, :n]).mean(axis=1)
        classes = int(max(digits_a[:, :n].max(), digits_b[:, :n].max())) + 1
        share_a, share_b = (np.stack([np.bincount(row, minlength=classes) / n for row in d[:, :n]])
                            for d in (digits_a, digits_b))
        chance = (share_a * share_b).sum(axis=1)
    return Divergence(np.asarray(common, np.int64), distance, same, chance)


def first_step_beyond(divergence: Divergence, threshold: float, network: str = "generator") -> int | None:
    """The first traced step at which the relative distance exceeds `threshold`."""
    beyond = np.flatnonzero(divergence.distance[network] > threshold)
    return int(divergence.steps[beyond[0]]) if beyond.size else None
