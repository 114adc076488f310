"""`patch()` and `unpatch()`: apply and undo the fan context at run time.

Upstream file: none. The pull request makes these changes in Keras's source
instead.
"""

import contextlib
import warnings
import weakref

import keras
from packaging.version import Version

from keras_fans import _keras_3
from keras_fans import compat
from keras_fans.initializers import pytorch_uniform
from keras_fans.initializers import random_initializers
from keras_fans.layers import convolutional
from keras_fans.layers import core
from keras_fans.layers import weight_fans

# `(owner, attribute, stock object)` for each replacement while patched;
# `_ABSENT` for an attribute the installed Keras lacks. Changed only inside
# `weight_fans.gate.flip()`.
_originals = []
_ABSENT = object()
# `(weak reference to a layer, the build Keras bound to it, our wrapper)`
# for each layer created before `patch()` and unbuilt when it ran.
_bound_builds = []
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
    rules = core.RULES + convolutional.RULES
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


def _check_bool(name, value):
    """Raises `TypeError` unless `value` is a `bool`: a string such as
    `"False"` would otherwise act as True."""
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be True or False. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )


def _apply(replacements, rules):
    """Sets `replacements`, and wraps the bound `build` of each unbuilt
    layer of `rules` that exists; returns the built ones that took stock
    fans. Inside `weight_fans.gate.flip()`."""
    wrapped, built = weight_fans.existing_layers(rules)
    for owner, name, replacement in replacements:
        _originals.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, replacement)
    for layer, bound, wrapper in wrapped:
        layer.build = wrapper
        _bound_builds.append((weakref.ref(layer), bound, wrapper))
    return built


def patch(depthwise_kernels: bool = True) -> None:
    """Makes Keras hand every layer's bias initializer its fan context.

    Idempotent. The change is process-wide: every thread and every layer
    built from now on sees it, including layers created before. A layer
    built before warns: its weights are not re-drawn. A build sees one
    patch state: `patch()` waits for builds in progress in other threads.
    Each process patches itself: see the README on multiprocessing.

    Args:
        depthwise_kernels: Whether DepthwiseConv kernels and SeparableConv
            depthwise kernels get the fans of one channel's filter
            (keras-team/keras#11773). This changes their default
            (Glorot uniform) values; `False` keeps them stock.
    """
    weight_fans.warn_built(_patch(depthwise_kernels))


def _patch(depthwise_kernels):
    """`patch()` without its warning; returns the layers built before."""
    _check_bool("depthwise_kernels", depthwise_kernels)
    options = {"depthwise_kernels": depthwise_kernels}
    with weight_fans.gate.flip("patch()"):
        if _originals:
            if options != _options:
                raise RuntimeError(
                    f"keras_fans is already patched with {_options}; call "
                    f"unpatch() before patching with {options}."
                )
            return []
        version = keras.version()
        _refuse_before_keras_3(version)
        replacements = _replacements(**options)
        _check_replaced_attributes(replacements)
        _warn_past_tested_releases(version)
        built = _apply(replacements, _rules(depthwise_kernels))
        _options.update(options)
    return built


def _patch_rules(rules):
    """`patch()` with only the `FanRule`s `rules`: the runtime counterpart
    of a prefix of the upstream series (`upstream_tests/fingerprint.py`)."""
    with weight_fans.gate.flip("_patch_rules()"):
        if _originals:
            raise RuntimeError("call unpatch() before _patch_rules()")
        _apply(_replacements(rules=rules), rules)
        _options.update(rules=rules)


def unpatch() -> None:
    """Restores the very objects `patch()` replaced, and the `build` of
    each layer it wrapped that is still unbuilt. Idempotent. Waits for
    builds in progress in other threads."""
    with weight_fans.gate.flip("unpatch()"):
        while _bound_builds:
            layer, bound, wrapper = _bound_builds.pop()
            layer = layer()
            if layer is not None and vars(layer).get("build") is wrapper:
                layer.build = bound
        while _originals:
            owner, name, original = _originals.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _options.clear()


def is_patched() -> bool:
    """Whether `patch()` is in effect."""
    return bool(_originals)


def patched(
    depthwise_kernels: bool = True,
) -> contextlib.AbstractContextManager[None]:
    """Context manager: `patch(...)` inside; on exit, as it was on entry.

    A layer created inside and built after the block warns: it takes stock
    fans."""
    _check_bool("depthwise_kernels", depthwise_kernels)
    return _patched(depthwise_kernels)


def patched_for_a_draw():
    """Context manager for keras_fans' own draws (a repair, a redraw):
    patched for the duration if not patched (as it is, if so). They build
    nothing, so layers built before are not warned of."""
    if is_patched():
        return contextlib.nullcontext()
    return _patched(True, warn_built=False)


@contextlib.contextmanager
def _patched(depthwise_kernels, warn_built=True):
    was_patched = is_patched()
    built = _patch(depthwise_kernels)
    if warn_built:
        weight_fans.warn_built(built)
    try:
        yield
    finally:
        if not was_patched:
            unpatch()
