"""`audit`, `reset_parameters(style="fans")` and `python -m keras_fans audit`
on a model that mixes affected and unaffected layers."""

import importlib
import json
import math
import re
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import auditing
from keras_fans import testing
from keras_fans.__main__ import main
from keras_fans.auditing import audit_file

pytestmark = testing.runtime_only(
    "the audit knows the draws of patch(); a natively fixed Keras has none"
)

L = keras.layers


@keras.saving.register_keras_serializable(package="keras_fans_test")
def small_bias(shape, dtype=None):
    return keras.ops.full(shape, 0.01, dtype=dtype)


def mixed_model():
    """Affected: conv, depthwise (kernel), td, mha, head_dense.
    Unaffected: lstm and bigru (recurrent cells keep stock fans), zeros,
    callable, fan_out and same-width Dense biases, the depthwise bias
    (zeros), RandomUniform, every other kernel."""
    image = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, bias_initializer="he_normal", name="conv")(image)
    x = L.DepthwiseConv2D(3, name="depthwise")(x)
    x = L.Flatten(name="flatten")(x)
    sequence = keras.Input((5, 6), name="sequence")
    h = L.LSTM(
        4, return_sequences=True, bias_initializer="he_uniform", name="lstm"
    )(sequence)
    h = L.Bidirectional(
        L.GRU(
            3,
            return_sequences=True,
            bias_initializer="glorot_normal",
            name="gru",
        ),
        name="bigru",
    )(h)
    h = L.TimeDistributed(
        L.Dense(5, bias_initializer="lecun_normal", name="td_dense"),
        name="td",
    )(h)
    h = L.MultiHeadAttention(
        2, 3, bias_initializer="glorot_uniform", name="mha"
    )(h, h)
    h = L.GlobalAveragePooling1D(name="pool")(h)
    x = L.Concatenate(name="concat")([x, h])
    x = L.Dense(6, bias_initializer=small_bias, name="callable")(x)
    x = L.Dense(6, bias_initializer="he_uniform", name="same_width")(x)
    x = L.Dense(3, name="zeros")(x)
    head = keras.Sequential(
        [
            L.Dense(7, bias_initializer="he_uniform", name="head_dense"),
            L.Dense(
                2,
                bias_initializer=keras.initializers.VarianceScaling(
                    mode="fan_out"
                ),
                name="fan_out",
            ),
            L.Dense(2, bias_initializer="random_uniform", name="uniform"),
        ],
        name="head",
    )
    return keras.Model([image, sequence], head(x))


# (path, class, weight, shape, stock fan, true fan), worked out by hand.
EXPECTED = sorted(
    [
        # He normal: fan_in of a 3x3 filter over 3 channels.
        ("conv", "Conv2D", "bias", (4,), 4, 27),
        # Glorot: fan_avg of (3*3*4, 3*3) stock, (3*3, 3*3) one channel's.
        ("depthwise", "DepthwiseConv2D", "kernel", (3, 3, 4, 1), 22.5, 9),
        # LeCun normal: fan_in 6 (both GRU directions).
        ("td/td_dense", "Dense", "bias", (5,), 5, 6),
        # Glorot uniform, kernels (5, 2, 3) and (2, 3, 5).
        ("mha/query", "EinsumDense", "bias", (2, 3), 2.5, 5.5),
        ("mha/key", "EinsumDense", "bias", (2, 3), 2.5, 5.5),
        ("mha/value", "EinsumDense", "bias", (2, 3), 2.5, 5.5),
        ("mha/attention_output", "EinsumDense", "bias", (5,), 5, 5.5),
        # He uniform: fan_in 3, the `zeros` layer's units.
        ("head/head_dense", "Dense", "bias", (7,), 7, 3),
    ]
)


