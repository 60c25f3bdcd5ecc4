"""benchmark.loops.profile: the optimized HLO is read into shapes, sources and
kinds, and the script profiles a real step of torch and of JAX."""

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from jax_impl.loops import hlo_sources

REPO_ROOT = Path(__file__).resolve().parents[3]


# Optimized HLO as XLA:CPU prints it, cut down: a fusion without metadata
# that calls a computation holding a convolution, and a plain elementwise one.
HLO = """
%fused_computation.5 (param_0: f32[8,14,14,4], param_1: f32[8,7,7,4]) -> f32[4,4,4,4] {
  %param_0 = f32[8,14,14,4]{3,2,1,0} parameter(0)
  %param_1 = f32[8,7,7,4]{3,2,1,0} parameter(1)
  ROOT %convolution.3 = f32[4,4,4,4]{3,2,1,0} convolution(%param_0, %param_1), window={size=7x7}, metadata={op_name="jit(train_step)/transpose(jvp())/conv_general_dilated" stack_frame_id=7}
}

ENTRY %main.2 (x.1: f32[8,14,14,4], g.1: f32[8,7,7,4]) -> (f32[4,4,4,4], f32[8,7,7,4]) {
  %x.1 = f32[8,14,14,4]{3,2,1,0} parameter(0), metadata={op_name="x"}
  %g.1 = f32[8,7,7,4]{3,2,1,0} parameter(1)
  %ynn_fusion.5 = f32[4,4,4,4]{3,2,1,0} fusion(%x.1, %g.1), kind=kCustom, calls=%fused_computation.5, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %broadcast_subtract_fusion.3 = f32[8,7,7,4]{3,2,1,0} fusion(%g.1), kind=kLoop, calls=%fused_computation.6
  ROOT %tuple = (f32[4,4,4,4]{3,2,1,0}, f32[8,7,7,4]{3,2,1,0}) tuple(%ynn_fusion.5, %broadcast_subtract_fusion.3)
}
"""


def test_a_fusion_takes_its_source_and_kind_from_the_computation_it_calls():
    sources = hlo_sources(HLO)
    assert sources["ynn_fusion.5"] == ("f32[4,4,4,4]{3,2,1,0}", "transpose(jvp())/conv_general_dilated",
                                       "convolution")
    assert sources["broadcast_subtract_fusion.3"] == ("f32[8,7,7,4]{3,2,1,0}", "", "broadcast_subtract_fusion")
    assert sources["tuple"][0] == "(f32[4,4,4,4]{3,2,1,0}, f32[8,7,7,4]{3,2,1,0})"


def test_this_xlas_hlo_reads_as_expected():
    def loss(x, w):
        y = lax.conv_general_dilated(x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(jnp.maximum(y, 0.0) @ jnp.ones((8, 3)))

    x, w = jnp.ones((4, 8, 8, 2)), jnp.ones((4, 4, 2, 8))
    sources = hlo_sources(jax.jit(jax.grad(loss, argnums=1)).lower(x, w).compile().as_text())
    found = {(shape.split("{")[0], source, kind) for shape, source, kind in sources.values()}
    assert ("f32[4,4,4,8]", "jvp()/conv_general_dilated", "convolution") in found  # the forward convolution
    assert any(kind == "dot" and source.endswith("dot_general") for _, source, kind in found)
    # The kernel gradient's result, however XLA:CPU splits and lays it out.
    assert any(shape == "f32[4,4,2,8]" and source == "transpose(jvp())/conv_general_dilated"
               for shape, source, _ in found)


@pytest.mark.parametrize("framework, kind", [("torch", "aten::convolution_backward"), ("jax", "convolution")])
def test_the_script_profiles_a_real_step(framework, kind, mnist_data_dir):
    done = subprocess.run([sys.executable, "-m", "benchmark.loops.profile", "--framework", framework,
                           "--batch-size", "16", "--steps", "2", "--warmup", "1", "--train-size", "64",
                           "--top", "5", "--data-dir", mnist_data_dir],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    header, meaning, _, _, *rest = done.stdout.splitlines()
    assert header.startswith(f"{framework} dcgan ") and "cores busy" in header
    kinds = rest[:rest.index("")]
    assert kind in " ".join(kinds)
    listed = rest[rest.index("") + 2:]
    assert len(listed) == 5 and all(float(line.split()[2]) > 0 for line in listed)


def test_a_mode_the_framework_lacks_is_refused():
    done = subprocess.run([sys.executable, "-m", "benchmark.loops.profile", "--framework", "torch", "--mode", "jit"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--mode jit: torch modes are eager, compile" in done.stderr
