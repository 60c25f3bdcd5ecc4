"""Analytic FLOPs, checked against a count done by hand for DCGAN. Integer
arithmetic from the spec: exact equality, the same on every machine."""

from benchmark.flops import forward_flops, training_flops_per_step
from benchmark.specs import get_spec, spec_for_image


def test_dcgan_forward_flops_match_a_hand_count():
    dcgan = get_spec("dcgan")
    # G: Dense 100 -> 7*7*128; ConvT 7x7 input, 128 -> 64, k4; ConvT 14x14 input, 64 -> 1, k4.
    g_macs = 100 * 6272 + 7 * 7 * 128 * 64 * 16 + 14 * 14 * 64 * 1 * 16
    # D: Conv to 14x14, 1 -> 64, k4; Conv to 7x7, 64 -> 128, k4; Dense 6272 -> 1.
    d_macs = 14 * 14 * 64 * 1 * 16 + 7 * 7 * 128 * 64 * 16 + 6272
    assert forward_flops(dcgan.generator) == 2 * g_macs
    assert forward_flops(dcgan.discriminator) == 2 * d_macs


def test_dcgan_64x64_forward_flops_match_a_hand_count():
    dcgan = spec_for_image("dcgan", (64, 64, 3))
    # G: Dense 100 -> 4*4*512; ConvTs from 4x4 512 -> 256, 8x8 256 -> 128, 16x16 128 -> 64, 32x32 64 -> 3, k4.
    g_macs = 100 * 8192 + 16 * (4 * 4 * 512 * 256 + 8 * 8 * 256 * 128 + 16 * 16 * 128 * 64 + 32 * 32 * 64 * 3)
    # D: Convs to 32x32 3 -> 64, 16x16 64 -> 128, 8x8 128 -> 256, 4x4 256 -> 512, k4; Dense 8192 -> 1.
    d_macs = 16 * (32 * 32 * 64 * 3 + 16 * 16 * 128 * 64 + 8 * 8 * 256 * 128 + 4 * 4 * 512 * 256) + 8192
    assert forward_flops(dcgan.generator) == 2 * g_macs
    assert forward_flops(dcgan.discriminator) == 2 * d_macs


def test_critic_steps_multiply_the_discriminator_work():
    dcgan, wgan = get_spec("dcgan"), get_spec("wgan")
    g, d = forward_flops(dcgan.generator), forward_flops(dcgan.discriminator)
    assert training_flops_per_step(dcgan, 10) == 10 * ((g + 6 * d) + 3 * g + 2 * d)
    assert training_flops_per_step(wgan, 10) == 10 * (5 * (g + 6 * d) + 3 * g + 2 * d)
