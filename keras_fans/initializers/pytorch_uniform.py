"""`PyTorchUniform`: PyTorch's default for `nn.Linear` and `nn.ConvNd`.

Upstream file: `keras/src/initializers/random_initializers.py` (a new
subclass of `VarianceScaling`) and `keras/src/initializers/__init__.py` (its
names, so that `"pytorch_uniform"` resolves).
"""

import warnings
from collections.abc import Sequence

import keras
from keras.src import initializers
from keras.src.initializers import random_initializers


@keras.saving.register_keras_serializable(package="keras_fans")
class PyTorchUniform(random_initializers.VarianceScaling):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as `torch.nn.Linear` and
    `torch.nn.Conv*d` draw their weights and biases.

    `VarianceScaling(scale=1/3, mode="fan_in", distribution="uniform")`:
    variance 1 / (3 fan_in) is that of U(+-1/sqrt(fan_in)). While
    `keras_fans.patch()` is in effect a layer's fan context supplies
    `fan_in`, so a bias gets the layer's fan-in, as in PyTorch, and the
    string `"pytorch_uniform"` names this initializer.

    Args:
        seed: A Python integer or `keras.random.SeedGenerator`.
    """

    def __init__(self, seed=None):
        super().__init__(
            scale=1 / 3, mode="fan_in", distribution="uniform", seed=seed
        )

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | None = None,
        *,
        fan_in: int | None = None,
        fan_out: int | None = None,
    ):
        """Draws `shape` values; warns when a weight of rank < 2 comes
        without `fan_in`: its own length is then its fan-in, where PyTorch
        uses the layer's input width (a bias drawn without the patch)."""
        if fan_in is None and len(shape) < 2:
            warnings.warn(
                f"keras_fans: PyTorchUniform drew shape {tuple(shape)} with "
                "no fan_in: its own length is its fan-in, not the layer's "
                "input width as in PyTorch. Call keras_fans.patch() before "
                "building the layer (a layer keras_fans does not cover is "
                "never handed its fans).",
                UserWarning,
                stacklevel=2,
            )
        fans = {"fan_in": fan_in, "fan_out": fan_out}
        fans = {name: fan for name, fan in fans.items() if fan is not None}
        return super().__call__(shape, dtype=dtype, **fans)

    def get_config(self):
        return {"seed": super().get_config()["seed"]}


def replacements():
    """What `patch()` replaces: Keras's table of initializer names, by one
    with `"pytorch_uniform"` and `"PyTorchUniform"` added."""
    names = {
        **vars(initializers)["ALL_OBJECTS_DICT"],
        "pytorch_uniform": PyTorchUniform,
        "PyTorchUniform": PyTorchUniform,
    }
    return ((initializers, "ALL_OBJECTS_DICT", names),)
