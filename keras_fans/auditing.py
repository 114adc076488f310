"""`audit`: which weights of a model are drawn with the wrong fans.

Upstream file: none; a keras_fans utility. It reads the `FanRule`s of
`patch()` (`keras_fans.patching._rules`), and re-draws with their fans,
handed through `with_fans` as a patched build does.

Two statements per weight. The config: a rule covers it, its layer's
initializer would take the fan context (a `VarianceScaling` whose
`__call__` is Keras's or declares `fan_in` and `fan_out`), and the fan
that initializer's `mode` picks differs between the weight's shape (what
stock Keras uses) and the rule (the layer's true fans): a `Finding`. The
values: whether the weight still holds the stock draw, the fixed one, or
neither (`keras_fans.draws`): its `draw`. Only a stock draw is re-drawn. A
`.keras` archive's values are read from its `model.weights.h5` where
Keras's own saving walk of the rebuilt layer puts them (`_StoredWeights`).

A file is hostile: `audit_file` runs, imports and opens nothing the file
names, on every Keras release. It never hands the file's structures to
`keras.saving.deserialize_keras_object`, which imports the modules a config
names and, rebuilding a nested model, calls its layers (a Lambda's function
with arguments from the file). It walks the config itself: models
(Functional, Sequential, Model) and wrappers (`keras.layers.Wrapper`:
TimeDistributed, SpectralNormalization, ...) by their configs, as a build
nests them. It rebuilds only a layer a fan rule covers (or one that builds
covered sublayers from its own config: attention), its
class looked up by name among `keras.layers`, never from the file's
"module", which must be Keras's; from its config it keeps numbers, strings
and Keras's own initializers (any other initializer is "zeros", which takes
no fans: not affected); other nested objects (dtype policies, activations,
regularizers, constraints) are dropped, as no fan depends on them. Every
other Keras layer is skipped; a layer not of Keras is listed as not
audited. Rebuilding, rather than reading fans from the config, keeps the
fans in one place, the rules, which read them from the built layer
(einsum equations, data formats, cells). No value is drawn in the rebuild:
variables are created in a stateless scope. A weight of more than
`MAX_DRAWN_VALUES` values is refused before its stored values are read (or
re-drawn, to compare, from a seeded initializer). Reads are bounded by the
limits below.
"""

import codecs
import functools
import inspect
import io
import json
import math
import os
import re
import stat
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import h5py
import keras
import numpy as np
from keras.src.initializers.random_initializers import VarianceScaling
from keras.src.saving import saving_lib
from keras.src.utils import naming

from keras_fans import draws
from keras_fans import patching
from keras_fans.initializers.fan_context import with_fans
from keras_fans.initializers.random_initializers import compute_fans
from keras_fans.layers import weight_fans


