"""Keras optimizers that apply exactly PyTorch's update rules (see
`benchmark.specs.gan.OptimizerSpec`).

Keras' Adam adds eps to sqrt(v) before bias correction ("epsilon hat") and its
RMSprop puts eps inside the square root; both change the update wherever a
gradient is small. Overriding `update_step` keeps Keras' variable handling and
removes the difference, so parity holds to float32 rounding.
"""

from __future__ import annotations

import keras
from keras import ops

from benchmark.specs import OptimizerSpec


class TorchAdam(keras.optimizers.Adam):
    """p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        # convert_to_tensor with a dtype, not cast: cast goes through float32
        # first, which shifts beta_2 = 0.999 by 1e-8 and the step by 6e-6 in float64.
        bias_correction1 = 1 - ops.power(ops.convert_to_tensor(self.beta_1, variable.dtype), step)
        bias_correction2 = 1 - ops.power(ops.convert_to_tensor(self.beta_2, variable.dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denominator = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(bias_correction2)), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / bias_correction1), denominator))


class TorchRMSprop(keras.optimizers.RMSprop):
    """v = alpha v + (1 - alpha) g^2; p -= lr * g / (sqrt(v) + eps)."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(v, ops.add(ops.multiply(self.rho, v), ops.multiply(1 - self.rho, ops.square(gradient))))
        self.assign_sub(variable, ops.divide(ops.multiply(lr, gradient), ops.add(ops.sqrt(v), self.epsilon)))


# torch.amp.GradScaler's defaults (Keras' are 2^15 and the same 2000 steps),
# so that both frameworks scale fp16 losses alike.
LOSS_SCALE_INITIAL, LOSS_SCALE_GROWTH_STEPS = 2.0**16, 2000


def build_optimizer(spec: OptimizerSpec, loss_scale: bool = False) -> keras.optimizers.Optimizer:
    """The optimizer of `spec`; with `loss_scale` (fp16) wrapped in Keras'
    dynamic LossScaleOptimizer, which unscales the gradients and skips a step
    whose gradients are not finite before the inner update_step runs."""
    if spec.name == "adam":
        optimizer = TorchAdam(learning_rate=spec.lr, beta_1=spec.beta1, beta_2=spec.beta2, epsilon=spec.eps)
    elif spec.name == "rmsprop":
        optimizer = TorchRMSprop(learning_rate=spec.lr, rho=spec.alpha, epsilon=spec.eps)
    else:
        raise ValueError(f"unknown optimizer {spec.name!r}; valid: adam, rmsprop")
    if loss_scale:
        return keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=LOSS_SCALE_INITIAL,
                                                   dynamic_growth_steps=LOSS_SCALE_GROWTH_STEPS)
    return optimizer
