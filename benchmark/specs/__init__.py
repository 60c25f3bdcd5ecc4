"""Framework-neutral model specs, keyed by the name users type (`--models`)."""

from benchmark.specs.cgan import CGAN
from benchmark.specs.dcgan import DCGAN
from benchmark.specs.gan import GANSpec, InitSpec, OptimizerSpec
from benchmark.specs.lsgan import LSGAN
from benchmark.specs.sagan import SAGAN
from benchmark.specs.sn_dcgan import SN_DCGAN
from benchmark.specs.vanilla import VANILLA
from benchmark.specs.wgan import WGAN
from benchmark.specs.wgan_gp import WGAN_GP

SPECS: dict[str, GANSpec] = {
    spec.name: spec for spec in (DCGAN, WGAN, VANILLA, LSGAN, WGAN_GP, CGAN, SN_DCGAN, SAGAN)
}


def get_spec(name: str) -> GANSpec:
    """The spec for `name`; raises KeyError listing the valid names."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(SPECS)}") from None


__all__ = ["SPECS", "GANSpec", "InitSpec", "OptimizerSpec", "get_spec"]
