"""TensorFlow/Keras twins of the ganbench models. Never imports torch."""
