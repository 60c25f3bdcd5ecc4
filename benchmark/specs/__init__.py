"""Framework-neutral model specs, keyed by the name users type (`--models`).

`SPECS` holds every model for 28x28 MNIST. `spec_for_image` gives a model for
any image shape the networks take: 28x28x1 (the same `SPECS` object), or
square images of side 16, 32, 64 or 128 with 1 or 3 channels (the DCGAN
paper's networks at that size, `benchmark.specs.dcgan_paper`). Every model
has every size; a spec's `name` stays the model's and its `title` carries the
size ("DCGAN 64x64").
"""

from __future__ import annotations

import functools
from typing import Callable

from benchmark.specs.cgan import CGAN, NUM_CLASSES, cgan
from benchmark.specs.dcgan import DCGAN, IMAGE_SHAPE, ImageShape, check_image_shape, dcgan
from benchmark.specs.dcgan_paper import CHANNELS, SIDES
from benchmark.specs.gan import GANSpec, InitSpec, OptimizerSpec
from benchmark.specs.lsgan import LSGAN, lsgan
from benchmark.specs.sagan import SAGAN, sagan
from benchmark.specs.sn_dcgan import SN_DCGAN, sn_dcgan
from benchmark.specs.vanilla import VANILLA, vanilla
from benchmark.specs.wgan import WGAN, wgan
from benchmark.specs.wgan_gp import WGAN_GP, wgan_gp

SPECS: dict[str, GANSpec] = {
    spec.name: spec for spec in (DCGAN, WGAN, VANILLA, LSGAN, WGAN_GP, CGAN, SN_DCGAN, SAGAN)
}

# model -> its spec for an image shape; a conditional model's also takes the number of classes.
BUILDERS: dict[str, Callable[..., GANSpec]] = {
    "dcgan": dcgan, "wgan": wgan, "vanilla": vanilla, "lsgan": lsgan, "wgan_gp": wgan_gp,
    "cgan": cgan, "sn_dcgan": sn_dcgan, "sagan": sagan,
}
assert BUILDERS.keys() == SPECS.keys()

SUPPORTED_SHAPES = (f"{IMAGE_SHAPE} (MNIST's networks), or (S, S, C) with S in "
                    f"{', '.join(map(str, SIDES))} and C in {', '.join(map(str, CHANNELS))} "
                    "(the DCGAN paper's networks)")


def get_spec(name: str) -> GANSpec:
    """The 28x28 MNIST spec for `name`; raises KeyError listing the valid names."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(SPECS)}") from None


def spec_for_image(model: str, image_shape: ImageShape, *, num_classes: int = NUM_CLASSES) -> GANSpec:
    """The spec of `model` for images of `image_shape` (H, W, C).

    Args:
      model: a key of SPECS; unknown names raise KeyError listing them.
      image_shape: (28, 28, 1) gives `SPECS[model]` itself; (S, S, C) with S
        in 16, 32, 64, 128 and C in 1, 3 the DCGAN paper's networks at that
        size; any other shape raises ValueError naming these.
      num_classes: the classes of the data's labels (read by cgan alone, which
        raises ValueError for fewer than 2: data without labels).

    Returns:
      The same object for the same arguments.
    """
    get_spec(model)  # the KeyError for an unknown model
    try:
        shape = check_image_shape(image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{model} has no networks for images of shape {tuple(image_shape)}; "
                         f"supported (H, W, C): {SUPPORTED_SHAPES}") from None
    return _spec(model, shape, num_classes if SPECS[model].conditional else NUM_CLASSES)


@functools.cache
def _spec(model: str, image_shape: ImageShape, num_classes: int) -> GANSpec:
    if image_shape == IMAGE_SHAPE and num_classes == NUM_CLASSES:
        return SPECS[model]
    if SPECS[model].conditional:
        return BUILDERS[model](image_shape, num_classes)
    return BUILDERS[model](image_shape)


__all__ = ["BUILDERS", "SPECS", "SUPPORTED_SHAPES", "GANSpec", "InitSpec", "OptimizerSpec",
           "get_spec", "spec_for_image"]
