"""keras-fans: Keras initializers that see the fans of the unit a weight feeds.

`import keras_fans; keras_fans.patch()` makes every covered layer hand its
bias initializer the layer's true fans, so `bias_initializer="he_uniform"`
scales by the layer's input width instead of by the bias vector's length.
"""

# The version, here only: pyproject.toml reads it (setuptools `attr`),
# without importing the package.
__version__ = "0.1.0"

# First: refuses Keras 2 before any `keras.src` import can fail.
from keras_fans import _keras_3  # noqa: F401
from keras_fans import initializers
from keras_fans.audit import audit
from keras_fans.breakpoints import spread_breakpoints
from keras_fans.initializers.random_initializers import compute_fans
from keras_fans.patching import is_patched
from keras_fans.patching import patch
from keras_fans.patching import patched
from keras_fans.patching import unpatch
from keras_fans.pytorch_defaults import reset_parameters

__all__ = [
    "__version__",
    "audit",
    "compute_fans",
    "initializers",
    "is_patched",
    "patch",
    "patched",
    "reset_parameters",
    "spread_breakpoints",
    "unpatch",
]