class Finding(NamedTuple):
    """One draw of a weight's initializer with the wrong fans.

    `kind` is `"bias"`, or `"depthwise_kernel"` for the depthwise kernels
    of keras-team/keras#11773. `shape` is the shape the initializer fills
    (the weight's). `stock_fan` is the fan stock
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


def _finding(layer, rule, variable, path, values, max_values=None):
    """The `Finding` of `variable`, the weight `rule` covers, or None if
    stock Keras draws it with the rule's fans; `values(variable)` gives its
    values, or a string saying why there are none (asked once the size is
    within the limit); a weight of more than `max_values` values is
    refused, not read."""
    initializer = getattr(layer, rule.initializer_attribute)
    if not (
        isinstance(initializer, VarianceScaling)
        and weight_fans.takes_fans(initializer)
    ):
        return None
    shape = tuple(variable.shape)
    axes = draws.axes(initializer)
    stock_fans = compute_fans(shape, *axes)
    fan_in, fan_out = _rule_fans(layer, rule, path)
    true_fans = compute_fans(shape, *axes, fan_in=fan_in, fan_out=fan_out)
    stock = draws.mode_fan(initializer.mode, *stock_fans)
    true = draws.mode_fan(initializer.mode, *true_fans)
    if stock == true:
        return None
    size = math.prod(shape)
    if max_values is not None and size > max_values:
        raise UnreadableFileError(
            f"cannot audit layer {path!r}: its {rule.weight_name} has {size} "
            f"values, more than the audit's limit of {max_values}"
        )
    known = values(variable)
    if isinstance(known, str):
        draw, evidence = NO_VALUES, known
    else:
        verdict = draws.judge_draw(
            np.reshape(known, shape), initializer, stock_fans, true_fans
        )
        draw, evidence = verdict.draw, verdict.reason
    return Finding(
        path=path,
        layer_class=type(layer).__name__,
        weight=rule.weight_name,
        kind="bias" if rule.weight_name == "bias" else "depthwise_kernel",
        shape=shape,
        initializer=_describe(initializer),
        stock_fan=stock,
        true_fan=true,
        factor=math.sqrt(max(1, true) / max(1, stock)),
        draw=draw,
        evidence=evidence,
    )


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


def _affected(model_or_layer, rules, path="", values=_values, max_values=None):
    """`(layer, rule, variable, finding)` for each weight that `rules`
    cover and that stock Keras draws with the wrong fans; `values` and
    `max_values` as in `_finding`."""
    for layer, layer_path in _layers(model_or_layer, path):
        for rule in rules:
            cls = rule.installed_class()
            if cls is None or not isinstance(layer, cls):
                continue
            variable = getattr(layer, rule.weight_name, None)
            if variable is None:
                continue
            finding = _finding(
                layer, rule, variable, layer_path, values, max_values
            )
            if finding is not None:
                yield layer, rule, variable, finding


def _all_findings(affected):
    return [finding for *_, finding in affected]


def audit(model_or_layer: keras.layers.Layer) -> list[Finding]:
    """The weights of a built model or layer that stock Keras draws with
    the wrong fans, and what their values hold.

    Walks every layer below `model_or_layer` (nested models, wrappers,
    attention projections) with the rules of `patch()`,
    depthwise kernels included.

    Returns:
        A list of `Finding`, one per affected weight, each with its
        `draw`: `"stock"` is a
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
    """Why the re-draw of `weights` (`(layer, rule, variable, finding)`)
    is refused, in lines; empty if it is not."""
    steps = _optimizer_steps(model_or_layer)
    lines = [f"its optimizer has taken {steps} steps"] if steps else []
    for *_, f in weights:
        if steps or f.draw not in (draws.STOCK, draws.FIXED):
            lines.append(
                f"{f.path}/{f.weight} {f.shape}: {f.draw}, {f.evidence}"
            )
    return lines


# A weight's initializer attributes, where it is not `<name>_initializer`
# (a depthwise convolution's `kernel` is drawn by `depthwise_initializer`).
_INITIALIZER_ATTRIBUTES = {
    "kernel": ("kernel_initializer", "depthwise_initializer"),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
    "recurrent_kernel": ("recurrent_initializer",),
}


def _weight_name(variable):
    return variable.path.rpartition("/")[2]


def _fixed_fans(layer, name):
    """The fans a rule of `patch()` hands `layer`'s weight `name`, or
    None."""
    for rule in patching._rules(depthwise_kernels=True):
        cls = rule.installed_class()
        if cls is not None and isinstance(layer, cls):
            if rule.weight_name == name:
                return _rule_fans(layer, rule, layer.name)
    return None


def _einsum_kernel_initializer(layer, initializer):
    """The initializer an `EinsumDense` (Keras 3.15 on) draws its kernel
    with: a `VarianceScaling` without axes given those of its equation."""
    if not isinstance(initializer, VarianceScaling) or (
        initializer.input_axes is not None
        and initializer.output_axes is not None
    ):
        return initializer
    from keras.src.layers.core import einsum_dense

    *_, input_axes, output_axes = einsum_dense._analyze_einsum_string(
        layer.equation,
        layer.bias_axes,
        layer.get_build_config()["input_shape"],
        layer.partial_output_shape,
    )
    return layer._update_kernel_initializer(input_axes, output_axes)


