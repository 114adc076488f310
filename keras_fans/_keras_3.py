"""Refuses Keras 2 (tf-keras) and anything before 3.0 on import.

Imported first by `keras_fans/__init__.py`, so that such a Keras gets this
error instead of an `ImportError` from deep inside `keras.src`.
"""

import keras
from packaging.version import Version

# The `keras` dependency in `pyproject.toml`.
OLDEST_SUPPORTED = "3.0"


def refusal(version):
    """The message refusing Keras `version`, or None if it is Keras 3."""
    if Version(version) >= Version(OLDEST_SUPPORTED):
        return None
    return (
        f"keras_fans needs Keras 3 (>={OLDEST_SUPPORTED}); the installed "
        f"Keras is {version}. Keras 2 and tf-keras are not supported."
    )


if refusal(keras.__version__) is not None:
    raise ImportError(refusal(keras.__version__))
