"""TensorFlow's start-up in a tf process (tf_impl/__init__.py): the optional
integrations Keras and tf.lite load when scikit-learn, pandas, matplotlib or
JAX are installed stay unloaded, the packages themselves stay importable, and
a process that had loaded one before keeps it for Keras too.

Each case is a fresh Python: this pytest process has imported all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]


def fresh_python(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_tf_process_loads_none_of_the_unused_integrations_and_can_still_import_them():
    outcome = fresh_python("""
import json, sys
import tf_impl.runner
from tf_impl import UNUSED_INTEGRATIONS
loaded = [name for name in UNUSED_INTEGRATIONS if name in sys.modules]
import keras, numpy as np
out = keras.layers.Dense(2)(np.ones((1, 3), np.float32))
import pandas, sklearn, matplotlib  # importable as ever
print(json.dumps({"loaded": loaded, "shape": list(out.shape), "finders": [type(f).__name__ for f in sys.meta_path]}))
""")
    assert outcome["loaded"] == [] and outcome["shape"] == [1, 2]
    assert "_Hidden" not in outcome["finders"]  # gone once TensorFlow has loaded


def test_a_package_loaded_before_tensorflow_is_not_hidden():
    outcome = fresh_python("""
import json
import pandas
import tf_impl
from keras.src.trainers.data_adapters import array_slicing
print(json.dumps({"keras_sees_pandas": array_slicing.pandas is pandas}))
""")
    assert outcome["keras_sees_pandas"]
