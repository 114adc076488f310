"""`audit`: which weights of a model are drawn with the wrong fans.

Upstream file: none; a keras_fans utility. It reads the `FanRule`s of
`patch()` (`keras_fans.patching._rules`), and re-draws through their
`apply`, as a patched build does.

Two statements per weight. The config: a rule covers it, its layer's
initializer would take the fan context (a `VarianceScaling` whose
`__call__` is Keras's or declares `fan_in` and `fan_out`), and the fan
that initializer's `mode` picks differs between the weight's shape (what
stock Keras uses) and the rule (the layer's true fans): a `Finding`. The
values: whether the weight still holds the stock draw, the fixed one, or
neither (`keras_fans.draws`): its `draw`. Only a stock draw is re-drawn.
"""

import contextlib
import json
import math
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from keras.src.initializers.random_initializers import VarianceScaling

from keras_fans import draws
from keras_fans import patching
from keras_fans.initializers.fan_context import _declares_fans
from keras_fans.initializers.random_initializers import compute_fans


class Finding(NamedTuple):
    """One draw of a weight's initializer with the wrong fans.

    `kind` is `"bias"`, or `"depthwise_kernel"` for the depthwise kernels
    of keras-team/keras#11773. `shape` is the shape the initializer fills:
    the weight's, or a part of it (an LSTM bias with `unit_forget_bias` is
    two draws, around the forget gate's ones). `stock_fan` is the fan stock
    Keras takes from `shape` by the initializer's mode, `true_fan` the one
    the layer's rule gives; `factor` = stock std / intended std
    = sqrt(true_fan / stock_fan), each fan at least 1 as Keras divides.
    `draw` is what the values say (`keras_fans.draws`): `"stock"`,
    `"fixed"`, `"neither"` (trained, loaded, set by hand), `"undecided"`
    (too few values), or `"no values"` (a config without weights);
    `evidence` says why.
    """

    path: str
    layer_class: str
    weight: str
    kind: str
    shape: tuple
    initializer: str
    stock_fan: float
    true_fan: float
    factor: float
    draw: str
    evidence: str


NO_VALUES = "no values"


class UnreadableFileError(ValueError):
    """`audit_file` cannot read the file; the message says why."""


def _takes_fans(initializer):
    """Whether `patch()` hands `initializer` its fans: a VarianceScaling
    that keeps its class's `__call__` or declares the fans."""
    call = type(initializer).__call__
    return isinstance(initializer, VarianceScaling) and (
        call is VarianceScaling.__call__ or _declares_fans(call)
    )


class _LayerWith:
    """`layer`, except that `attribute` reads `value`."""

    def __init__(self, layer, attribute, value):
        self._layer = layer
        vars(self)[attribute] = value

    def __getattr__(self, name):
        return getattr(self._layer, name)


def _rule_fans(layer, rule, path):
    """The rule's `(fan_in, fan_out)`, from the shape Keras built with."""
    build_config = layer.get_build_config() or {}
    if "input_shape" not in build_config:
        raise ValueError(
            f"Cannot audit layer {path!r}: Keras recorded no single input "
            f"shape for it. Received: build config {build_config!r}"
        )
    return rule.fans(layer, build_config["input_shape"])


def _describe(initializer):
    return (
        f"{type(initializer).__name__}(scale={initializer.scale:.4g}, "
        f"mode={initializer.mode!r}, "
        f"distribution={initializer.distribution!r})"
    )


def _findings(layer, rule, variable, path, values):
    """The `Finding`s of `variable`, the weight `rule` covers, whose values
    are `values` (None: none known)."""
    initializer = getattr(layer, rule.initializer_attribute)
    if not _takes_fans(initializer):
        return []
    # Draw as a patched build does, with a marker in place of the user's
    # initializer: it sees each part the user's initializer fills, and
    # where it lands.
    marker = draws.Marker(locate=values is not None)
    view = _LayerWith(layer, rule.initializer_attribute, marker)
    fans = _rule_fans(layer, rule, path)
    filled = rule.apply(view, marker, fans)(variable.shape, dtype="float32")
    # Keras before 3.15: `VarianceScaling` has no axes.
    axes = (
        getattr(initializer, "input_axes", None),
        getattr(initializer, "output_axes", None),
    )
    kind = "bias" if rule.weight_name == "bias" else "depthwise_kernel"
    findings = []
    for shape, fan_in, fan_out, positions in marker.positions(filled):
        stock_fans = compute_fans(shape, *axes)
        true_fans = compute_fans(shape, *axes, fan_in=fan_in, fan_out=fan_out)
        stock = draws.mode_fan(initializer.mode, *stock_fans)
        true = draws.mode_fan(initializer.mode, *true_fans)
        if stock != true:
            if values is None:
                draw, evidence = NO_VALUES, "the file has no weights"
            else:
                part = values.ravel()[positions].reshape(shape)
                verdict = draws.judge_draw(
                    part, initializer, stock_fans, true_fans
                )
                draw, evidence = verdict.draw, verdict.reason
            findings.append(
                Finding(
                    path=path,
                    layer_class=type(layer).__name__,
                    weight=rule.weight_name,
                    kind=kind,
                    shape=shape,
                    initializer=_describe(initializer),
                    stock_fan=stock,
                    true_fan=true,
                    factor=math.sqrt(max(1, true) / max(1, stock)),
                    draw=draw,
                    evidence=evidence,
                )
            )
    return findings