def summary(findings):
    """The findings as EXPECTED lists them; checks kind and factor."""
    for f in findings:
        assert f.kind == ("bias" if f.weight == "bias" else "depthwise_kernel")
        assert f.factor == pytest.approx(math.sqrt(f.true_fan / f.stock_fan))
    return sorted(
        (f.path, f.layer_class, f.weight, f.shape, f.stock_fan, f.true_fan)
        for f in findings
    )


def values(model):
    return {v.path: testing.numpy(v) for v in model.weights}


def test_audit_finds_exactly_the_affected_weights():
    model = mixed_model()
    findings = keras_fans.audit(model)
    assert summary(findings) == EXPECTED
    with keras_fans.patched():
        assert keras_fans.audit(model) == findings
    conv = next(f for f in findings if f.path == "conv")
    assert conv.initializer == (
        "HeNormal(scale=2, mode='fan_in', distribution='truncated_normal')"
    )


def test_audit_of_a_single_layer():
    layer = L.Dense(64, bias_initializer="he_uniform")
    layer.build((None, 16))
    [finding] = keras_fans.audit(layer)
    assert (finding.path, finding.stock_fan, finding.true_fan) == (
        layer.name,
        64,
        16,
    )
    assert finding.factor == 0.5
    # An initializer whose `__call__` declares no fans never gets them.
    layer = L.Dense(64, bias_initializer=testing.hide_fans("he_uniform"))
    layer.build((None, 16))
    assert keras_fans.audit(layer) == []


def test_audit_rejects_what_it_cannot_audit():
    with pytest.raises(TypeError, match="model_or_layer='dense'"):
        keras_fans.audit("dense")
    with pytest.raises(ValueError, match="Build 'unbuilt' before auditing"):
        keras_fans.audit(L.Dense(4, name="unbuilt"))


def stock_draws(model):
    """The paths of the findings whose values are a stock draw."""
    return [f.path for f in keras_fans.audit(model) if f.draw == "stock"]


def test_audit_of_a_build_under_patch():
    """Every weight holds the fixed draw, bit for bit (the instances'
    seeds): the config's findings stay, the values say "fixed"."""
    with keras_fans.patched():
        findings = keras_fans.audit(mixed_model())
    assert summary(findings) == EXPECTED
    assert {f.draw for f in findings} == {"fixed"}
    assert {f.evidence.split(" (")[0] for f in findings} == {
        "bit-identical to a fixed redraw"
    }
    with keras_fans.patched(depthwise_kernels=False):
        model = mixed_model()
    assert stock_draws(model) == ["depthwise"]


@pytest.mark.parametrize("patched", [False, True], ids=["stock", "patched"])
def test_repair_draws_as_a_patched_build(patched):
    keras.utils.set_random_seed(1)
    with keras_fans.patched():
        fixed = values(mixed_model())
    keras.utils.set_random_seed(1)
    model = mixed_model()
    before = values(model)
    affected = keras_fans.audit(model)
    if patched:
        keras_fans.patch()
    repaired = keras_fans.reset_parameters(model, style="fans")
    assert keras_fans.is_patched() == patched
    # Here a variable's path is its layer's path and its name.
    redrawn = {f"{f.path}/{f.weight}" for f in affected}
    assert sorted(repaired) == sorted(redrawn)
    assert {f.draw for f in affected} == {"stock"}
    assert {f.draw for f in keras_fans.audit(model)} == {"fixed"}
    for path, value in values(model).items():
        np.testing.assert_array_equal(value, fixed[path], err_msg=path)
        if path not in redrawn:
            np.testing.assert_array_equal(value, before[path], err_msg=path)


def test_the_audit_and_its_repair_warn_of_nothing():
    """Their patch for the duration builds nothing: `patch()`'s warning of
    layers built before it (the very model audited) is not theirs."""
    model = keras.Sequential(
        [
            keras.Input((16,)),
            L.Dense(
                4096, bias_initializer=keras.initializers.HeUniform(seed=1)
            ),
        ]
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "keras_fans.patch")
        [finding] = keras_fans.audit(model)
        assert finding.evidence.startswith("bit-identical")
        keras_fans.reset_parameters(model, style="fans")