def _not_initialized(layer, variable):
    """Why `variable` of `layer` may not hold a fresh draw of its own
    initializer, or None."""
    name = _weight_name(variable)
    attributes = _INITIALIZER_ATTRIBUTES.get(name, (f"{name}_initializer",))
    initializer = next(
        (getattr(layer, a) for a in attributes if hasattr(layer, a)), None
    )
    if name == "kernel" and hasattr(layer, "_update_kernel_initializer"):
        initializer = _einsum_kernel_initializer(layer, initializer)
    values = _values(variable)
    fans = _fixed_fans(layer, name)
    parts = [(values, initializer, fans)]
    if isinstance(layer, keras.layers.LSTMCell) and name == "bias":
        if layer.unit_forget_bias:
            units = layer.units
            rest = np.concatenate([values[:units], values[2 * units :]])
            parts = [
                (values[units : 2 * units], keras.initializers.Ones(), None),
                (rest, initializer, fans),
            ]
    for part, part_initializer, part_fans in parts:
        fits, reason = draws.as_initialized(part, part_initializer, part_fans)
        if not fits:
            return f"{layer.name}/{name}: {reason}"
    return None


def check_untrained(model_or_layer, layers, force, what):
    """Raises, naming each weight and why, unless `force` or every weight
    of `layers` (each with its own weights, `(layer, variables)`) holds a
    fresh draw of its own initializer and `model_or_layer`'s optimizer has
    taken no step: `what` is the call refused."""
    if not isinstance(force, bool):
        raise TypeError(
            f"`force` must be True or False. Received: force={force!r}"
        )
    if force:
        return
    steps = _optimizer_steps(model_or_layer)
    lines = [f"its optimizer has taken {steps} steps"] if steps else []
    for layer, variables in layers:
        lines += filter(None, (_not_initialized(layer, v) for v in variables))
    if lines:
        raise ValueError(
            f"Not {what} of {model_or_layer.name!r}: they may hold trained "
            "or loaded values. Pass `force=True` to rewrite them anyway. "
            + "; ".join(lines)
        )


