"""Models at any image shape (`benchmark.specs.spec_for_image`): the 28x28
MNIST specs unchanged, the DCGAN paper's networks at the sizes it supports,
and clear errors for the rest. Spec arithmetic only: no framework."""

from __future__ import annotations

import hashlib

import pytest

from benchmark.specs import SPECS, SUPPORTED_SHAPES, spec_for_image
from benchmark.specs.dcgan_paper import attention_side
from benchmark.specs.layers import (
    BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, SelfAttention, infer_shapes,
)

# The 28x28 specs as they were before other image shapes (main 2717e47):
# trainable parameters, and a digest of the repr, which lists every field of
# every layer. The committed MNIST reports were made with these; change them
# only on purpose.
MNIST_SPECS = {
    "dcgan": (759681, 138689, "8308f1c88b2af253"),
    "wgan": (759681, 138689, "e38f1742b9fe3b2e"),
    "vanilla": (1488144, 533505, "86c0279b61ea6f15"),
    "lsgan": (759681, 138689, "0838c7796ec773aa"),
    "wgan_gp": (759681, 138561, "0f6c45de491ba3ae"),
    "cgan": (822401, 148929, "72044706416e49ae"),
    "sn_dcgan": (759681, 138561, "6511b0a422b62b58"),
    "sagan": (764874, 143754, "64f2c80665273662"),
}
PAPER_SHAPES = [(16, 16, 1), (32, 32, 3), (64, 64, 1), (64, 64, 3), (128, 128, 3)]


@pytest.mark.parametrize("model", MNIST_SPECS)
def test_the_28x28_specs_are_unchanged_and_are_what_mnist_gets(model):
    generator, discriminator, digest = MNIST_SPECS[model]
    spec = SPECS[model]
    assert spec.parameter_counts() == {"generator": generator, "discriminator": discriminator}
    assert hashlib.sha256(repr(spec).encode()).hexdigest()[:16] == digest
    assert spec_for_image(model, (28, 28, 1)) is spec
    assert spec_for_image(model, [28, 28, 1], num_classes=10) is spec


def test_dcgan_64x64x3_is_the_papers_network():
    spec = spec_for_image("dcgan", (64, 64, 3))
    assert spec.name == "dcgan" and spec.title == "DCGAN 64x64" and spec.image_shape == (64, 64, 3)
    maps = [out for layer, _, out in infer_shapes(spec.generator)
            if isinstance(layer, (Dense, ConvTranspose2d))]
    assert maps == [(4 * 4 * 512,), (8, 8, 256), (16, 16, 128), (32, 32, 64), (64, 64, 3)]
    maps = [out for layer, _, out in infer_shapes(spec.discriminator) if isinstance(layer, (Conv2d, Dense))]
    assert maps == [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512), (1,)]
    # No BatchNorm on D's input layer or G's output; a bias exactly where none follows.
    d_norms = [layer.name for layer in spec.discriminator.layers if isinstance(layer, BatchNorm)]
    assert d_norms == ["bn2", "bn3", "bn4"]
    assert [layer.bias for layer in spec.discriminator.layers if isinstance(layer, (Conv2d, Dense))] == \
        [True, False, False, False, True]
    # pytorch/examples' dcgan has no biases at all: 3,576,704 and 2,765,568.
    assert spec.parameter_counts() == {"generator": 3_576_704 + 3, "discriminator": 2_765_568 + 64 + 1}


@pytest.mark.parametrize("side, widths", [(16, [128, 64]), (32, [256, 128, 64]),
                                          (128, [1024, 512, 256, 128, 64])])
def test_widths_double_as_the_side_halves_from_64_at_half_the_image(side, widths):
    spec = spec_for_image("dcgan", (side, side, 1))
    g = [out[-1] for layer, _, out in infer_shapes(spec.generator) if isinstance(layer, BatchNorm)]
    d = [layer.out_channels for layer in spec.discriminator.layers if isinstance(layer, Conv2d)]
    assert g == widths and d == widths[::-1]
    assert infer_shapes(spec.generator)[-1][2] == (side, side, 1)


