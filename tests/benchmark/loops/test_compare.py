"""benchmark.loops: every loop trains, the bare networks have the spec's sizes,
and the script prints its tables and writes valid JSON. Behaviour only: the
figures themselves come from running the script, never from a test.

XLA and torch.compile are left out: they add tens of seconds of compilation
and differ from the modes tested here only in the flag passed to the framework."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.frameworks import NAMES, framework as framework_facts
from benchmark.loops import MODELS
from benchmark.loops.compare import OursLoop, framework_module, render_group, verdict
from benchmark.specs import get_spec
from tests.training import two_critic_updates

# tf.data iterators freed when the module ends (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("frees_tf_data_iterators")

REPO_ROOT = Path(__file__).resolve().parents[3]
BATCH = 8
CASES = [(framework, model) for framework in NAMES for model in MODELS]


@pytest.fixture(scope="module")
def tiny(mnist_train):
    images, labels = mnist_train
    return images[:96], labels[:96]  # a WGAN step takes 5 x 8 of them


@pytest.mark.parametrize("framework, model", CASES)
def test_bare_networks_have_the_specs_parameter_counts(framework, model):
    spec = get_spec(model)
    module = framework_module(framework)
    args = ("cpu",) if framework == "torch" else ()
    generator, discriminator = module.build_networks(spec, *args)
    if framework == "torch":
        counts = [sum(p.numel() for p in net.parameters()) for net in (generator, discriminator)]
    elif framework == "jax":  # (params, batch statistics) each
        counts = [sum(int(a.size) for a in params.values()) for params, _ in (generator, discriminator)]
    else:
        counts = [sum(int(v.shape.num_elements()) for v in net.trainable_variables)
                  for net in (generator, discriminator)]
    assert counts == [spec.parameter_counts()["generator"], spec.parameter_counts()["discriminator"]]


def two_steps(loop):
    for _ in range(2):
        loop.prepare()
        d_loss, g_loss = loop.step()
    assert math.isfinite(d_loss) and math.isfinite(g_loss)
    return d_loss, g_loss


@pytest.mark.parametrize("framework, model", CASES)
def test_every_loop_trains_two_steps(framework, model, tiny):
    # JAX has no tutorial: its loops run in its default mode. WGAN with 2
    # critic updates a step (tests.training.two_critic_updates): each loop
    # reads n_critic from the spec, and jax compiles half the unrolled step.
    spec = two_critic_updates(get_spec(model))
    module, mode = framework_module(framework), framework_facts(framework).tutorial_mode or "jit"
    images, labels = tiny
    loops = [OursLoop(framework, spec, mode, images, labels, BATCH, threads=0, device="cpu", seed=0),
             module.BareLoop(spec, images, BATCH, mode)]
    if framework_facts(framework).tutorial_mode is not None:
        loops.append(module.tutorial_loop(spec, images, BATCH))
    for loop in loops:
        two_steps(loop)
        assert loop.images_per_step == BATCH * spec.n_critic
        assert loop.mode == mode
    assert loops[0].flops_per_step == loops[1].flops_per_step
    if len(loops) == 3:  # the DCGAN tutorials reuse the D update's fake batch for G's: less work
        ours, tutorial = loops[0].flops_per_step, loops[2].flops_per_step
        assert tutorial < ours if model == "dcgan" else tutorial == ours


def test_jax_bare_transposed_convolutions_are_torchs():
    """Every formulation of the JAX bare loop's k4 s2 p1 transposed
    convolution computes PyTorch's ConvTranspose2d, and its gradients with
    respect to input and kernel are autograd's: what two training steps of the
    whole loop with each form would show, in milliseconds, not a DCGAN
    compilation a form."""
    import jax
    import torch
    from jax_impl import loops as jax_loops

    x = np.random.default_rng(0).standard_normal((2, 7, 7, 8)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((4, 4, 8, 3)).astype(np.float32)  # (kh, kw, in, out)
    upstream = np.random.default_rng(2).standard_normal((2, 14, 14, 3)).astype(np.float32)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2)).requires_grad_()
    tw = torch.from_numpy(w.transpose(2, 3, 0, 1).copy()).requires_grad_()
    out = torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1)
    out.backward(torch.from_numpy(upstream.transpose(0, 3, 1, 2)))
    want = {"y": out.detach().numpy().transpose(0, 2, 3, 1), "dx": tx.grad.numpy().transpose(0, 2, 3, 1),
            "dw": tw.grad.numpy().transpose(2, 3, 0, 1)}
    forms = {deconv for pair in jax_loops.CONV_TRANSPOSES.values() for deconv in pair}
    assert {jax_loops.deconv_adjoint, jax_loops.deconv_phases, jax_loops.deconv_subpixel,
            jax_loops.deconv_lax} <= forms
    # Each value is a float32 sum of at most 98 products (dw's: 2 images x 7 x 7 positions), summed
    # in another order by each form: rounding moves it by 98 x 6e-8 = 6e-6 of its terms' size at
    # worst, under the 1e-5 of the largest value allowed; a wrong tap or a lost gradient is O(1).
    for deconv in forms:
        y, pullback = jax.vjp(deconv, jax.numpy.asarray(x), jax.numpy.asarray(w))
        dx, dw = pullback(jax.numpy.asarray(upstream))
        for name, got in {"y": y, "dx": dx, "dw": dw}.items():
            np.testing.assert_allclose(np.asarray(got), want[name], rtol=0, atol=1e-5 * np.max(np.abs(want[name])),
                                       err_msg=f"{deconv.__name__}: {name}")


def test_jax_bare_loop_trains_alike_eager_and_jitted(tiny):
    from jax_impl import loops as jax_loops

    images, _ = tiny
    spec = get_spec("dcgan")
    eager, jitted = (jax_loops.BareLoop(spec, images, BATCH, mode) for mode in ("eager", "jit"))
    losses = [two_steps(loop) for loop in (eager, jitted)]  # two steps: the gradients agree too
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)


def test_tf_bare_loop_runs_eagerly(tiny):
    from tf_impl import loops as tf_loops

    two_steps(tf_loops.BareLoop(get_spec("wgan"), tiny[0], BATCH, "eager"))


def ratios(bare, tutorial=None, tutorial_work=1.0):
    """Ratios as `summarize` gives them; the tutorial's step does `tutorial_work`
    of ours's arithmetic."""
    median = sorted(bare)[len(bare) // 2]
    values = {"ours_over_bare": median, "ours_over_bare_per_repeat": bare, "ours_over_bare_per_flop": median}
    if tutorial:
        median = sorted(tutorial)[len(tutorial) // 2]
        values.update(ours_over_tutorial=median, ours_over_tutorial_per_repeat=tutorial,
                      ours_over_tutorial_per_flop=median / tutorial_work)
    return values


def test_verdict_gives_the_per_flop_ratio_when_the_tutorial_does_less_work():
    lighter = verdict(ratios([1.0, 1.0, 1.0], [0.80, 0.81, 0.82], tutorial_work=0.83), "tf", "function")
    assert not lighter["ahead_of_tutorial"]
    assert "per FLOP ours is 0.976x the tutorial, whose step does 17% less work" in lighter["line"]
    same = verdict(ratios([1.0, 1.0, 1.0], [1.1, 1.2, 1.3]), "torch", "eager")
    assert "per FLOP" not in same["line"]


def test_verdict_reads_the_ratios():
    close = verdict(ratios([0.97, 0.98, 0.99], [1.2, 1.3, 1.25]), "torch", "eager")
    assert close["within_5pct_of_bare"] and close["ahead_of_tutorial"]
    assert close["line"].startswith("ours within 5% of bare") and "ours ahead of tutorial" in close["line"]
    slow = verdict(ratios([0.80, 0.85, 0.90], [0.9, 0.95, 0.92]), "torch", "eager")
    assert not slow["within_5pct_of_bare"] and not slow["ahead_of_tutorial"]
    assert "ours NOT within 5% of bare" in slow["line"] and "ours NOT ahead of tutorial" in slow["line"]
    noisy = verdict(ratios([0.93, 0.96, 0.97]), "tf", "xla")
    assert "within noise" in noisy["line"] and noisy["ahead_of_tutorial"] is None
    assert "no tutorial in xla mode" in noisy["line"]
    none = verdict(ratios([1.0, 1.0, 1.0]), "jax", "jit")
    assert "no tutorial (jax has none)" in none["line"] and none["ahead_of_tutorial"] is None


def test_the_script_prints_its_tables_and_writes_json(tmp_path, mnist_data_dir):
    out = tmp_path / "loops.json"
    result = subprocess.run(
        # Each framework's default modes: torch eager (with its tutorial), jax jit (none); one process each.
        # Batch 8, as test_every_loop_trains_two_steps: jax's programs come from the session's compile
        # cache (tests/conftest.py), where jax eager's op-by-op DCGAN would add 18 s.
        [sys.executable, "-m", "benchmark.loops.compare", "--frameworks", "torch", "jax",
         "--models", "dcgan", "--steps", "2", "--warmup", "0",
         "--repeats", "2", "--batch-size", str(BATCH), "--train-size", "96",
         "--data-dir", mnist_data_dir, "--json", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads(out.read_text())
    groups = {(g["framework"], g["mode"]): g for g in results["groups"]}
    assert set(groups) == {("torch", "eager"), ("jax", "jit")}
    for (framework, mode), group in groups.items():
        has_tutorial = mode == framework_facts(framework).tutorial_mode
        assert set(group["variants"]) == {"ours", "bare", "tutorial"} if has_tutorial else {"ours", "bare"}
        for figures in group["variants"].values():
            assert figures["images_per_s"] > 0 and len(figures["repeats"]) == 2
            assert all(len(r["step_s"]) == 2 for r in figures["repeats"])
        assert len(group["ratios"]["ours_over_bare_per_repeat"]) == 2
        assert ("ours_over_tutorial" in group["ratios"]) == has_tutorial
        assert render_group(group, BATCH, results["environment"]["threads"], 2) in result.stdout
    assert result.stdout.count("verdict: ") == 2 and "summary" in result.stdout
    assert "no tutorial (jax has none)" in groups["jax", "jit"]["verdict"]["line"]


def test_a_framework_without_the_mode_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "benchmark.loops.compare", "--frameworks", "tf", "--modes", "compile"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 2 and "tf modes: eager, function, xla" in result.stderr