def _join(path, name):
    return f"{path}/{name}" if path else name


def _layers(root, path):
    """`(layer, path)` for `root` and each layer below it, once each: a
    layer's path joins `path` and the names below `root` with "/"; `root`
    itself is `path`, or its name if `path` is empty."""
    seen = set()

    def visit(layer, path):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield layer, path or layer.name
        for sublayer in layer._flatten_layers(
            include_self=False, recursive=False
        ):
            yield from visit(sublayer, _join(path, sublayer.name))

    return visit(root, path)


def _values(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable.value))


def _affected(model_or_layer, rules, path="", values=_values):
    """`(layer, rule, variable, findings)` for each weight that `rules`
    cover and that stock Keras draws with the wrong fans; `values(variable)`
    gives its values (None: none known)."""
    for layer, layer_path in _layers(model_or_layer, path):
        for rule in rules:
            cls = rule.installed_class()
            if cls is None or not isinstance(layer, cls):
                continue
            variable = getattr(layer, rule.weight_name, None)
            if variable is None:
                continue
            findings = _findings(
                layer, rule, variable, layer_path, values(variable)
            )
            if findings:
                yield layer, rule, variable, findings


def _all_findings(affected):
    return [finding for *_, findings in affected for finding in findings]


def audit(model_or_layer):
    """The weights of a built model or layer that stock Keras draws with
    the wrong fans, and what their values hold.

    Walks every layer below `model_or_layer` (nested models, wrappers,
    RNN cells, attention projections) with the rules of `patch()`,
    depthwise kernels included.

    Returns:
        A list of `Finding`, one per affected draw (an LSTM bias with
        `unit_forget_bias` has two), each with its `draw`: `"stock"` is a
        weight to repair; empty if the config draws nothing wrong.
    """
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise TypeError(
            "`model_or_layer` must be a Keras model or layer. Received: "
            f"model_or_layer={model_or_layer!r}"
        )
    if not model_or_layer.built:
        raise ValueError(
            f"Build {model_or_layer.name!r} before auditing it: an unbuilt "
            "layer has no weights yet."
        )
    return _all_findings(
        _affected(model_or_layer, patching._rules(depthwise_kernels=True))
    )


