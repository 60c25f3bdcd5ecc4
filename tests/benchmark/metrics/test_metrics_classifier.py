"""The numpy MNIST classifier: accuracy on the real test split, and logits equal
to PyTorch's for the same weights.

Tolerance: float32 rounding, derived as in tests/parity/rounding.py (u sqrt(2n)
for each sum of n terms, u = 2^-24) from the classifier's sums: conv1 (25
terms), conv2 (800), fc1 (1024), fc2 (128), and their bias and ReLU; twice
over, since both computations round (numpy's BLAS and PyTorch's kernels each
pick a summation order by the CPU), relative to the largest magnitude.
1.3e-5 for the features, 1.5e-5 for the logits; measured 3e-7 to 8e-7 with
OpenBLAS' Haswell (AVX2) and SkylakeX (AVX-512) kernels and oneDNN's AVX2 and
AVX-512 ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics.classifier import META_KEY, WEIGHT_SHAPES, WEIGHTS_PATH, Classifier, load_classifier
from tests.parity.rounding import ELEMENTWISE_TERMS, rounding_budget

REQUIRED_ACCURACY = 0.993
REPO_ROOT = Path(__file__).resolve().parents[3]
# Each dense or convolution layer: its sum, its bias, its ReLU (module docstring).
FEATURE_SUMS = (25, 800, 1024)
FEATURE_RTOL = 2 * rounding_budget((), training=False, batch=1,
                                   extra=[n for sums in FEATURE_SUMS for n in (sums, ELEMENTWISE_TERMS, ELEMENTWISE_TERMS)])
LOGIT_RTOL = FEATURE_RTOL + 2 * rounding_budget((), training=False, batch=1, extra=(128, ELEMENTWISE_TERMS))


def assert_within(actual: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    """max |actual - expected| <= rtol * max |expected|."""
    error, scale = float(np.max(np.abs(actual - expected))), float(np.max(np.abs(expected)))
    assert error <= rtol * scale, f"{error:.3g} > {rtol:.3g} x {scale:.3g}"


def test_weights_file_is_small_and_records_its_accuracy():
    assert WEIGHTS_PATH.stat().st_size < 5 * 2**20
    with np.load(WEIGHTS_PATH, allow_pickle=False) as npz:
        assert set(npz.files) == {*WEIGHT_SHAPES, META_KEY}
    meta = load_classifier().meta
    assert meta["test_accuracy"] >= REQUIRED_ACCURACY
    assert meta["seed"] == 0 and meta["train_images"] == 60_000


def test_numpy_path_reaches_the_required_test_accuracy(test_outputs, mnist_test):
    _, logits = test_outputs
    accuracy = float((logits.argmax(axis=1) == mnist_test[1]).mean())
    assert accuracy >= REQUIRED_ACCURACY
    # The figure in the weights file is this same computation on another
    # machine: only an image whose top two logits lie within both
    # computations' rounding of each other can be read otherwise.
    top2 = np.sort(logits, axis=1)[:, -2:]
    ties = int(np.sum(top2[:, 1] - top2[:, 0] <= LOGIT_RTOL * np.max(np.abs(logits))))
    assert abs(accuracy - load_classifier().meta["test_accuracy"]) <= ties / len(logits) + 1e-12


def test_numpy_forward_matches_torch_on_the_committed_weights(mnist_test):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    images = np.asarray(mnist_test[0][:256])
    with np.load(WEIGHTS_PATH, allow_pickle=False) as npz:
        w = {name: torch.from_numpy(npz[name]) for name in WEIGHT_SHAPES}

    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())  # NCHW
    for conv in ("conv1", "conv2"):
        kernel = w[f"{conv}/kernel"].permute(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
        x = functional.max_pool2d(functional.relu(functional.conv2d(x, kernel, w[f"{conv}/bias"])), 2)
    x = x.permute(0, 2, 3, 1).flatten(1)  # canonical (H, W, C) order
    torch_features = functional.relu(x @ w["fc1/kernel"] + w["fc1/bias"])
    torch_logits = torch_features @ w["fc2/kernel"] + w["fc2/bias"]

    features, logits = load_classifier().features_and_logits(images)
    assert_within(features, torch_features.numpy(), FEATURE_RTOL)
    assert_within(logits, torch_logits.numpy(), LOGIT_RTOL)


def test_export_folds_batchnorm_into_the_numpy_weights(mnist_test):
    """The training script's model (BatchNorm with non-trivial statistics) and its
    export give the same logits: folding, kernel layout and flatten order."""
    torch = pytest.importorskip("torch")
    from torch_impl.train_classifier import LeNet, export_weights

    torch.manual_seed(0)
    model = LeNet()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    images = np.asarray(mnist_test[0][:256])
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()

    _, logits = Classifier.from_arrays(export_weights(model)).features_and_logits(images)
    # Folding rounds each conv weight and bias once more (a product and a sum):
    # two more elementwise roundings per convolution.
    folding = 2 * rounding_budget((), training=False, batch=1, extra=(ELEMENTWISE_TERMS,) * 4)
    assert_within(logits, torch_logits, LOGIT_RTOL + folding)


def test_batches_do_not_change_the_result(mnist_test):
    images = np.asarray(mnist_test[0][:300])
    clf = load_classifier()
    whole, _ = clf.features_and_logits(images, batch_size=300)
    pieces, _ = clf.features_and_logits(images, batch_size=7)
    # The BLAS may block a 7-row product differently from a 300-row one.
    assert_within(pieces, whole, FEATURE_RTOL)


def test_rejects_images_of_the_wrong_shape_or_type():
    clf = load_classifier()
    with pytest.raises(ValueError, match="28, 28"):
        clf.features_and_logits(np.zeros((4, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="floats"):
        clf.features_and_logits(np.zeros((4, 28, 28, 1), np.uint8))


def test_metrics_package_imports_no_training_framework():
    code = (
        "import sys; import benchmark.metrics, benchmark.metrics.calibrate; "
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
