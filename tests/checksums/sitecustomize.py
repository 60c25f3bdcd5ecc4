"""Test data's checksums in every process of a test's CLI run.

The data sets tests write (tests/datasets.py) cannot have the canonical files'
checksums, and a CLI run loads them in processes of its own (the suite's
workers), where a test's monkeypatch does not reach. A test that needs them
puts this folder on PYTHONPATH and names a JSON file in
$GANBENCH_TEST_CHECKSUMS: {"fashion_mnist": {...GZ_SHA256},
"fashion_mnist_examples": [train, test], "cifar10": {"sha256": ..., "md5": {...}}}. Python imports this module at start-up; it
patches ganbench's and torchvision's tables as each module is first imported
(so a TensorFlow worker still never imports torch). Used by tests only.
"""

import importlib.abc
import importlib.util
import json
import os
import sys

_TABLES = json.loads(open(os.environ["GANBENCH_TEST_CHECKSUMS"]).read()) \
    if os.environ.get("GANBENCH_TEST_CHECKSUMS") else None


def _patch(name, module):
    if name == "benchmark.data.fashion_mnist":
        module.GZ_SHA256 = _TABLES["fashion_mnist"]
    elif name == "benchmark.data.cifar10":
        module.TARBALL_SHA256 = _TABLES["cifar10"]["sha256"]
        module.BATCH_MD5 = _TABLES["cifar10"]["md5"]
    elif name == "tensorflow_datasets.image_classification.mnist":  # TFDS reads a fixed number of images
        module._TRAIN_EXAMPLES, module._TEST_EXAMPLES = _TABLES["fashion_mnist_examples"]
    elif name == "torchvision.datasets.cifar":  # torchvision checks CIFAR-10's batches against its own md5s
        md5 = _TABLES["cifar10"]["md5"]
        cls = module.CIFAR10
        cls.train_list = [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)]
        cls.test_list = [["test_batch", md5["test_batch"]]]
        cls.meta = {**cls.meta, "md5": md5["batches.meta"]}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds the patched modules with the other finders, then patches each once it has run."""

    NAMES = ("benchmark.data.fashion_mnist", "benchmark.data.cifar10", "torchvision.datasets.cifar",
             "tensorflow_datasets.image_classification.mnist")

    def find_spec(self, name, path, target=None):
        if name not in self.NAMES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(name, module)

        spec.loader.exec_module = exec_module
        return spec


if _TABLES is not None:
    sys.meta_path.insert(0, _AfterImport())
