"""`patch()` and `unpatch()`: apply and undo the fan context at run time.

Upstream file: none. The pull request makes these changes in Keras's source
instead.
"""

import contextlib
import threading

import keras
from packaging.specifiers import SpecifierSet

from keras_fans.initializers import pytorch_uniform
from keras_fans.initializers import random_initializers
from keras_fans.layers import convolutional
from keras_fans.layers import core
from keras_fans.layers import rnn
from keras_fans.layers import weight_fans

# The Keras releases whose internals the patch was written against; the
# same range as the `keras` dependency in `pyproject.toml`.
SUPPORTED_KERAS = ">=3.15.0,<3.16"

_lock = threading.Lock()
# `(owner, attribute, stock object)` for each replacement while patched.
_originals = []
# The options of the `patch()` in effect, while patched.
_options = {}


def _check_keras_version(version):
    """Raises `RuntimeError` unless `version` is in the supported range."""
    if not SpecifierSet(SUPPORTED_KERAS).contains(version, prereleases=True):
        raise RuntimeError(
            f"keras_fans supports keras{SUPPORTED_KERAS}; "
            f"the installed Keras is {version}."
        )


def _rules(depthwise_kernels):
    """Every layer's `FanRule`s: biases, and the depthwise kernels if asked."""
    rules = core.RULES + convolutional.RULES + rnn.RULES
    if depthwise_kernels:
        rules += convolutional.DEPTHWISE_KERNEL_RULES
    return rules


def _replacements(depthwise_kernels=True, rules=None):
    """What `patch()` replaces; `rules` (default: every rule) lets the
    upstream series' proof apply only the rules of its first PRs."""
    if rules is None:
        rules = _rules(depthwise_kernels)
    return (
        random_initializers.REPLACEMENTS
        + pytorch_uniform.replacements()
        + weight_fans.replacements(rules)
    )


def patch(depthwise_kernels=True):
    """Makes Keras hand every layer's bias initializer its fan context.

    Idempotent. The change is process-wide: every thread sees it.

    Args:
        depthwise_kernels: Whether DepthwiseConv kernels and SeparableConv
            depthwise kernels get the fans of one channel's filter
            (keras-team/keras#11773). This changes their default
            (Glorot uniform) values; `False` keeps them stock.
    """
    options = {"depthwise_kernels": depthwise_kernels}
    with _lock:
        if _originals:
            if options != _options:
                raise RuntimeError(
                    f"keras_fans is already patched with {_options}; call "
                    f"unpatch() before patching with {options}."
                )
            return
        _check_keras_version(keras.version())
        for owner, name, replacement in _replacements(**options):
            _originals.append((owner, name, vars(owner)[name]))
            setattr(owner, name, replacement)
        _options.update(options)


def _patch_rules(rules):
    """`patch()` with only the `FanRule`s `rules`: the runtime counterpart
    of a prefix of the upstream series (`upstream_tests/fingerprint.py`)."""
    with _lock:
        if _originals:
            raise RuntimeError("call unpatch() before _patch_rules()")
        for owner, name, replacement in _replacements(rules=rules):
            _originals.append((owner, name, vars(owner)[name]))
            setattr(owner, name, replacement)
        _options.update(rules=rules)


def unpatch():
    """Restores the very objects `patch()` replaced. Idempotent."""
    with _lock:
        while _originals:
            owner, name, original = _originals.pop()
            setattr(owner, name, original)
        _options.clear()


def is_patched():
    """Whether `patch()` is in effect."""
    return bool(_originals)


@contextlib.contextmanager
def patched(depthwise_kernels=True):
    """Context manager: `patch(...)` inside; on exit, as it was on entry."""
    was_patched = is_patched()
    patch(depthwise_kernels=depthwise_kernels)
    try:
        yield
    finally:
        if not was_patched:
            unpatch()
