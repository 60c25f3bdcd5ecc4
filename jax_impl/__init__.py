"""JAX twins of the ganbench models, plain JAX with explicit pytrees. Never
imports torch or tensorflow."""