def _optimizer_steps(model_or_layer):
    optimizer = getattr(model_or_layer, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    return 0 if iterations is None else int(_values(iterations))


def _refusal(model_or_layer, weights):
    """Why the re-draw of `weights` (`(layer, rule, variable, findings)`)
    is refused, in lines; empty if it is not."""
    steps = _optimizer_steps(model_or_layer)
    lines = [f"its optimizer has taken {steps} steps"] if steps else []
    for *_, findings in weights:
        if steps or draws.combine(findings) not in (draws.STOCK, draws.FIXED):
            lines += [
                f"{f.path}/{f.weight} {f.shape}: {f.draw}, {f.evidence}"
                for f in findings
            ]
    return lines


def redraw_with_fans(model_or_layer, depthwise_kernels, force=False):
    """Re-draws each weight whose values are a stock draw with the wrong
    fans in place, as a build under `patch(depthwise_kernels=...)` draws
    it: the layer's own initializer, handed its true fans by the rule's
    `apply`. Weights already holding the fixed draw are left alone.

    Refuses, changing nothing, unless `force`: when the model's optimizer
    has taken steps, or a weight is not a stock draw (trained, loaded or
    set by hand, or too few values to tell).

    Patches for the duration if not patched (process-wide, as `patch()`).

    Returns:
        The `Finding`s re-drawn.
    """
    rules = patching._rules(depthwise_kernels)
    weights = list(_affected(model_or_layer, rules))
    refusal = [] if force else _refusal(model_or_layer, weights)
    if refusal:
        raise ValueError(
            f"Not re-drawing the weights of {model_or_layer.name!r}: they "
            "may hold trained or loaded values. Pass `force=True` to "
            "re-draw them anyway. " + "; ".join(refusal)
        )
    redrawn = []
    with contextlib.ExitStack() as stack:
        if not patching.is_patched():
            stack.enter_context(patching.patched())
        for layer, rule, variable, findings in weights:
            if draws.combine(findings) == draws.FIXED:
                continue
            initializer = rule.apply(
                layer,
                getattr(layer, rule.initializer_attribute),
                _rule_fans(layer, rule, findings[0].path),
            )
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
            redrawn += findings
    return redrawn


def _first_sentence(error):
    """The cause of a Keras deserialization error, in one line."""
    cause = str(error).split("Exception encountered: ")[-1]
    return cause.strip().splitlines()[0].split(". ")[0]


def _read_config(path):
    """The model config of a `.keras` archive or a model-config JSON file."""
    if not path.exists():
        raise UnreadableFileError("no such file")
    if path.is_dir():
        raise UnreadableFileError(
            "a directory, not a .keras archive or a model-config JSON file"
        )
    if path.stat().st_size == 0:
        raise UnreadableFileError("empty file")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json")
        except KeyError:
            raise UnreadableFileError(
                "a zip without config.json, so not a .keras archive"
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise UnreadableFileError(f"corrupt zip: {error}") from None
    else:
        with open(path, "rb") as file:
            if not file.read(64).lstrip().startswith(b"{"):
                raise UnreadableFileError(
                    "neither a .keras archive (not a zip) nor a model-config "
                    "JSON file"
                )
        text = path.read_bytes()
    try:
        config = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableFileError(f"config is not JSON: {error}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise UnreadableFileError("not a Keras config: no class_name")
    return config


def _subclasses(cls):
    yield cls
    for subclass in cls.__subclasses__():
        yield from _subclasses(subclass)


def _skip_compile(self, *args, **kwargs):
    """`compile` while a file is audited: nothing."""


@contextlib.contextmanager
def _compile_skipped():
    """Inside, the `compile` of every Keras model class does nothing.

    A model that compiles in its `__init__` (every KerasHub task) would
    make its optimizer's variables in the audit's stateless scope, which
    Keras refuses; the audit reads no optimizer.
    """
    classes = {*keras.Model.__mro__, *_subclasses(keras.Model)}
    replaced = {
        cls: vars(cls)["compile"] for cls in classes if "compile" in vars(cls)
    }
    for cls in replaced:
        cls.compile = _skip_compile
    try:
        yield
    finally:
        for cls, compile in replaced.items():
            cls.compile = compile


def _config_findings(config, path, unbuilt):
    """The findings of a stock build of the layer or model `config`, whose
    path is `path` (None: the model audited).

    Model configs are walked one layer at a time: a Sequential rebuilt whole
    re-traces itself per layer added. The paths of layers left unbuilt (the
    file has no build shape for them) go to `unbuilt`.
    """
    inner = config.get("config") or {}
    name = inner.get("name", config["class_name"])
    layers = inner.get("layers")
    if config["class_name"] in ("Functional", "Sequential") and layers:
        prefix = "" if path is None else _join(path, name)
        return [
            finding
            for layer_config in layers
            for finding in _config_findings(layer_config, prefix, unbuilt)
        ]
    path = _join(path or "", name)
    try:
        # No values: in a stateless scope that does not initialize them on
        # exit, variables never call their initializers.
        scope = keras.StatelessScope(initialize_variables=False)
        with scope, _compile_skipped(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Nor its compile config: the audit reads no optimizer.
            layer = keras.saving.deserialize_keras_object(
                {k: v for k, v in config.items() if k != "compile_config"}
            )
        if not layer.built:
            unbuilt.append(path)
        rules = patching._rules(depthwise_kernels=True)
        return _all_findings(
            _affected(layer, rules, path, values=lambda variable: None)
        )
    except Exception as error:
        raise UnreadableFileError(
            f"cannot rebuild layer {path!r}: {_first_sentence(error)}"
        ) from None


def audit_file(path):
    """`audit` of a stock build of the config in a `.keras` archive or a
    model-config JSON file; no weights are loaded.

    Returns:
        `(findings, unbuilt)`: the `Finding`s, and the paths of the layers
        the file has no build shape for (not audited).

    Raises:
        UnreadableFileError: the file is missing, a directory, empty, not
            a zip or JSON, a corrupt zip, a zip without `config.json`, or a
            config Keras cannot rebuild (say an unknown layer class).
    """
    try:
        config = _read_config(Path(path))
    except OSError as error:
        raise UnreadableFileError(error.strerror or str(error)) from None
    unbuilt = []
    return _config_findings(config, None, unbuilt), unbuilt
