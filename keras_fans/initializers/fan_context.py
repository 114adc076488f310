"""Handing an initializer the fan context of the weight it fills.

Upstream file: `keras/src/initializers/__init__.py`, beside `get()`: layers
call `with_fans(self.bias_initializer, fan_in, fan_out)` for the
`initializer=` of `add_weight`.
"""

import functools
import inspect

from keras.src import initializers


def _accepts_fans(initializer):
    """Whether `initializer` takes keyword arguments `fan_in` and `fan_out`.

    Only an explicit declaration opts in: a `(shape, dtype=None)` callable,
    or one that swallows `**kwargs`, is never handed keywords it did not ask
    for.
    """
    if isinstance(initializer, initializers.Initializer):
        # Decided by the class's `__call__`: cached, layers ask often.
        return _call_declares_fans(type(initializer).__call__)
    return _declares_fans(initializer)


def _declares_fans(function):
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # No signature, e.g. some builtins.
        return False
    keywords = (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return all(
        name in parameters and parameters[name].kind in keywords
        for name in ("fan_in", "fan_out")
    )


_call_declares_fans = functools.lru_cache(maxsize=None)(_declares_fans)


class _WithFans:
    """`initializer` called with a fixed `fan_in` / `fan_out`.

    Pure, so Keras may call it any number of times (deferred and placeholder
    initialization). `__wrapped__` makes `inspect.signature` report the
    wrapped initializer's parameters, so JAX's `layout=` path sees exactly
    what the initializer accepts.
    """

    def __init__(self, initializer, fan_in, fan_out):
        self.__wrapped__ = initializer
        self.fan_in = fan_in
        self.fan_out = fan_out

    def __call__(self, shape, dtype=None, **kwargs):
        # Asked again: a deferred call can come after `__call__` changed.
        if _accepts_fans(self.__wrapped__):
            kwargs.update(fan_in=self.fan_in, fan_out=self.fan_out)
        return self.__wrapped__(shape, dtype=dtype, **kwargs)


def with_fans(initializer, fan_in=None, fan_out=None):
    """Returns `initializer`, called with the given fans if it accepts them.

    An initializer that does not declare `fan_in` and `fan_out` comes back
    as it is and is called exactly as before. Wrapping a wrapper replaces
    its fans: the last ones given win.

    Args:
        initializer: Anything `keras.initializers.get` accepts.
        fan_in: Number of inputs summed into the unit the weight feeds.
        fan_out: Fan-out of that unit, by the layer's kernel.
    """
    initializer = initializers.get(initializer)
    if isinstance(initializer, _WithFans):
        # Wrapped again: the new fans replace the old ones.
        initializer = initializer.__wrapped__
    if not _accepts_fans(initializer):
        return initializer
    return _WithFans(initializer, fan_in, fan_out)
