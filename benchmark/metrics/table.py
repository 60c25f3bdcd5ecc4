"""Every sample-quality key a run's quality record can hold, and what each one is.

The one place for a metric's facts: its key in results.json, its column in the
report, whether a smaller or a larger value is better, how the report writes
it, its TensorBoard tag and which evaluator fills it. The evaluator's key order
(`benchmark.metrics.METRIC_KEYS`), the report's quality columns and runs.csv,
the TensorBoard writer and a non-writing rank's unscored probe all read it.
No numpy and no framework: the report and the worker both import it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Which evaluator fills a key: the MNIST classifier's (benchmark.metrics.evaluate),
# or FID/KID on Inception-v3 (benchmark.metrics.inception) for any other data.
# INCEPTION is also a quality record's "features" when Inception scored it.
CLASSIFIER = "classifier"
INCEPTION = "inception"
# On MNIST, the Inception scorer's keys again, prefixed, beside the classifier's:
# once at the end of a run (RunConfig.inception_samples).
INCEPTION_BESIDE = "inception beside the classifier"
BESIDE_PREFIX = "inception_"

# A metric's direction; None for a fact (a sample count, a spread, a share).
LOWER = "lower"
HIGHER = "higher"
NEAR_ONE = "closest to 1"  # density: above 1 where samples crowd the real manifold's dense parts


@dataclass(frozen=True)
class Metric:
    """One key of a quality record.

    `label` and `fmt` are the report's column header and format spec (as in
    `format(value, fmt)`); a metric without a label has no column. `spread`
    names the key of this metric's standard deviation, written after its value
    ("0.0123 ± 0.0004") and weighed by the quality verdict. `progress` is the
    metric's name in a quality probe's progress line, None when the line
    leaves it out.
    """

    key: str
    evaluators: tuple[str, ...]
    direction: str | None = None
    label: str | None = None
    fmt: str | None = None
    tag: str | None = None
    spread: str | None = None
    progress: str | None = None
    conditional: bool = False  # filled only for a conditional model (needs the requested labels)


# In the classifier evaluator's order, which is the report's column order.
METRICS: tuple[Metric, ...] = (
    Metric("num_samples", (CLASSIFIER,)),  # the Inception probe adds it beside the scorer's keys
    Metric("fid", (CLASSIFIER, INCEPTION), LOWER, "FID ↓", ".2f", "quality/fid", progress="FID"),
    Metric("kid_mean", (CLASSIFIER, INCEPTION), LOWER, "KID ↓", ".4f", "quality/kid", spread="kid_std",
           progress="KID"),
    Metric("kid_std", (CLASSIFIER, INCEPTION), fmt=".4f"),
    Metric("precision", (CLASSIFIER,), HIGHER, "Precision ↑", ".3f", "quality/precision", progress="precision"),
    Metric("recall", (CLASSIFIER,), HIGHER, "Recall ↑", ".3f", "quality/recall", progress="recall"),
    Metric("density", (CLASSIFIER,), NEAR_ONE, "Density", ".3f", "quality/density"),
    Metric("coverage", (CLASSIFIER,), HIGHER, "Coverage ↑", ".3f", "quality/coverage"),
    Metric("classifier_score", (CLASSIFIER,), HIGHER, "Classifier score ↑", ".2f", "quality/classifier_score"),
    Metric("classes_covered", (CLASSIFIER,), HIGHER, "Classes", ".0f", "quality/classes_covered"),
    Metric("class_tv_distance", (CLASSIFIER,), LOWER),
    *(Metric(f"class_share_{digit}", (CLASSIFIER,)) for digit in range(10)),
    Metric("label_accuracy", (CLASSIFIER,), HIGHER, "Label acc. ↑", ".3f", "quality/label_accuracy",
           conditional=True),
    Metric("inception_fid", (INCEPTION_BESIDE,), LOWER, "Inception FID ↓", ".2f"),
    # No spread shown: with every sample in each KID subset (N <= 1000) the subsets agree, std ~0
    Metric("inception_kid_mean", (INCEPTION_BESIDE,), LOWER, "Inception KID ↓", ".4f"),
    Metric("inception_kid_std", (INCEPTION_BESIDE,), fmt=".4f"),
    Metric("inception_samples", (INCEPTION_BESIDE,)),
)
BY_KEY: dict[str, Metric] = {metric.key: metric for metric in METRICS}
# The report's quality columns, in order; the metrics logged to TensorBoard; and
# those a quality probe's progress line shows where it has them.
REPORTED: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.label is not None)
TAGGED: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.tag is not None)
IN_PROGRESS: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.progress is not None)


def keys_of(evaluator: str) -> tuple[str, ...]:
    """The keys `evaluator` (CLASSIFIER, INCEPTION or INCEPTION_BESIDE) fills, in table order."""
    return tuple(metric.key for metric in METRICS if evaluator in metric.evaluators)
