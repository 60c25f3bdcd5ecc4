"""The numpy MNIST classifier: accuracy on the real test split, and logits equal
to PyTorch's for the same weights (float32; tolerance below)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics.classifier import META_KEY, WEIGHT_SHAPES, WEIGHTS_PATH, Classifier, load_classifier

REQUIRED_ACCURACY = 0.993
# float32 with a different summation order (im2col + BLAS vs oneDNN): logits of
# magnitude ~10-30 agree to ~1e-5; 1e-4 leaves room for other BLAS builds.
RTOL = ATOL = 1e-4
REPO_ROOT = Path(__file__).resolve().parents[3]


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
    # The figure in the weights file is this same computation (two images of slack
    # for a BLAS that rounds differently near a tie).
    assert accuracy == pytest.approx(load_classifier().meta["test_accuracy"], abs=2e-4)


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
    np.testing.assert_allclose(features, torch_features.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(logits, torch_logits.numpy(), rtol=RTOL, atol=ATOL)


def test_export_folds_batchnorm_into_the_numpy_weights(mnist_test):
    """The training script's model (BatchNorm with non-trivial statistics) and its
    export give the same logits: folding, kernel layout and flatten order."""
    torch = pytest.importorskip("torch")
    from benchmark.metrics.train_classifier import LeNet, export_weights

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
    np.testing.assert_allclose(logits, torch_logits, rtol=RTOL, atol=ATOL)


def test_batches_do_not_change_the_result(mnist_test):
    images = np.asarray(mnist_test[0][:300])
    clf = load_classifier()
    whole, _ = clf.features_and_logits(images, batch_size=300)
    pieces, _ = clf.features_and_logits(images, batch_size=7)
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-5)


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
