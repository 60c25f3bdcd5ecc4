#!/usr/bin/env python
"""Train the same GANs in PyTorch, TensorFlow and JAX on MNIST and compare them.

    python run_benchmark.py --frameworks torch tf --models dcgan wgan

See `python run_benchmark.py --help` and README.md.
"""

import sys

from benchmark.harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