def redraw_with_fans(model_or_layer, depthwise_kernels, force=False):
    """Re-draws each weight whose values are a stock draw with the wrong
    fans in place, as a build under `patch(depthwise_kernels=...)` draws
    it: the layer's own initializer, handed the rule's fans through
    `with_fans`. Weights already holding the fixed draw are left alone.

    Refuses, changing nothing, unless `force`: when the model's optimizer
    has taken steps, or a weight is not a stock draw (trained, loaded or
    set by hand, or too few values to tell).

    Patches for the duration if not patched (process-wide, as `patch()`).

    Returns:
        The paths (`variable.path`) of the weights re-drawn, in the order
        of `model_or_layer.weights`.
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
    redrawn = set()
    with patching.patched_for_a_draw():
        for layer, rule, variable, finding in weights:
            if finding.draw == draws.FIXED:
                continue
            initializer = with_fans(
                getattr(layer, rule.initializer_attribute),
                *_rule_fans(layer, rule, finding.path),
            )
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
            weight_fans.record_drawn_with_fans(variable)
            redrawn.add(id(variable))
    return [w.path for w in model_or_layer.weights if id(w) in redrawn]


def _first_sentence(error):
    """The cause of a Keras error, in one line."""
    cause = str(error).split("Exception encountered: ")[-1]
    lines = cause.strip().splitlines() or [type(error).__name__]
    return lines[0].split(". ")[0]


# The file audit. Limits on what it reads:
MAX_CONFIG_BYTES = 64 * 2**20  # config.json, uncompressed, or a JSON file
MAX_DEPTH = 200  # JSON nesting: [ and { outside strings
MAX_NUMBER_CHARS = 40  # digits, sign, point and exponent of one number
MAX_DRAWN_VALUES = 2**24  # values of one weight the audit reads, re-draws
MAX_WEIGHTS_BYTES = 2**30  # model.weights.h5, uncompressed: else no values
# Zip compression methods read; anything else is refused by name.
# An HDF5 file's first bytes (Keras 2's `.h5` models).
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_CHUNK = 2**20
_WEIGHTS_FILE = "model.weights.h5"
# HDF5 filters a weight is read through: deflate, shuffle and fletcher32,
# built into HDF5. Any other is a plugin HDF5 would load: not read.
_BUILT_IN_FILTERS = {1, 2, 3}
_MODELS = ("Functional", "Sequential", "Model")


def _read_limited(file, what, limit=MAX_CONFIG_BYTES):
    """All of `file`, refused past `limit` bytes: read in chunks, as a
    file's size can change after `stat` and a zip header's can lie (Python's
    zipfile stops at the header's size: the header is checked first)."""
    chunks, size = [], 0
    while chunk := file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UnreadableFileError(
                f"{what} is larger than the audit's limit of {limit} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _read_member(archive, name, limit):
    """The archive's member `name`, uncompressed, of at most `limit`
    bytes."""
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:
        raise UnreadableFileError(f"{name} is encrypted")
    if info.compress_type not in _COMPRESSIONS:
        raise UnreadableFileError(
            f"{name} uses zip compression method {info.compress_type}; only "
            "stored and deflated are read"
        )
    if info.file_size > limit:
        raise UnreadableFileError(
            f"{name} declares {info.file_size} bytes, more than the audit's "
            f"limit of {limit}"
        )
    with archive.open(info) as file:
        return _read_limited(file, name, limit)


def _read_archive(path):
    """A `.keras` archive's config, parsed, and its `_StoredWeights`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise UnreadableFileError(
                    "a zip without config.json, so not a .keras archive"
                )
            config = _parse(
                _read_member(archive, "config.json", MAX_CONFIG_BYTES)
            )
            if _WEIGHTS_FILE not in names:
                return config, _StoredWeights(
                    missing=f"the archive has no {_WEIGHTS_FILE}"
                )
            try:
                data = _read_member(archive, _WEIGHTS_FILE, MAX_WEIGHTS_BYTES)
            except UnreadableFileError as error:
                return config, _StoredWeights(missing=str(error))
            return config, _StoredWeights.of_bytes(data)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise UnreadableFileError(f"corrupt zip: {error}") from None


def _decode(data):
    """`data` as text: a JSON object in UTF-8, with or without a byte-order
    mark, after any whitespace."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        b"\x00" in data[:4]
    ):
        raise UnreadableFileError(
            "config is UTF-16 or UTF-32; the audit reads UTF-8 JSON"
        )
    if not data.lstrip().startswith(b"{"):
        raise UnreadableFileError(
            "neither a .keras archive (not a zip) nor a model-config JSON file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFileError(f"config is not UTF-8: {error}") from None


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_DEPTH_STEP = str.maketrans({"[": "\1", "{": "\1", "]": "\2", "}": "\2"})


def _depth(text):
    """The deepest nesting of `[` and `{` outside strings, in linear time."""
    brackets = re.sub(r"[^\[\]{}]", "", _STRING.sub("", text))
    steps = np.frombuffer(
        brackets.translate(_DEPTH_STEP).encode("ascii"), np.uint8
    )
    return int(np.max(np.cumsum(3 - 2 * steps.astype(np.int64)), initial=0))


def _number(parse):
    def parse_number(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise UnreadableFileError(
                f"config has a number of {len(text)} characters, more than "
                f"the audit's limit of {MAX_NUMBER_CHARS}"
            )
        return parse(text)

    return parse_number


def _parse(data):
    text = _decode(data)
    if _depth(text) > MAX_DEPTH:
        raise UnreadableFileError(
            f"config is nested more than {MAX_DEPTH} levels deep"
        )
    try:
        config = json.loads(
            text,
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=_number(float),
        )
    except json.JSONDecodeError as error:
        raise UnreadableFileError(f"config is not JSON: {error}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise UnreadableFileError("not a Keras config: no class_name")
    return config


def _read_config(path):
    """The model config of a `.keras` archive or a model-config JSON file,
    and its `_StoredWeights`.

    Only a regular file is opened (a FIFO or device is refused from its
    `stat`); at most `MAX_CONFIG_BYTES` of config and `MAX_WEIGHTS_BYTES`
    of weights are read.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFileError("no such file") from None
    if stat.S_ISDIR(status.st_mode):
        raise UnreadableFileError(
            "a directory, not a .keras archive or a model-config JSON file"
        )
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFileError("not a regular file (a FIFO or a device?)")
    if status.st_size == 0:
        raise UnreadableFileError("empty file")
    with open(path, "rb") as file:
        head = file.read(len(_HDF5_SIGNATURE))
    if head == _HDF5_SIGNATURE:
        raise UnreadableFileError(
            "HDF5 files are not supported: re-save as .keras"
        )
    if head.startswith(b"PK\x03\x04") or zipfile.is_zipfile(path):
        return _read_archive(path)
    with open(path, "rb") as file:
        config = _parse(_read_limited(file, "the JSON file"))
    return config, _StoredWeights(missing="a model-config JSON file")


def _is_keras_own(config, package):
    """Whether a serialized object names a class of Keras itself: its
    module (never imported) is Keras's, and no registered package."""
    module = config.get("module")
    registered = config.get("registered_name")
    own_module = module is None or (
        isinstance(module, str)
        and (module in ("keras", package) or module.startswith("keras.src."))
    )
    return own_module and registered in (None, config.get("class_name"))


def _keras_class(objects, name, base):
    """`objects[name]` if it is a Keras class derived from `base`."""
    cls = objects.get(name) if isinstance(name, str) else None
    if (
        inspect.isclass(cls)
        and issubclass(cls, base)
        and cls.__module__.startswith("keras.")
    ):
        return cls
    return None


def _plain(value):
    """Whether `value` is a number, string, None or a list of those."""
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _initializer(config):
    """A Keras initializer rebuilt from `config`, or `"zeros"` (takes no
    fans, so not audited) for one that is not Keras's own."""
    objects = keras.src.initializers.ALL_OBJECTS_DICT
    base = keras.initializers.Initializer
    if isinstance(config, str):
        return config if _keras_class(objects, config, base) else "zeros"
    if not isinstance(config, dict) or not _is_keras_own(
        config, "keras.initializers"
    ):
        return "zeros"
    cls = _keras_class(objects, config.get("class_name"), base)
    arguments = config.get("config")
    if cls is None or not isinstance(arguments, dict):
        return "zeros"
    return cls.from_config(
        {key: value for key, value in arguments.items() if _plain(value)}
    )


def _sanitized(config):
    """The arguments of a layer to rebuild: numbers, strings and lists of
    them as the file has them, initializers Keras's own (else `"zeros"`);
    every other nested object (dtype policy, activation, regularizer,
    constraint, quantization config) dropped: none enters a rule's fans."""
    sanitized = {}
    for key, value in config.items():
        if key.endswith("initializer"):
            sanitized[key] = _initializer(value)
        elif key == "dtype" or "activation" in key:
            continue
        elif _plain(value):
            sanitized[key] = value
    return sanitized


def _is_shape(value):
    return isinstance(value, list) and all(
        dim is None or (type(dim) is int and dim >= 0) for dim in value
    )


def _shapes(config):
    """The shapes in the dict `config`, by key."""
    if not isinstance(config, dict):
        return {}
    return {
        key: tuple(value) for key, value in config.items() if _is_shape(value)
    }


def _build_config(config, shape):
    """The layer's build config as Keras reads it, shapes only
    (`input_shape`, or attention's `shapes_dict`), or
    `{"input_shape": shape}` if it records none."""
    build_config = config.get("build_config")
    build_config = build_config if isinstance(build_config, dict) else {}
    if "input_shape" in _shapes(build_config):
        return {"input_shape": _shapes(build_config)["input_shape"]}
    if _shapes(build_config.get("shapes_dict")):
        return {"shapes_dict": _shapes(build_config["shapes_dict"])}
    return {} if shape is None else {"input_shape": shape}


@functools.cache
def _rebuilt_classes():
    """The classes a fan rule covers, and the Keras layers that build
    covered sublayers from their own config (attention its projections)."""
    covered = tuple(
        cls
        for rule in patching._rules(depthwise_kernels=True)
        if (cls := rule.installed_class()) is not None
    )
    composites = [keras.layers.MultiHeadAttention]
    # Exported as GroupQueryAttention (Keras 3.1 on).
    composites += [getattr(keras.layers, "GroupQueryAttention", None)]
    return covered + tuple(cls for cls in composites if cls is not None)


@functools.cache
def _layer_classes():
    """The public `keras.layers` classes by their exported names (which
    configs write) and their class names (GroupedQueryAttention is
    exported as GroupQueryAttention)."""
    classes = {
        name: cls
        for name, cls in vars(keras.layers).items()
        if inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)
    }
    return {cls.__name__: cls for cls in classes.values()} | classes


def _rebuild(cls, config, build_config, path, walk):
    """Rebuilds one leaf layer from its sanitized config, without values,
    and adds its findings, with the values stored at `walk.location`, to
    `walk.result`."""
    if not build_config:
        walk.result.unbuilt.append(path)
        return
    try:
        # No values: in a stateless scope that does not initialize them on
        # exit, variables never call their initializers.
        scope = keras.StatelessScope(initialize_variables=False)
        with scope, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = cls.from_config(_sanitized(config))
            layer.build_from_config(build_config)
    except Exception as error:
        raise UnreadableFileError(
            f"cannot rebuild layer {path!r}: {_first_sentence(error)}"
        ) from None
    rules = patching._rules(depthwise_kernels=True)
    walk.result.findings.extend(
        _all_findings(
            _affected(
                layer,
                rules,
                path,
                values=walk.weights.values(layer, walk.location),
                max_values=MAX_DRAWN_VALUES,
            )
        )
    )


class _Walk(NamedTuple):
    """What the walk adds to (`result`), reads values from (`weights`), and
    where the current layer's weights are stored in the file (`location`,
    as Keras's saving walk names it; None: not known)."""

    result: "FileAudit"
    weights: "_StoredWeights"
    location: str | None

    def into(self, name):
        if self.location is None:
            return self
        return self._replace(location=_join(self.location, name))


def _saved_names(configs):
    """The names Keras's saving walk gives a list of layers of these
    configs: their class names in snake case, numbered from the second of
    a class on."""
    used = {}
    for config in configs:
        name = naming.to_snake_case(
            _class_name(config) if isinstance(config, dict) else ""
        )
        used[name] = used.get(name, -1) + 1
        yield f"{name}_{used[name]}" if used[name] else name


def _class_name(config):
    """The Python class name a layer config's class has."""
    cls = _keras_class(
        _layer_classes(), config.get("class_name"), keras.layers.Layer
    )
    return cls.__name__ if cls else str(config.get("class_name"))


def _walk(config, path, shape, walk):
    """Audits the layer or model `config` at `path` (None: the model
    audited), its build shape `shape` if the file records none."""
    if not isinstance(config, dict) or not isinstance(
        config.get("class_name"), str
    ):
        raise UnreadableFileError(
            "a layer without class_name in "
            + (repr(path) if path else "the model")
        )
    class_name = config["class_name"]
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise UnreadableFileError(
            f"the config of a {class_name!r} is of type "
            f"{type(inner).__name__}, not an object"
        )
    name = inner.get("name", class_name)
    name = name if isinstance(name, str) else class_name
    build_config = _build_config(config, shape)
    shape = build_config.get("input_shape")
    own = _is_keras_own(config, "keras.layers")
    if own and class_name in _MODELS and "layers" in inner:
        layers = inner["layers"]
        if not isinstance(layers, list):
            raise UnreadableFileError(
                f"the layers of {name!r} are of type {type(layers).__name__}, "
                "not a list"
            )
        prefix = "" if path is None else _join(path, name)
        # Keras saves a Functional or Sequential model's layers in their
        # order; a subclassed Model's by its attributes, not known here.
        if class_name == "Model":
            walk = walk._replace(location=None)
        for layer_config, saved_name in zip(layers, _saved_names(layers)):
            _walk(
                layer_config,
                prefix,
                None,
                walk.into(f"layers/{saved_name}"),
            )
        return
    path = _join(path or "", name)
    if not own:
        walk.result.not_keras.append(path)
        return
    cls = _keras_class(_layer_classes(), class_name, keras.layers.Layer)
    if cls is not None and issubclass(cls, keras.layers.Wrapper):
        _walk_wrapped(class_name, inner, path, shape, walk)
    elif cls is None:
        walk.result.not_keras.append(path)
    elif issubclass(cls, _rebuilt_classes()):
        _rebuild(cls, inner, build_config, path, walk)


def _walk_wrapped(class_name, inner, path, shape, walk):
    """The inner `layer` of a `keras.layers.Wrapper`, with its own recorded
    build shape, or the one the wrapper hands it (TimeDistributed: a step,
    without the time axis)."""
    if shape is not None and class_name == "TimeDistributed":
        shape = shape[:1] + shape[2:]
    if inner.get("layer") is not None:
        _walk(inner["layer"], path, shape, walk.into("layer"))


class _SavePaths(saving_lib.H5IOStore):
    """A weights store for Keras's own saving walk (`_save_state`) that
    writes nothing: it records where the walk would put each variable,
    `{id(variable): (group, key, name)}` (`name` the layer's, None before
    Keras 3.8)."""

    def __init__(self):
        self.entries = {}

    def __bool__(self):
        return True

    def make(self, path, metadata=None):
        return _SaveEntry(self.entries, path, (metadata or {}).get("name"))


class _SaveEntry:
    def __init__(self, entries, group, name):
        self._entries, self._group, self._name = entries, group, name

    def __setitem__(self, key, variable):
        self._entries[id(variable)] = (self._group, key, self._name)


class _StoredWeights:
    """The weights of a `.keras` archive (its `model.weights.h5`, opened
    from memory), or why there are none (`missing`).

    A variable is looked up where Keras's saving walk stores it, from the
    layer's place in the model (`location`); it is read only through hard
    links (an external link names another file), as a dataset stored in
    the file (not external, not virtual) with HDF5's built-in filters
    only, of the variable's shape, under a group that names the layer
    (Keras 3.8 on). Anything else is no values, with the reason.
    """

    def __init__(self, h5=None, missing=None):
        self._h5, self.missing = h5, missing

    @classmethod
    def of_bytes(cls, data):
        try:
            return cls(h5=h5py.File(io.BytesIO(data), "r"))
        except (OSError, ValueError) as error:
            return cls(missing=f"{_WEIGHTS_FILE} is not HDF5: {error}")

    def close(self):
        if self._h5 is not None:
            self._h5.close()

    def values(self, layer, location):
        """`values(variable)` for the rebuilt `layer` stored at `location`
        (None: its place is not known): an array, or why there is none."""
        if self._h5 is None or location is None:
            reason = self.missing or "its place in the file is not known"
            return lambda variable: reason
        paths = _SavePaths()
        try:
            saving_lib._save_state(layer, paths, None, location, set())
        except Exception as error:
            reason = f"Keras's saving walk failed: {_first_sentence(error)}"
            return lambda variable: reason
        return lambda variable: self._read(
            paths.entries.get(id(variable)), variable.shape
        )

    def _read(self, entry, shape):
        if entry is None:
            return "Keras's saving walk does not store it"
        group, key, name = entry
        where = _join(group, "vars")
        node = self._h5
        for part in f"{where}/{key}".split("/"):
            is_group = isinstance(node, h5py.Group)
            link = node.get(part, getlink=True) if is_group else None
            if link is None:
                return f"{where}/{key}: not in the file"
            if not isinstance(link, h5py.HardLink):
                return f"{where}/{key}: a link to elsewhere, not followed"
            node = node[part]
        stored_name = self._h5[where].attrs.get("name")
        # `is`, not `in`: a crafted file's name can be an array.
        known = name is not None and stored_name is not None
        if known and str(stored_name) != name:
            return f"{where} is layer {stored_name!r}, not {name!r}"
        if not isinstance(node, h5py.Dataset):
            return f"{where}/{key}: not a dataset"
        if node.shape != tuple(shape) or node.dtype.kind != "f":
            return (
                f"{where}/{key} holds {node.dtype} {node.shape}, not float "
                f"{tuple(shape)}"
            )
        plist = node.id.get_create_plist()
        filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
        if node.is_virtual or node.external or filters - _BUILT_IN_FILTERS:
            return f"{where}/{key}: stored outside the file or by a plugin"
        return np.asarray(node[()])


class FileAudit(NamedTuple):
    """`audit_file`'s result: the `Finding`s; the layers the file records
    no build shape for; the layers not audited as not Keras's own."""

    findings: list
    unbuilt: list
    not_keras: list


def audit_file(path: str | os.PathLike) -> FileAudit:
    """`audit` of the model in a `.keras` archive or a model-config JSON
    file: the config's findings, each weight judged by the values the
    archive stores (`"no values"` for a JSON file, with why in
    `evidence`).

    Nothing named by the file runs, is imported or is opened: the config is
    walked here, and only a layer a fan rule covers is rebuilt, from a class
    of Keras itself and its config with Keras's own initializers only; its
    weights are read where Keras's saving walk of that layer puts them
    (`_StoredWeights`).

    Returns:
        A `FileAudit`.

    Raises:
        UnreadableFileError: the file cannot be read or audited; the
            message, one line, says why.
    """
    result = FileAudit([], [], [])
    try:
        config, weights = _read_config(Path(path))
    except OSError as error:
        raise UnreadableFileError(error.strerror or str(error)) from None
    try:
        _walk(config, None, None, _Walk(result, weights, ""))
    finally:
        weights.close()
    return result
