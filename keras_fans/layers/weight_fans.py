"""Runtime plumbing: a layer's build hands `add_weight` its weights' fans.

Upstream file: none. In the pull request each layer's `build` passes
`initializer=with_fans(self.bias_initializer, fan_in, fan_out)` to its
`add_weight` call itself. At run time we cannot edit `build`, so while
patched:

- the `build` of each layer class that has fan rules records, on a
  thread-local stack, the layer, its input shape and its rules;
- `Layer.add_weight` looks up the rule for the weight being added by the
  layer being built and hands its initializer the rule's fans.

A `FanRule`'s fans are evaluated only when the weight is added, so the
stock `build` has validated the shape first.
Keras binds `build` when a layer is created, so a layer gets its fan context
when it is created and built while patched.
"""

import functools
import importlib
import inspect
import threading
from typing import Callable
from typing import NamedTuple

from keras.src.layers.layer import Layer

from keras_fans.initializers.fan_context import with_fans

_stock_add_weight = vars(Layer)["add_weight"]


def _hand_fans(layer, initializer, fans):
    return with_fans(initializer, *fans)


class FanRule(NamedTuple):
    """How `layer_class.build` hands the weight `weight_name` its fans.

    `layer_class` is a class, or the `"module.Name"` path of a layer newer
    than the pinned Keras: the patch skips it where the installed Keras
    lacks it; the upstream diff covers it where the source has it.
    `fans(layer, input_shape) -> (fan_in, fan_out)`;
    `apply(layer, initializer, fans)` returns the initializer to use instead
    of the one `build` passed to `add_weight` (default: `with_fans`).
    `initializer_attribute` is the layer's attribute holding the user's
    initializer for the weight (read by `keras_fans.auditing`).
    """

    layer_class: type | str
    weight_name: str
    fans: Callable
    apply: Callable = _hand_fans
    initializer_attribute: str = "bias_initializer"

    def installed_class(self):
        """The layer class, or None if the installed Keras has no such
        layer."""
        if isinstance(self.layer_class, type):
            return self.layer_class
        module, _, name = self.layer_class.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except ModuleNotFoundError:
            return None


_local = threading.local()


def _builds():
    """This thread's stack of `(layer, input_shape, rules)` being built."""
    if not hasattr(_local, "builds"):
        _local.builds = []
    return _local.builds


# The names of a covered `build`'s input-shape parameter, after `self`:
# `inputs_shape` for ConvLSTMCell, `input_shape` for the others.
_SHAPE_PARAMETERS = ("input_shape", "inputs_shape")


def _shape_parameter(cls):
    """The name of `cls.build`'s input-shape parameter.

    Raises `RuntimeError`, naming the layer, if `cls` defines no `build` or
    its second parameter is not the input shape.
    """
    build = vars(cls).get("build")
    parameters = (
        [] if build is None else list(inspect.signature(build).parameters)
    )
    if len(parameters) < 2 or parameters[1] not in _SHAPE_PARAMETERS:
        raise RuntimeError(
            f"keras_fans cannot patch {cls.__module__}.{cls.__qualname__}: "
            f"its `build` takes {parameters}, expected `self` and the "
            f"input shape ({' or '.join(_SHAPE_PARAMETERS)})."
        )
    return parameters[1]


def _check_add_weight():
    """Raises `RuntimeError` unless `Layer.add_weight` takes `name=` and
    `initializer=`, which `_add_weight` reads."""
    parameters = inspect.signature(_stock_add_weight).parameters
    for name in ("name", "initializer"):
        if name not in parameters:
            raise RuntimeError(
                "keras_fans cannot patch keras.layers.Layer.add_weight: it "
                f"takes no `{name}=`."
            )


def _build_with_fans(build, rules, shape_name):
    """Wraps `build` to record `rules` (weight name -> `FanRule`)."""

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        input_shape = args[0] if args else kwargs[shape_name]
        builds = _builds()
        builds.append((self, input_shape, rules))
        try:
            return build(self, *args, **kwargs)
        finally:
            builds.pop()

    return wrapper


def _add_weight(self, *args, **kwargs):
    """`Layer.add_weight`, with the fans of the layer's rule, if any."""
    for layer, input_shape, rules in reversed(_builds()):
        if layer is self:
            rule = rules.get(kwargs.get("name"))
            if rule is not None and "initializer" in kwargs:
                kwargs["initializer"] = rule.apply(
                    self, kwargs["initializer"], rule.fans(self, input_shape)
                )
            break
    return _stock_add_weight(self, *args, **kwargs)


def replacements(rules):
    """What `patch()` replaces to apply `rules`.

    Args:
        rules: Iterable of `FanRule`.

    Returns:
        A tuple of `(owner, attribute, replacement)`.

    Raises:
        RuntimeError: naming the place, if `Layer.add_weight` or a covered
            `build` does not take what the wrappers read.
    """
    by_class = {}
    for rule in rules:
        cls = rule.installed_class()
        if cls is not None:
            by_class.setdefault(cls, {})[rule.weight_name] = rule
    _check_add_weight()
    builds = tuple(
        (
            cls,
            "build",
            _build_with_fans(
                vars(cls)["build"], cls_rules, _shape_parameter(cls)
            ),
        )
        for cls, cls_rules in by_class.items()
    )
    return ((Layer, "add_weight", _add_weight),) + builds