@pytest.mark.parametrize("shape", PAPER_SHAPES)
@pytest.mark.parametrize("model", sorted(SPECS))
def test_every_model_has_every_size(model, shape):
    spec = spec_for_image(model, shape)
    assert spec.name == model and spec.image_shape == shape
    assert spec.discriminator.input_shape == shape
    assert infer_shapes(spec.generator)[-1][2] == shape
    assert infer_shapes(spec.discriminator)[-1][2] == (1,)
    # The model's policy is the 28x28 one's; only the networks change.
    mnist = SPECS[model]
    assert (spec.loss, spec.d_optimizer, spec.g_optimizer, spec.n_critic, spec.clip_value,
            spec.gradient_penalty, spec.num_classes, spec.latent_dim) == \
        (mnist.loss, mnist.d_optimizer, mnist.g_optimizer, mnist.n_critic, mnist.clip_value,
         mnist.gradient_penalty, mnist.num_classes, mnist.latent_dim)
    assert spec.title.startswith(mnist.title) and spec.title != mnist.title
    assert spec_for_image(model, shape) is spec


@pytest.mark.parametrize("model", ["wgan_gp", "sn_dcgan", "sagan"])
def test_critics_without_batchnorm_keep_every_bias(model):
    critic = spec_for_image(model, (64, 64, 3)).discriminator
    assert not any(isinstance(layer, BatchNorm) for layer in critic.layers)
    weighted = [layer for layer in critic.layers if isinstance(layer, (Conv2d, Dense))]
    assert all(layer.bias for layer in weighted)
    assert all(layer.spectral_norm for layer in weighted) == (model != "wgan_gp")


@pytest.mark.parametrize("side, at, channels", [(16, 8, 64), (32, 16, 64), (64, 32, 64), (128, 32, 128)])
def test_sagan_attends_on_32x32_maps_or_the_largest_below(side, at, channels):
    spec = spec_for_image("sagan", (side, side, 3))
    assert attention_side(side) == at
    for net in (spec.generator, spec.discriminator):
        attention = [(layer, shape) for layer, shape, _ in infer_shapes(net) if isinstance(layer, SelfAttention)]
        assert [(shape, layer.spectral_norm) for layer, shape in attention] == [((at, at, channels), True)]


def test_cgan_concatenates_as_many_label_maps_as_the_data_has_classes():
    spec = spec_for_image("cgan", (32, 32, 3))
    assert spec.conditional and spec.num_classes == 10
    (_, _, with_labels), = [s for s in infer_shapes(spec.discriminator) if isinstance(s[0], ConcatLabels)]
    assert with_labels == (32, 32, 13)
    five = spec_for_image("cgan", (32, 32, 3), num_classes=5)
    assert five.num_classes == 5 and five.title == "Conditional DCGAN (5 classes) 32x32"
    assert infer_shapes(five.generator)[0][2] == (105,)
    with pytest.raises(ValueError, match="class labels"):
        spec_for_image("cgan", (64, 64, 3), num_classes=0)
    # Unconditional models read no labels and ignore the count.
    assert spec_for_image("dcgan", (28, 28, 1), num_classes=0) is SPECS["dcgan"]


def test_vanilla_is_an_mlp_at_the_images_size():
    spec = spec_for_image("vanilla", (64, 64, 3))
    assert spec.title == "GAN (MLP) 64x64"
    dense = [layer for layer in spec.discriminator.layers if isinstance(layer, Dense)]
    assert (dense[0].in_features, dense[0].out_features) == (64 * 64 * 3, 512)
    assert [layer.out_features for layer in spec.generator.layers if isinstance(layer, Dense)] == \
        [256, 512, 1024, 64 * 64 * 3]


def test_titles_tell_sizes_apart():
    assert spec_for_image("dcgan", (64, 64, 3)).title == "DCGAN 64x64"
    assert spec_for_image("dcgan", (32, 32, 1)).title == "DCGAN 32x32x1"
    assert spec_for_image("wgan_gp", (64, 64, 3)).title == "WGAN-GP 64x64"


@pytest.mark.parametrize("shape", [(28, 28, 3), (64, 32, 3), (48, 48, 3), (8, 8, 1), (256, 256, 3),
                                   (64, 64, 4), (64, 64)])
def test_other_shapes_are_refused_naming_the_supported_ones(shape):
    with pytest.raises(ValueError, match="supported") as error:
        spec_for_image("dcgan", shape)
    assert SUPPORTED_SHAPES in str(error.value)
    assert "16, 32, 64, 128" in SUPPORTED_SHAPES and "(28, 28, 1)" in SUPPORTED_SHAPES


def test_unknown_models_are_refused_listing_the_valid_ones():
    with pytest.raises(KeyError, match="valid models"):
        spec_for_image("stylegan", (64, 64, 3))