def test_repair_follows_the_depthwise_kernels_option():
    model = mixed_model()
    keras_fans.reset_parameters(model, style="fans", depthwise_kernels=False)
    assert stock_draws(model) == ["depthwise"]
    model = mixed_model()
    with keras_fans.patched(depthwise_kernels=False):
        keras_fans.reset_parameters(model, style="fans")
    assert stock_draws(model) == ["depthwise"]


def test_repair_rejects_the_other_style_s_options():
    model = mixed_model()
    with pytest.raises(ValueError, match="seed=3"):
        keras_fans.reset_parameters(model, style="fans", seed=3)
    with pytest.raises(ValueError, match="depthwise_kernels=False"):
        keras_fans.reset_parameters(model, depthwise_kernels=False)


# On a file of the mixed model: its plain-function bias initializer.
needs_function_initializers_from_config = pytest.mark.skipif(
    testing.keras_before("3.7"),
    reason="Keras before 3.7 cannot rebuild a plain-function initializer "
    "(`small_bias`) from a config",
)


@pytest.fixture
def saved(tmp_path):
    """The stock mixed model's `.keras` archive and config JSON, and its
    findings."""
    model = mixed_model()
    archive = tmp_path / "mixed.keras"
    model.save(archive)
    config = tmp_path / "mixed.json"
    config.write_text(model.to_json())
    return archive, config, keras_fans.audit(model)


@needs_function_initializers_from_config
def test_a_file_judges_the_values_the_model_holds(tmp_path, monkeypatch):
    """The archive's findings are the model's, each judged on the very
    values the model holds (read where Keras's saving walk put them, in
    nested models and wrappers); a config JSON has none."""
    judged = []

    def judge_draw(values, *args):
        judged.append(np.array(values))
        return judge(values, *args)

    judge = auditing.draws.judge_draw
    monkeypatch.setattr(auditing.draws, "judge_draw", judge_draw)
    model = mixed_model()
    findings = keras_fans.audit(model)
    model_values, judged[:] = list(judged), []
    model.save(tmp_path / "mixed.keras")
    (tmp_path / "mixed.json").write_text(model.to_json())
    archive = audit_file(tmp_path / "mixed.keras")
    assert archive.unbuilt == archive.not_keras == []
    unjudged = ("path", "layer_class", "weight", "shape", "stock_fan")
    assert [[getattr(f, a) for a in unjudged] for f in archive.findings] == [
        [getattr(f, a) for a in unjudged] for f in findings
    ]
    assert len(judged) == len(model_values) == len(findings)
    for file_values, values in zip(judged, model_values):
        np.testing.assert_array_equal(file_values, values)
    config = audit_file(tmp_path / "mixed.json").findings
    assert {(f.draw, f.evidence) for f in config} == {
        ("no values", "a model-config JSON file")
    }
    assert [f._replace(draw="", evidence="") for f in config] == [
        f._replace(draw="", evidence="") for f in findings
    ]


@needs_function_initializers_from_config
def test_a_patched_build_s_file_has_the_same_config_findings(tmp_path):
    """What stock Keras draws wrong is a statement about the config: the
    same for a file saved from a patched build (its values say "fixed")."""
    with keras_fans.patched():
        mixed_model().save(tmp_path / "patched.keras")
        file_findings, _, _ = audit_file(tmp_path / "patched.keras")
    assert summary(file_findings) == EXPECTED


def test_an_unbuilt_layer_is_reported(tmp_path):
    model = keras.Sequential([L.Dense(4, bias_initializer="he_uniform")])
    path = tmp_path / "unbuilt.json"
    path.write_text(model.to_json())
    assert audit_file(path) == ([], [model.layers[0].name], [])


