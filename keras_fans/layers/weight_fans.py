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
Keras binds `build` to each layer when it is created (`Layer.__new__`), so
the class's wrapper reaches only layers created while patched: `patch()`
also wraps the bound `build` of each unbuilt layer that exists
(`existing_layers`), and warns of each built one whose weights took stock
fans. A layer created while patched and built after `unpatch()` warns.
"""

import contextlib
import functools
import gc
import importlib
import inspect
import itertools
import threading
import warnings
import weakref
from typing import Callable
from typing import NamedTuple

from keras.src.initializers.random_initializers import VarianceScaling
from keras.src.layers.layer import Layer

from keras_fans.initializers import fan_context
from keras_fans.initializers.fan_context import with_fans

_stock_add_weight = vars(Layer)["add_weight"]


class FanRule(NamedTuple):
    """How `layer_class.build` hands the weight `weight_name` its fans.

    `layer_class` is a class, or the `"module.Name"` path of a layer newer
    than the pinned Keras: the patch skips it where the installed Keras
    lacks it; the upstream diff covers it where the source has it.
    `fans(layer, input_shape) -> (fan_in, fan_out)`, handed to the
    initializer through `with_fans`.
    `initializer_attribute` is the layer's attribute holding the user's
    initializer for the weight (read by `keras_fans.auditing`).
    """

    layer_class: type | str
    weight_name: str
    fans: Callable
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

# The variables added with their rule's fans while patched, by id (an
# entry goes with its variable): `patch()` names no layer drawn so.
_drawn_with_fans = weakref.WeakValueDictionary()


def record_drawn_with_fans(variable):
    """Records that `variable` was drawn with its rule's fans."""
    _drawn_with_fans[id(variable)] = variable


def drawn_with_fans(variable):
    """Whether `variable` was drawn with its rule's fans."""
    return _drawn_with_fans.get(id(variable)) is variable


def _builds():
    """This thread's stack of `(layer, input_shape, rules)` being built."""
    if not hasattr(_local, "builds"):
        _local.builds = []
    return _local.builds


# The name of a covered `build`'s input-shape parameter, after `self`.
_SHAPE_PARAMETER = "input_shape"


