"""TensorFlow/Keras twins of the ganbench models. Never imports torch.

TensorFlow and Keras are loaded here, first, without the optional
integrations they load whenever other packages are installed: Keras's
scikit-learn wrappers, its pandas data adapter and matplotlib image gallery,
and tf.lite's JAX converter. ganbench's environment has all four (the tests,
the report, the third twin), and they were 1.8 s of TensorFlow's 3.9 s
start-up on this 2-core CPU (`taskset -c 0`, import alone), paid again by
every tf worker process a suite starts. None is used by the twin. Each is
imported inside `try: ... except ImportError` by the library, so hiding them
while TensorFlow loads leaves exactly those integrations off. They are
importable again afterwards, and one that this process had loaded before is
not hidden (Python looks in sys.modules before asking any finder).
tests/tf_impl/test_tf_startup.py checks both.
"""

from __future__ import annotations

import importlib.abc
import sys

UNUSED_INTEGRATIONS = ("sklearn", "pandas", "matplotlib", "jax")


class _Hidden(importlib.abc.MetaPathFinder):
    """Answers every import of UNUSED_INTEGRATIONS (and their submodules) as
    not installed, as a missing package would."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in UNUSED_INTEGRATIONS:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden while TensorFlow loads)", name=name)
        return None


def _load_tensorflow() -> None:
    hidden = _Hidden()
    sys.meta_path.insert(0, hidden)
    try:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        sys.meta_path.remove(hidden)


_load_tensorflow()
