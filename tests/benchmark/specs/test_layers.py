"""The spec vocabulary: shapes, canonical parameter layout, and the checks
that reject a network whose layers do not fit together."""

import pytest

from benchmark.specs import SPECS, get_spec
from benchmark.specs.layers import (
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
    infer_shapes, parameter_shapes, trainable_parameter_count,
)


def test_dcgan_shapes_walk_from_noise_to_image_and_back():
    spec = get_spec("dcgan")
    assert infer_shapes(spec.generator)[-1][2] == (28, 28, 1)
    assert infer_shapes(spec.discriminator)[-1][2] == (1,)


def test_transposed_convolution_size_follows_pytorch_formula():
    # (in - 1) * stride - 2 * padding + kernel + output_padding
    net = NetSpec("g", (7, 7, 8), (ConvTranspose2d("up", 8, 4, kernel=5, stride=2, padding=2,
                                                   output_padding=1),))
    assert infer_shapes(net)[0][2] == (14, 14, 4)


def test_mismatched_channels_are_rejected_with_the_layer_name():
    with pytest.raises(ValueError, match="d/conv2"):
        NetSpec("d", (28, 28, 1), (Conv2d("conv1", 1, 8, 4, 2, 1), Conv2d("conv2", 16, 8, 4, 2, 1)))


def test_reshape_must_keep_the_element_count():
    with pytest.raises(ValueError, match="elements"):
        NetSpec("g", (10,), (Dense("fc", 10, 49), Reshape((7, 7, 2))))


def test_parameter_shapes_use_the_canonical_layout():
    net = NetSpec("d", (8, 8, 3), (
        Conv2d("conv", 3, 4, kernel=3, stride=1, padding=1, bias=False),
        BatchNorm("bn", 4), Activation("relu"), Flatten(), Dense("fc", 256, 2),
    ))
    assert parameter_shapes(net) == {
        "d/conv/kernel": (3, 3, 3, 4),  # (kh, kw, in, out)
        "d/bn/gamma": (4,), "d/bn/beta": (4,), "d/bn/moving_mean": (4,), "d/bn/moving_var": (4,),
        "d/fc/kernel": (256, 2), "d/fc/bias": (2,),
    }
    assert trainable_parameter_count(net) == 3 * 3 * 3 * 4 + 4 + 4 + 256 * 2 + 2


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid models: " + ", ".join(SPECS)):
        get_spec("stylegan")


def test_wgan_policy_is_the_papers():
    wgan = get_spec("wgan")
    assert (wgan.loss, wgan.n_critic, wgan.clip_value) == ("wasserstein", 5, 0.01)
    assert wgan.d_optimizer.name == "rmsprop" and wgan.d_optimizer.lr == 5e-5
    dcgan = get_spec("dcgan")
    assert (dcgan.d_optimizer.lr, dcgan.d_optimizer.beta1) == (2e-4, 0.5)
