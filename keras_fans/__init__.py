"""keras-fans: Keras initializers that see the fans of the unit a weight feeds.

`import keras_fans; keras_fans.patch()` makes every covered layer hand its
bias initializer the layer's true fans, so `bias_initializer="he_uniform"`
scales by the layer's input width instead of by the bias vector's length.

The names below are imported on first use: `import keras_fans` imports no
Keras (so `python -m keras_fans --help` needs no backend).
"""

import importlib

# The version, here only: pyproject.toml reads it (setuptools `attr`),
# without importing the package.
__version__ = "0.1.0"

# Public name -> the module that defines it.
_MODULES = {
    "audit": "keras_fans.auditing",
    "box_init": "keras_fans.breakpoints",
    "compute_fans": "keras_fans.initializers.random_initializers",
    "initializers": "keras_fans.initializers",
    "is_patched": "keras_fans.patching",
    "patch": "keras_fans.patching",
    "patched": "keras_fans.patching",
    "reset_parameters": "keras_fans.pytorch_defaults",
    "spread_breakpoints": "keras_fans.breakpoints",
    "unpatch": "keras_fans.patching",
}

__all__ = ["__version__", *sorted(_MODULES)]


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module 'keras_fans' has no attribute {name!r}")
    # First: refuses Keras 2 before any `keras.src` import can fail.
    importlib.import_module("keras_fans._keras_3")
    module = importlib.import_module(_MODULES[name])
    value = module if name == "initializers" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_MODULES))
