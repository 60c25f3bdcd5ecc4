"""Train the MNIST classifier behind the sample-quality metrics; write its numpy weights.

    python -m torch_impl.train_classifier [--data-dir DIR] [--epochs 10] [--seed 0]

PyTorch on the CPU, seeded, deterministic algorithms, ``--threads`` threads (2
by default): the same seed, torch version and machine give the same weights.
Training uses all 60k training images with random affine augmentation
(rotation, scale, shift); the 10k test split is used only to report accuracy.
The exported file (``benchmark/metrics/mnist_classifier.npz``) holds
BatchNorm-folded weights in the canonical layout that
``benchmark.metrics.classifier`` reads, and a JSON metadata entry with the
test accuracy of the numpy path and the largest torch-vs-numpy logit gap.

It lives in torch_impl/ because it is a PyTorch program: ``benchmark.metrics``
reads only its numpy output and imports no framework.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.data import load_mnist
from benchmark.data.mnist import SHA256
from benchmark.io import write_npz
from benchmark.metrics.classifier import META_KEY, WEIGHTS_PATH, Classifier

# The accuracy the metrics need; training that falls short exits 1 and writes nothing.
REQUIRED_TEST_ACCURACY = 0.993
# Numpy logits must match torch's within this (float32, different summation order).
LOGIT_ATOL = 1e-4
LOGIT_RTOL = 1e-4

AUGMENT_DEGREES = 10.0
AUGMENT_SCALE = 0.1  # scale drawn from [1 - s, 1 + s]
AUGMENT_SHIFT_PX = 2.0


class LeNet(nn.Module):
    """The torch twin of ``benchmark.metrics.classifier`` (with BatchNorm unfolded)."""

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(4 * 4 * 64, 128)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) -> (B, 128)."""
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (B, 32, 12, 12)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # (B, 64, 4, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # (B, 1024) in (H, W, C) order, like numpy
        return F.relu(self.fc1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.features(x)))  # (B, 10)


def export_weights(model: LeNet) -> dict[str, np.ndarray]:
    """Canonical float32 arrays with each BatchNorm (eval statistics) folded into its conv."""
    arrays: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for conv, bn in (("conv1", model.bn1), ("conv2", model.bn2)):
            kernel = getattr(model, conv).weight.double()  # (out, in, kh, kw)
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            bias = bn.bias.double() - bn.running_mean.double() * scale
            folded = kernel * scale[:, None, None, None]
            arrays[f"{conv}/kernel"] = folded.permute(2, 3, 1, 0).float().numpy()  # (kh, kw, in, out)
            arrays[f"{conv}/bias"] = bias.float().numpy()
        for fc in ("fc1", "fc2"):
            layer = getattr(model, fc)
            arrays[f"{fc}/kernel"] = layer.weight.T.contiguous().numpy().copy()  # (in, out)
            arrays[f"{fc}/bias"] = layer.bias.numpy().copy()
    return arrays


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation, scale and shift of each image; the background stays -1.

    x: (B, 1, 28, 28) in [-1, 1].
    """
    batch = x.shape[0]

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1  # U(-1, 1)

    angle = uniform(batch) * math.radians(AUGMENT_DEGREES)
    scale = 1 + uniform(batch) * AUGMENT_SCALE
    shift = uniform(batch, 2) * AUGMENT_SHIFT_PX * 2 / 28  # pixels -> affine_grid's [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3): output -> input sampling coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Shift to [0, 2] so that zero padding outside the image is the -1 background.
    return F.grid_sample(x + 1, grid, padding_mode="zeros", align_corners=False) - 1


def accuracy(model: LeNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(1000)])
    return float((predictions == labels).double().mean())


def train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    generator = torch.Generator().manual_seed(args.seed)
    order_rng = np.random.default_rng(args.seed)

    train_images, train_labels = load_mnist("train", data_dir=args.data_dir)
    test_images, test_labels = load_mnist("test", data_dir=args.data_dir)
    if args.train_limit:
        train_images, train_labels = train_images[: args.train_limit], train_labels[: args.train_limit]
    x_train = torch.from_numpy(train_images.transpose(0, 3, 1, 2).copy())  # (N, 1, 28, 28)
    y_train = torch.from_numpy(train_labels.copy())
    x_test = torch.from_numpy(test_images.transpose(0, 3, 1, 2).copy())
    y_test = torch.from_numpy(test_labels.copy())

    model = LeNet()
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch
    )
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.from_numpy(order_rng.permutation(len(x_train)))
        total_loss = 0.0
        for indices in order.split(args.batch_size):
            logits = model(augment(x_train[indices], generator))
            loss = F.cross_entropy(logits, y_train[indices])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(indices)
        test_acc = accuracy(model, x_test, y_test)
        print(
            f"epoch {epoch}/{args.epochs}: loss {total_loss / len(x_train):.4f}, "
            f"test accuracy {test_acc:.4%}, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    train_seconds = time.perf_counter() - started

    # The numpy path is the one the metrics use: its accuracy is the one recorded.
    arrays = export_weights(model)
    classifier = Classifier.from_arrays(arrays)
    _, np_logits = classifier.features_and_logits(test_images)
    model.eval()
    with torch.no_grad():
        torch_logits = torch.cat([model(chunk) for chunk in x_test.split(1000)]).numpy()
    gap = float(np.max(np.abs(np_logits - torch_logits)))
    if not np.allclose(np_logits, torch_logits, rtol=LOGIT_RTOL, atol=LOGIT_ATOL):
        print(f"error: numpy logits differ from torch's by up to {gap:.3g}", file=sys.stderr)
        return 1
    np_acc = float((np_logits.argmax(1) == test_labels).mean())
    torch_acc = accuracy(model, x_test, y_test)
    print(f"test accuracy: numpy {np_acc:.4%}, torch {torch_acc:.4%}; max |logit gap| {gap:.2e}")
    if np_acc < REQUIRED_TEST_ACCURACY and not args.allow_low_accuracy:
        print(f"error: test accuracy {np_acc:.4%} is below {REQUIRED_TEST_ACCURACY:.2%}; "
              "weights not written", file=sys.stderr)
        return 1

    meta = {
        "architecture": "conv5x5(32)-BN-ReLU-maxpool2, conv5x5(64)-BN-ReLU-maxpool2, "
                        "fc(128)-ReLU [features], dropout 0.3, fc(10) [logits]; BN folded",
        "test_accuracy": np_acc,
        "test_errors": int((np_logits.argmax(1) != test_labels).sum()),
        "torch_test_accuracy": torch_acc,
        "max_abs_logit_gap_torch_vs_numpy": gap,
        "train_images": len(x_train),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": f"Adam, one-cycle lr up to {args.lr}",
        "augmentation": f"rotation +-{AUGMENT_DEGREES} deg, scale +-{AUGMENT_SCALE}, "
                        f"shift +-{AUGMENT_SHIFT_PX} px (bilinear)",
        "seed": args.seed,
        "threads": args.threads,
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "mnist_sha256": SHA256,
        "command": "python -m torch_impl.train_classifier " + " ".join(sys.argv[1:]),
    }
    write_npz(Path(args.out), **arrays, **{META_KEY: np.array(json.dumps(meta, sort_keys=True))})
    print(f"wrote {args.out}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: the usual lookup)")
    parser.add_argument("--out", default=str(WEIGHTS_PATH), help="weights file to write")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N images (smoke runs)")
    parser.add_argument("--allow-low-accuracy", action="store_true",
                        help=f"write the weights even below {REQUIRED_TEST_ACCURACY:.1%} (smoke runs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return train(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