@needs_function_initializers_from_config
def test_command_line(saved, capsys):
    archive, _, findings = saved
    assert main(["audit", str(archive)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["layer", "class", "weight"]
    assert [line.split()[0] for line in lines[1:-2]] == [
        f.path for f in findings
    ]
    assert lines[-2] == (
        "8 weights in 8 layers are drawn with the wrong fans (1 depthwise "
        "kernel, keras-team/keras#11773); worst: conv/bias, 2.6× too wide"
    )
    assert err == ""


def test_command_line_on_an_unaffected_model(tmp_path, capsys):
    model = keras.Sequential([keras.Input((4,)), L.Dense(4, name="dense")])
    model.save(tmp_path / "fine.keras")
    assert main(["audit", str(tmp_path / "fine.keras")]) == 0
    assert capsys.readouterr() == (
        "No weight is drawn with the wrong fans.\n",
        "",
    )


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)


def write_json(path, config):
    path.write_text(json.dumps(config))


def forged_zip(path, flags=None, method=None, size=None):
    """A `.keras` of a one-Dense model whose config.json's zip headers
    (local and central) say `flags`, `method` or uncompressed `size`."""
    write_zip(path, {"config.json": sequential_config(lambda dense: None)})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    for header, offset in ((0, 6), (central, 8)):
        for value, field, width in (
            (flags, 0, 2),
            (method, 2, 2),
            (size, 16, 4),
        ):
            if value is not None:
                at = header + offset + field
                data[at : at + width] = value.to_bytes(width, "little")
    path.write_bytes(bytes(data))


def sparse_file(path, size):
    """A JSON file of `size` bytes that takes no disk: "{" then a hole."""
    with open(path, "wb") as file:
        file.write(b"{")
        file.truncate(size)


def sequential_config(edit):
    """A Sequential's config JSON, its Dense's config changed by `edit`."""
    model = keras.Sequential([keras.Input((4,)), L.Dense(4, name="dense")])
    config = model.get_config()
    edit(config["layers"][1])
    return json.dumps({"class_name": "Sequential", "config": config})


def unknown_argument(dense):
    dense["config"]["no_such_argument"] = 1


# name: (how to make the bad file at PATH, the reason printed).
BAD_FILES = {
    "missing": (lambda path: None, "no such file"),
    "directory": (lambda path: path.mkdir(), "a directory"),
    "empty": (lambda path: path.write_bytes(b""), "empty file"),
    "not a zip": (
        lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)),
        "neither a .keras archive (not a zip) nor a model-config JSON file",
    ),
    "HDF5": (
        lambda path: path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)),
        "HDF5 files are not supported: re-save as .keras",
    ),
    "zip without config.json": (
        lambda path: write_zip(path, {"metadata.json": "{}"}),
        "a zip without config.json, so not a .keras archive",
    ),
    "corrupt zip": (
        lambda path: path.write_bytes(
            _corrupt(path.with_suffix(".ok"), {"config.json": "{}" * 100})
        ),
        "corrupt zip: ",
    ),
    "unknown argument": (
        lambda path: write_zip(
            path, {"config.json": sequential_config(unknown_argument)}
        ),
        # Keras's own words follow; they differ across releases.
        "cannot rebuild layer 'dense': ",
    ),
    "not JSON": (
        lambda path: path.write_text("{not json"),
        "config is not JSON: ",
    ),
    # Issue 23: each gave a traceback or a hang, or read without bound.
    "a device": (None, "not a regular file (a FIFO or a device?)"),
    "config.json declared too large": (
        lambda path: forged_zip(path, size=auditing.MAX_CONFIG_BYTES + 1),
        f"config.json declares {auditing.MAX_CONFIG_BYTES + 1} bytes, more "
        f"than the audit's limit of {auditing.MAX_CONFIG_BYTES}",
    ),
    "config.json declared too small": (
        lambda path: forged_zip(path, size=10),
        "corrupt zip: ",
    ),
    "a JSON file too large": (
        lambda path: sparse_file(path, auditing.MAX_CONFIG_BYTES + 1),
        "the JSON file is larger than the audit's limit of "
        f"{auditing.MAX_CONFIG_BYTES} bytes",
    ),
    "encrypted": (
        lambda path: forged_zip(path, flags=1),
        "config.json is encrypted",
    ),
    "compression method 98": (
        lambda path: forged_zip(path, method=98),
        "config.json uses zip compression method 98; only stored and "
        "deflated are read",
    ),
    "nested 100k deep": (
        lambda path: path.write_text(
            '{"class_name": "Dense", "config": '
            + "[" * 10**5
            + "]" * 10**5
            + "}"
        ),
        f"config is nested more than {auditing.MAX_DEPTH} levels deep",
    ),
    "a 5000-digit integer": (
        lambda path: path.write_text(
            '{"class_name": "Dense", "config": {"units": ' + "9" * 5000 + "}}"
        ),
        "config has a number of 5000 characters, more than the audit's "
        f"limit of {auditing.MAX_NUMBER_CHARS}",
    ),
    "config of the wrong type": (
        lambda path: write_json(path, {"class_name": "Dense", "config": "x"}),
        "the config of a 'Dense' is of type str, not an object",
    ),
    "layers of the wrong type": (
        lambda path: write_json(
            path, {"class_name": "Sequential", "config": {"layers": 5}}
        ),
        "the layers of 'Sequential' are of type int, not a list",
    ),
    "a layer without class_name": (
        lambda path: write_json(
            path,
            {"class_name": "Sequential", "config": {"layers": [{"a": 1}]}},
        ),
        "a layer without class_name in the model",
    ),
    "UTF-16": (
        lambda path: path.write_text('{"class_name": "Dense"}', "utf-16"),
        "config is UTF-16 or UTF-32; the audit reads UTF-8 JSON",
    ),
}


