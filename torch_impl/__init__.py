"""PyTorch twins of the ganbench models. Never imports tensorflow."""
