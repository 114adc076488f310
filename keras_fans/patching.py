"""`patch()` and `unpatch()`: apply and undo the fan context at run time.

Upstream file: none. The pull request makes these changes in Keras's source
instead.
"""

import contextlib
import threading
import warnings

import keras
from packaging.version import Version

from keras_fans import _keras_3
from keras_fans import compat
from keras_fans.initializers import pytorch_uniform
from keras_fans.initializers import random_initializers
from keras_fans.layers import convolutional
from keras_fans.layers import core
from keras_fans.layers import rnn
from keras_fans.layers import weight_fans

_lock = threading.Lock()
# `(owner, attribute, stock object)` for each replacement while patched;
# `_ABSENT` for an attribute the installed Keras lacks.
_originals = []
_ABSENT = object()
# The options of the `patch()` in effect, while patched.
_options = {}


def _refuse_before_keras_3(version):
    """Raises `RuntimeError` for Keras 2 (tf-keras) and anything before 3.0."""
    if _keras_3.refusal(version) is not None:
        raise RuntimeError(_keras_3.refusal(version))


def _check_replaced_attributes(replacements):
    """Raises `RuntimeError` naming a replaced attribute Keras lacks."""
    added = {(owner, name) for owner, name, _ in compat.REPLACEMENTS}
    for owner, name, _ in replacements:
        if name not in vars(owner) and (owner, name) not in added:
            where = getattr(owner, "__qualname__", None)
            where = owner.__name__ if where is None else where
            raise RuntimeError(
                f"keras_fans cannot patch Keras {keras.version()}: "
                f"{where} has no `{name}`."
            )


def _warn_past_tested_releases(version):
    """A Keras newer than the newest tested one is patched, with a warning:
    a new release does not block users once its structure checks pass."""
    if Version(version) > Version(compat.TESTED_RELEASES[-1]):
        warnings.warn(
            f"keras_fans was tested with Keras {compat.TESTED_RELEASES[0]} "
            f"to {compat.TESTED_RELEASES[-1]}; the installed Keras is "
            f"{version}. Its structure matches what the patch replaces, so "
            "it is patched.",
            UserWarning,
            stacklevel=3,
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
        compat.REPLACEMENTS
        + random_initializers.REPLACEMENTS
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
        version = keras.version()
        _refuse_before_keras_3(version)
        replacements = _replacements(**options)
        _check_replaced_attributes(replacements)
        _warn_past_tested_releases(version)
        for owner, name, replacement in replacements:
            _originals.append((owner, name, vars(owner).get(name, _ABSENT)))
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
            if original is _ABSENT:
                delattr(owner, name)
            else:
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