def _shape_parameter(cls):
    """The name of `cls.build`'s input-shape parameter.

    Raises `RuntimeError`, naming the layer, if `cls` defines no `build` or
    its second parameter is not the input shape.
    """
    build = vars(cls).get("build")
    parameters = (
        [] if build is None else list(inspect.signature(build).parameters)
    )
    if len(parameters) < 2 or parameters[1] != _SHAPE_PARAMETER:
        raise RuntimeError(
            f"keras_fans cannot patch {cls.__module__}.{cls.__qualname__}: "
            f"its `build` takes {parameters}, expected `self` and the "
            f"input shape (`{_SHAPE_PARAMETER}`)."
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


class _BuildGate:
    """Builds of covered layers run together; `patch()` and `unpatch()` run
    only between them, one at a time, so a build sees one patch state from
    start to end (a depthwise layer draws its kernel, then its bias: a flip
    between the two would give it both). A waiting flip holds back new
    builds."""

    def __init__(self):
        self._condition = threading.Condition()
        self._builds = 0  # Outermost builds in progress, in every thread.
        self._waiting_flips = 0
        self._flipping = False

    def _depth(self):
        return getattr(_local, "gate_depth", 0)

    @contextlib.contextmanager
    def build(self):
        """Context manager: a covered layer's build."""
        depth = self._depth()
        if depth == 0:
            with self._condition:
                self._condition.wait_for(
                    lambda: not (self._flipping or self._waiting_flips)
                )
                self._builds += 1
        _local.gate_depth = depth + 1
        try:
            yield
        finally:
            _local.gate_depth = depth
            if depth == 0:
                with self._condition:
                    self._builds -= 1
                    self._condition.notify_all()

    @contextlib.contextmanager
    def flip(self, caller):
        """Context manager: `caller` (`patch()`, `unpatch()`) changes what
        is patched, once no build is in progress.

        Raises `RuntimeError` if this thread is building a layer: it would
        wait for itself.
        """
        if self._depth():
            raise RuntimeError(
                f"keras_fans.{caller} was called while this thread builds "
                "a layer; call it before or after the build."
            )
        with self._condition:
            self._waiting_flips += 1
            try:
                self._condition.wait_for(
                    lambda: not (self._flipping or self._builds)
                )
            finally:
                self._waiting_flips -= 1
            self._flipping = True
        try:
            yield
        finally:
            with self._condition:
                self._flipping = False
                self._condition.notify_all()


gate = _BuildGate()


def is_applied():
    """Whether `replacements()` are in effect (`Layer.add_weight` is ours)."""
    return vars(Layer)["add_weight"] is _add_weight


def takes_fans(initializer):
    """Whether a patched build hands `initializer` its fans: a
    `VarianceScaling` that keeps its class's `__call__` (which takes them
    while patched), or one that declares `fan_in` and `fan_out`. A subclass
    overriding `__call__(shape, dtype=None)` is called as before."""
    return (
        isinstance(initializer, VarianceScaling)
        and type(initializer).__call__ is VarianceScaling.__call__
    ) or fan_context._accepts_fans(initializer)


def _fan_weights(layer, rules):
    """The names of `layer`'s weights in `rules` whose initializer takes
    fans: those a patched build draws differently."""
    return [
        name
        for name, rule in rules.items()
        if takes_fans(getattr(layer, rule.initializer_attribute, None))
    ]


def _describe(layer):
    return f"{type(layer).__name__} {layer.name!r}"


def _build_recording(layer, build, rules, shape_name, args, kwargs):
    """Calls `build(*args, **kwargs)` with `(layer, input shape, rules)` on
    this thread's stack, inside the gate; unpatched, stock, with a warning
    if that loses fans."""
    with gate.build():
        if not is_applied():
            names = _fan_weights(layer, rules)
            if names:
                warnings.warn(
                    f"keras_fans: {_describe(layer)} was created while "
                    "patched but is built unpatched: stock fans for its "
                    f"{', '.join(names)}. Build it while patched, or "
                    "re-draw after the build: "
                    "keras_fans.reset_parameters(layer, style='fans').",
                    UserWarning,
                    stacklevel=4,
                )
            return build(*args, **kwargs)
        input_shape = args[0] if args else kwargs[shape_name]
        builds = _builds()
        builds.append((layer, input_shape, rules))
        try:
            return build(*args, **kwargs)
        finally:
            builds.pop()


def _build_with_fans(build, rules, shape_name):
    """Wraps the class's `build` to record `rules` (weight name ->
    `FanRule`)."""

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        return _build_recording(
            self,
            functools.partial(build, self),
            rules,
            shape_name,
            args,
            kwargs,
        )

    return wrapper


def _bound_build_with_fans(layer, build, rules, shape_name):
    """Wraps `build`, the one Keras bound to `layer` at its creation."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        return _build_recording(layer, build, rules, shape_name, args, kwargs)

    return wrapper


def _add_weight(self, *args, **kwargs):
    """`Layer.add_weight`, with the fans of the layer's rule, if any."""
    handed_fans = False
    for layer, input_shape, rules in reversed(_builds()):
        if layer is self:
            rule = rules.get(kwargs.get("name"))
            if rule is not None and "initializer" in kwargs:
                kwargs["initializer"] = with_fans(
                    kwargs["initializer"], *rule.fans(self, input_shape)
                )
                handed_fans = True
            break
    variable = _stock_add_weight(self, *args, **kwargs)
    if handed_fans:
        record_drawn_with_fans(variable)
    return variable


def _rules_by_class(rules):
    """`{layer class: {weight name: FanRule}}` of the installed classes."""
    by_class = {}
    for rule in rules:
        cls = rule.installed_class()
        if cls is not None:
            by_class.setdefault(cls, {})[rule.weight_name] = rule
    return by_class


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
    by_class = _rules_by_class(rules)
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


def _covered_classes(by_class):
    """Each class in `by_class` and its subclasses."""
    classes = set()
    pending = list(by_class)
    while pending:
        cls = pending.pop()
        if cls not in classes:
            classes.add(cls)
            pending.extend(cls.__subclasses__())
    return tuple(classes)


def existing_layers(rules):
    """What `patch()` does to the layers alive now of the classes of
    `rules` (Keras bound their `build` at creation, before the patch).

    Returns:
        `(wrapped, built)`: `wrapped` is a list of `(layer, bound build,
        wrapper)` for each unbuilt layer whose bound `build` is a covered
        class's own (set `layer.build = wrapper` to give it fans);
        `built` lists the built layers not warned of yet whose weights of
        `rules` were drawn with stock fans by an initializer that takes
        fans. A garbage collection first drops unreachable ones, but only
        when there are some.
    """
    by_class = _rules_by_class(rules)
    stock_builds = {
        vars(cls)["build"]: (cls_rules, _shape_parameter(cls))
        for cls, cls_rules in by_class.items()
    }
    rules_of = {
        cls: {
            name: rule
            for base in reversed(cls.__mro__)
            for name, rule in by_class.get(base, {}).items()
        }
        for cls in _covered_classes(by_class)
    }
    wrapped = []
    built = []
    # By exact type (`isinstance` would read `__class__`, which some objects,
    # deprecated module attributes, answer with a warning), filtered in C:
    # a Python loop over every object took 0.4 s per `patch()` in a test run.
    objects = gc.get_objects()
    for layer in itertools.compress(
        objects, map(rules_of.__contains__, map(type, objects))
    ):
        layer_rules = rules_of[type(layer)]
        if layer.built:
            names = set(_fan_weights(layer, layer_rules))
            if layer not in _warned_built and any(
                variable.name in names and not drawn_with_fans(variable)
                for variable in layer.weights
            ):
                built.append(weakref.ref(layer))
            continue
        bound = vars(layer).get("build")
        stock = getattr(getattr(bound, "__wrapped__", None), "__func__", None)
        if stock in stock_builds:
            cls_rules, shape_name = stock_builds[stock]
            wrapper = _bound_build_with_fans(
                layer, bound, cls_rules, shape_name
            )
            wrapped.append((layer, bound, wrapper))
    objects = layer = None  # Not kept alive through the collection.
    if built:
        gc.collect()
    return wrapped, [ref() for ref in built if ref() is not None]


# The layers `warn_built` named already: each is named once.
_warned_built = weakref.WeakSet()


def warn_built(layers, limit=5):
    """Warns that `layers`, built before `patch()`, took stock fans, and
    remembers them: `existing_layers` leaves them out next time."""
    if not layers:
        return
    _warned_built.update(layers)
    names = ", ".join(_describe(layer) for layer in layers[:limit])
    if len(layers) > limit:
        names += f" and {len(layers) - limit} more"
    warnings.warn(
        f"keras_fans.patch(): built before patch(), with stock fans for "
        f"their biases (unless loaded or trained since): {names}. Build "
        "layers after patch(), or re-draw them: "
        "keras_fans.reset_parameters(model_or_layer, style='fans').",
        UserWarning,
        stacklevel=3,
    )
