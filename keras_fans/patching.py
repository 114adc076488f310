"""`patch()` and `unpatch()`: apply and undo the fan context at run time.

Upstream file: none. The pull request makes these changes in Keras's source
instead.
"""

import contextlib
import threading

import keras
from packaging.specifiers import SpecifierSet

from keras_fans.initializers import random_initializers
from keras_fans.layers import convolutional
from keras_fans.layers import core
from keras_fans.layers import weight_fans

# The Keras releases whose internals the patch was written against; the
# same range as the `keras` dependency in `pyproject.toml`.
SUPPORTED_KERAS = ">=3.15.0,<3.16"

_lock = threading.Lock()
# `(owner, attribute, stock object)` for each replacement while patched.
_originals = []


def _check_keras_version(version):
    """Raises `RuntimeError` unless `version` is in the supported range."""
    if not SpecifierSet(SUPPORTED_KERAS).contains(version, prereleases=True):
        raise RuntimeError(
            f"keras_fans supports keras{SUPPORTED_KERAS}; "
            f"the installed Keras is {version}."
        )


def _replacements():
    rules = core.RULES + convolutional.RULES
    return random_initializers.REPLACEMENTS + weight_fans.replacements(rules)


def patch():
    """Makes Keras hand every layer's bias initializer its fan context.

    Idempotent. The change is process-wide: every thread sees it.
    """
    with _lock:
        if _originals:
            return
        _check_keras_version(keras.version())
        for owner, name, replacement in _replacements():
            _originals.append((owner, name, vars(owner)[name]))
            setattr(owner, name, replacement)


def unpatch():
    """Restores the very objects `patch()` replaced. Idempotent."""
    with _lock:
        while _originals:
            owner, name, original = _originals.pop()
            setattr(owner, name, original)


def is_patched():
    """Whether `patch()` is in effect."""
    return bool(_originals)


@contextlib.contextmanager
def patched():
    """Context manager: patched inside; on exit, as it was on entry."""
    was_patched = is_patched()
    patch()
    try:
        yield
    finally:
        if not was_patched:
            unpatch()
