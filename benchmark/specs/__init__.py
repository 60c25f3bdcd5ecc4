"""Framework-neutral model specs, keyed by the name users type (`--models`)."""

from benchmark.specs.dcgan import DCGAN
from benchmark.specs.gan import GANSpec, InitSpec, OptimizerSpec
from benchmark.specs.wgan import WGAN

SPECS: dict[str, GANSpec] = {spec.name: spec for spec in (DCGAN, WGAN)}


def get_spec(name: str) -> GANSpec:
    """The spec for `name`; raises KeyError listing the valid names."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(SPECS)}") from None


__all__ = ["SPECS", "GANSpec", "InitSpec", "OptimizerSpec", "get_spec"]
