"""ganbench: a GAN benchmark across PyTorch, TensorFlow and JAX.

This package is framework-neutral: it holds the model specs, the data, the
driver that trains any runner, the suite that runs each (framework, model) in
its own process, and the report. It never imports torch, tensorflow or jax at
module level; the framework code lives in `torch_impl/`, `tf_impl/` and
`jax_impl/`.
"""

__version__ = "0.1.0"