def _corrupt(path, members):
    """A zip of `members` with one byte of compressed data flipped."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_exits_2_with_one_line(case, tmp_path, capsys):
    make, reason = BAD_FILES[case]
    path = tmp_path / "model.keras"
    if make is None:
        path = "/dev/zero"
    else:
        make(path)
    assert main(["audit", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"keras_fans audit: {path}: {reason}")
    assert err.count("\n") == 1 and err.endswith("\n")


def link_elsewhere(weights, other):
    with h5py.File(other, "w") as elsewhere:
        elsewhere["bias"] = STOCK_BIAS
    weights["layers/dense/vars/1"] = h5py.ExternalLink(str(other), "/bias")


def link_within(weights, other):
    weights["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense/vars/0")


def stored_outside(weights, other):
    other.write_bytes(STOCK_BIAS.tobytes())
    weights.create_dataset(
        "layers/dense/vars/1", (256,), "float32", external=[(other, 0, 1024)]
    )


def another_shape(weights, other):
    weights["layers/dense/vars/1"] = np.zeros(255, "float32")


def another_layer(weights, other):
    weights["layers/dense/vars/1"] = np.zeros(256, "float32")
    weights["layers/dense/vars"].attrs["name"] = "other"


@pytest.fixture(scope="module")
def dense_archive(tmp_path_factory):
    """A saved `Dense(256, bias_initializer="he_uniform")` on 16 inputs."""
    path = tmp_path_factory.mktemp("dense") / "dense.keras"
    keras.Sequential(
        [
            keras.Input((16,)),
            L.Dense(256, bias_initializer="he_uniform", name="dense"),
        ]
    ).save(path)
    return path


# A stock draw of that bias (He uniform, fan 256), kept elsewhere.
STOCK_BIAS = (
    np.random.default_rng(0)
    .uniform(-math.sqrt(6 / 256), math.sqrt(6 / 256), 256)
    .astype("float32")
)
# How a crafted model.weights.h5 hides the bias, and why it is not read.
BAD_WEIGHTS = {
    "external link": (link_elsewhere, "a link to elsewhere, not followed"),
    "soft link": (link_within, "a link to elsewhere, not followed"),
    "external storage": (stored_outside, "stored outside the file"),
    "shape": (another_shape, "holds float32 (255,), not float (256,)"),
    "layer": (another_layer, "is layer 'other', not 'dense'"),
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            marks=pytest.mark.skipif(
                case == "layer" and testing.keras_before("3.8"),
                reason="Keras before 3.8 names no layer in the weights file",
            ),
        )
        for case in BAD_WEIGHTS
    ],
)
def test_weights_from_elsewhere_are_not_read(case, dense_archive, tmp_path):
    """The bias of a crafted archive's weights is not read, with why: not
    the stock draw a file its links or storage name holds."""
    edit, reason = BAD_WEIGHTS[case]
    with zipfile.ZipFile(dense_archive) as saved:
        config = saved.read("config.json")
        (tmp_path / "weights.h5").write_bytes(saved.read("model.weights.h5"))
    other = tmp_path / "other.h5"
    with h5py.File(tmp_path / "weights.h5", "a") as weights:
        del weights["layers/dense/vars/1"]
        edit(weights, other)
    write_zip(
        tmp_path / "crafted.keras",
        {
            "config.json": config,
            "model.weights.h5": (tmp_path / "weights.h5").read_bytes(),
        },
    )
    [finding] = audit_file(tmp_path / "crafted.keras").findings
    assert finding.draw == "no values"
    assert reason in finding.evidence


def test_weights_past_the_limit_are_not_read(dense_archive, monkeypatch):
    monkeypatch.setattr(auditing, "MAX_WEIGHTS_BYTES", 1000)
    [finding] = audit_file(dense_archive).findings
    assert finding.draw == "no values"
    assert re.fullmatch(
        "model.weights.h5 declares [0-9]+ bytes, more than the audit's "
        "limit of 1000",
        finding.evidence,
    )


def dense_model_config(name):
    model = keras.Sequential(
        [keras.Input((4,)), L.Dense(8, bias_initializer="he_uniform")]
    )
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["name"] = name
    return config


@pytest.mark.parametrize(
    "prefix", [b"\xef\xbb\xbf", b" \n\t" * 40], ids=["BOM", "whitespace"]
)
def test_a_utf_8_byte_order_mark_and_leading_whitespace_are_read(
    prefix, tmp_path
):
    path = tmp_path / "model.json"
    path.write_bytes(prefix + json.dumps(dense_model_config("d")).encode())
    findings, _, _ = audit_file(path)
    assert [f.path for f in findings] == ["d"]


def test_names_from_the_file_cannot_forge_output(tmp_path, capsys):
    name = "x\nNo weight is drawn with the wrong fans.\x1b[2K"
    path = tmp_path / "model.json"
    write_json(path, dense_model_config(name))
    assert main(["audit", str(path)]) == 1
    out, _ = capsys.readouterr()
    escaped = "x\\nNo weight is drawn with the wrong fans.\\x1b[2K"
    lines = out.splitlines()
    # The table, the verdict and the next step.
    assert len(lines) == 4
    assert lines[1].startswith(escaped + "  Dense")
    assert lines[2].startswith("1 weight in 1 layer is drawn")
    assert lines[2].endswith(f"worst: {escaped}/bias, 1.41× too narrow")
    assert "\x1b" not in out


def test_the_readme_s_dotted_names_resolve():
    """`keras_fans.audit.Finding` raised AttributeError: the function
    `audit` shadowed its module. Every `keras_fans.x.y` the README names
    resolves."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    names = set(re.findall(r"`(keras_fans(?:\.\w+)+)", readme))
    assert "keras_fans.auditing.Finding" in names
    for name in names:
        _, *parts = name.split(".")
        value = keras_fans
        for part in parts:
            if not hasattr(value, part):
                # A submodule `import keras_fans` does not import itself.
                value = importlib.import_module(f"{value.__name__}.{part}")
            else:
                value = getattr(value, part)


def test_a_file_s_wrappers_are_walked(tmp_path):
    """Any `keras.layers.Wrapper` (SpectralNormalization here) and a nested
    Sequential, as the walk reads them; an RNN of stacked cells is skipped
    (recurrent cells keep stock fans)."""
    model = keras.Sequential(
        [
            keras.Input((5, 6)),
            L.RNN(
                L.StackedRNNCells(
                    [
                        L.LSTMCell(3, bias_initializer="he_uniform"),
                        L.GRUCell(2, bias_initializer="he_uniform"),
                    ]
                ),
                name="rnn",
            ),
            keras.Sequential(
                [
                    L.SpectralNormalization(
                        L.Dense(4, bias_initializer="he_uniform", name="d"),
                        name="sn",
                    )
                ],
                name="inner",
            ),
        ]
    )
    path = tmp_path / "model.json"
    path.write_text(model.to_json())
    findings, unbuilt, not_keras = audit_file(path)
    assert (unbuilt, not_keras) == ([], [])
    assert sorted(summary(findings)) == sorted(summary(keras_fans.audit(model)))
    assert {f.path for f in findings} == {"inner/sn/d"}


def test_every_keras_layer_holding_a_covered_layer_is_rebuilt_or_walked():
    """A public Keras layer whose build holds a layer a fan rule covers is
    rebuilt or walked by the file audit, never skipped (a future Keras
    layer like MultiHeadAttention makes this fail). Built as the coverage
    guard builds each layer."""
    from keras_fans.layers import coverage_test

    covered = tuple(
        cls
        for rule in keras_fans.patching._rules(depthwise_kernels=True)
        if (cls := rule.installed_class()) is not None
    )
    skipped = []
    for cls in coverage_test.public_layer_classes():
        arguments = coverage_test.constructor_arguments(cls)
        if (
            issubclass(cls, auditing._rebuilt_classes())
            or issubclass(cls, keras.layers.Wrapper)
            or arguments is None
        ):
            continue
        try:
            layer = coverage_test.build(cls, arguments)
        except Exception:
            continue
        if any(
            isinstance(sub, covered) for sub, _ in auditing._layers(layer, "")
        ):
            skipped.append(cls.__name__)
    assert skipped == []


@pytest.mark.skipif(
    not hasattr(keras.layers, "GroupQueryAttention"),
    reason="GroupQueryAttention is new in Keras 3.1",
)
def test_a_file_s_grouped_query_attention_is_audited(tmp_path):
    """Its config names the class GroupedQueryAttention, exported as
    GroupQueryAttention."""
    query = keras.Input((5, 4))
    attention = L.GroupQueryAttention(
        2, 2, 1, bias_initializer="he_uniform", name="gqa"
    )
    model = keras.Model(query, attention(query, query))
    path = tmp_path / "model.json"
    path.write_text(model.to_json())
    findings, unbuilt, not_keras = audit_file(path)
    assert (unbuilt, not_keras) == ([], [])
    assert summary(findings) == summary(keras_fans.audit(model))
    assert "gqa/query" in {f.path for f in findings}


@pytest.mark.parametrize(
    "initializer",
    [
        {"module": "no_such_module", "class_name": "HeUniform", "config": {}},
        {
            "module": "keras.initializers",
            "class_name": "HeUniform",
            "registered_name": "no_such_module>HeUniform",
            "config": {},
        },
        "no_such_initializer",
    ],
    ids=["module", "registered", "string"],
)
def test_an_initializer_not_of_keras_is_not_affected(initializer, tmp_path):
    """Never imported nor rebuilt: treated as taking no fans."""
    config = dense_model_config("d")
    config["config"]["layers"][1]["config"]["bias_initializer"] = initializer
    path = tmp_path / "model.json"
    write_json(path, config)
    assert audit_file(path) == ([], [], [])
    assert "no_such_module" not in sys.modules
