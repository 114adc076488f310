"""PyTorch parity: Keras weights against the parameters of real `torch.nn`
modules, by two-sample Kolmogorov-Smirnov tests at fixed seeds.

Each row of the table in docs/pytorch-parity.md is a case: the Keras
layer initialized by the table's initializers with the fan context (where
initializers can do it) and by `reset_parameters`, each weight compared
with the torch parameter it stands for.
"""

import math
import warnings

import keras
import numpy as np
import pytest
import torch
from scipy import stats

import keras_fans
from keras_fans import testing
from keras_fans.initializers import PyTorchUniform

SEED = 0


def same_distribution(keras_values, torch_values):
    x = np.ravel(keras_values)
    y = np.ravel(np.asarray(torch_values, dtype=np.float64))
    if np.ptp(y) == 0:  # A constant: zeros or ones.
        return np.all(x == y[0])
    return stats.ks_2samp(x, y).pvalue > testing.ALPHA


def torch_module(make):
    torch.manual_seed(SEED)
    return make()


def param(tensor):
    return tensor.detach().numpy()


def keras_built(make, *shapes):
    layer = make()
    layer.build(*shapes)
    return layer


def uniform(bound):
    return keras.initializers.RandomUniform(-bound, bound, seed=SEED)


# A layer whose kernel and bias stand for torch's weight and bias.
KERNEL_AND_BIAS_PAIRS = [
    (lambda k: k.kernel, lambda t: t.weight),
    (lambda k: k.bias, lambda t: t.bias),
]
# A recurrent cell whose one Keras bias stands for torch's b_ih + b_hh.
SUMMED_BIAS_PAIRS = [
    (lambda k: k.cell.kernel, lambda t: t.weight_ih_l0),
    (lambda k: k.cell.recurrent_kernel, lambda t: t.weight_hh_l0),
    (lambda k: k.cell.bias, lambda t: t.bias_ih_l0 + t.bias_hh_l0),
]
# name: (torch module, Keras layer (table's initializers, or None if no
# initializer can match), build shapes, [(Keras weight, torch parameter)]).
ROWS = {
    "Linear": (
        lambda: torch.nn.Linear(64, 2048),
        lambda: keras.layers.Dense(
            2048,
            kernel_initializer=PyTorchUniform(),
            bias_initializer=PyTorchUniform(),
        ),
        [(None, 64)],
        KERNEL_AND_BIAS_PAIRS,
    ),
    "Conv2d(groups=4)": (
        lambda: torch.nn.Conv2d(16, 512, 3, groups=4),
        lambda: keras.layers.Conv2D(
            512,
            3,
            groups=4,
            kernel_initializer=PyTorchUniform(),
            bias_initializer=PyTorchUniform(),
        ),
        [(1, 8, 8, 16)],
        KERNEL_AND_BIAS_PAIRS,
    ),
    "ConvTranspose1d": (
        lambda: torch.nn.ConvTranspose1d(32, 256, 3),
        # `patch()` leaves the bias stock: its bound, by hand.
        lambda: keras.layers.Conv1DTranspose(
            256,
            3,
            kernel_initializer=PyTorchUniform(),
            bias_initializer=uniform(1 / math.sqrt(3 * 256)),
        ),
        [(1, 8, 32)],
        KERNEL_AND_BIAS_PAIRS,
    ),
    "Conv2d(groups=in_channels)": (
        lambda: torch.nn.Conv2d(64, 256, 3, groups=64),
        lambda: keras.layers.DepthwiseConv2D(
            3,
            depth_multiplier=4,
            depthwise_initializer=PyTorchUniform(),
            bias_initializer=PyTorchUniform(),
        ),
        [(1, 8, 8, 64)],
        KERNEL_AND_BIAS_PAIRS,
    ),
    "RNN": (
        lambda: torch.nn.RNN(64, 256),
        None,
        [(1, 2, 64)],
        SUMMED_BIAS_PAIRS,
    ),
    "LSTM": (
        lambda: torch.nn.LSTM(64, 128),
        None,
        [(1, 2, 64)],
        SUMMED_BIAS_PAIRS,
    ),
    "GRU": (
        lambda: torch.nn.GRU(64, 128),
        lambda: keras.layers.GRU(
            128,
            kernel_initializer=uniform(1 / math.sqrt(128)),
            recurrent_initializer=uniform(1 / math.sqrt(128)),
            bias_initializer=uniform(1 / math.sqrt(128)),
        ),
        [(1, 2, 64)],
        [
            (lambda k: k.cell.kernel, lambda t: t.weight_ih_l0),
            (lambda k: k.cell.recurrent_kernel, lambda t: t.weight_hh_l0),
            (lambda k: k.cell.bias[0], lambda t: t.bias_ih_l0),
            (lambda k: k.cell.bias[1], lambda t: t.bias_hh_l0),
        ],
    ),
    "MultiheadAttention": (
        lambda: torch.nn.MultiheadAttention(256, 4),
        None,
        [(1, 2, 256), (1, 2, 256)],
        [
            (
                lambda k: np.concatenate(
                    [
                        np.ravel(testing.numpy(d.kernel))
                        for d in (k._query_dense, k._key_dense, k._value_dense)
                    ]
                ),
                lambda t: t.in_proj_weight,
            ),
            (lambda k: k._output_dense.kernel, lambda t: t.out_proj.weight),
            (lambda k: k._query_dense.bias, lambda t: t.in_proj_bias),
            (lambda k: k._output_dense.bias, lambda t: t.out_proj.bias),
        ],
    ),
    "Embedding": (
        lambda: torch.nn.Embedding(1000, 64),
        lambda: keras.layers.Embedding(
            1000,
            64,
            embeddings_initializer=keras.initializers.RandomNormal(
                stddev=1.0, seed=SEED
            ),
        ),
        [(1, 3)],
        [(lambda k: k.embeddings, lambda t: t.weight)],
    ),
    "LayerNorm": (
        lambda: torch.nn.LayerNorm(64),
        lambda: keras.layers.LayerNormalization(),
        [(1, 64)],
        [
            (lambda k: k.gamma, lambda t: t.weight),
            (lambda k: k.beta, lambda t: t.bias),
        ],
    ),
    "BatchNorm1d": (
        lambda: torch.nn.BatchNorm1d(64),
        lambda: keras.layers.BatchNormalization(),
        [(1, 64)],
        [
            (lambda k: k.gamma, lambda t: t.weight),
            (lambda k: k.beta, lambda t: t.bias),
            (lambda k: k.moving_mean, lambda t: t.running_mean),
            (lambda k: k.moving_variance, lambda t: t.running_var),
        ],
    ),
}
# The Keras layers `reset_parameters` re-draws, per row.
RESET = {
    "Linear": lambda: keras.layers.Dense(2048),
    "Conv2d(groups=4)": lambda: keras.layers.Conv2D(512, 3, groups=4),
    "ConvTranspose1d": lambda: keras.layers.Conv1DTranspose(256, 3),
    "Conv2d(groups=in_channels)": lambda: keras.layers.DepthwiseConv2D(
        3, depth_multiplier=4
    ),
    "RNN": lambda: keras.layers.SimpleRNN(256),
    "LSTM": lambda: keras.layers.LSTM(128),
    "GRU": lambda: keras.layers.GRU(128),
    "MultiheadAttention": lambda: keras.layers.MultiHeadAttention(4, 64),
    "Embedding": lambda: keras.layers.Embedding(1000, 64),
    "LayerNorm": lambda: keras.layers.LayerNormalization(),
    "BatchNorm1d": lambda: keras.layers.BatchNormalization(),
}


def check_parity(layer, module, pairs, name):
    """Each Keras weight is distributed as its torch parameter, and a
    mutant's values are not: twice as wide (a wrong bound), or for a
    constant, off by one."""
    for keras_weight, torch_param in pairs:
        keras_values = testing.numpy(keras_weight(layer))
        torch_values = param(torch_param(module))
        assert same_distribution(keras_values, torch_values), name
        constant = np.ptp(torch_values) == 0
        mutant = keras_values + 1 if constant else 2 * keras_values
        assert not same_distribution(mutant, torch_values), name


@pytest.mark.parametrize(
    "name", [name for name, row in ROWS.items() if row[1] is not None]
)
def test_initializers_under_the_patch_match_torch(name):
    make_torch, make_keras, shapes, pairs = ROWS[name]
    with testing.fans_on():
        layer = keras_built(make_keras, *shapes)
    check_parity(layer, torch_module(make_torch), pairs, name)


@pytest.mark.parametrize("name", list(ROWS))
def test_reset_parameters_matches_torch(name):
    make_torch, _, shapes, pairs = ROWS[name]
    layer = keras_built(RESET[name], *shapes)
    with warnings.catch_warnings():
        # Nothing left alone (TensorFlow and torch warn of numpy's copy=).
        warnings.filterwarnings("error", "keras_fans.reset_parameters")
        redrawn = keras_fans.reset_parameters(layer, seed=SEED)
    assert redrawn == [w.path for w in layer.weights]
    check_parity(layer, torch_module(make_torch), pairs, name)


@pytest.mark.parametrize(
    "style",
    [
        "pytorch",
        pytest.param(
            "fans",
            marks=testing.runtime_only(
                "a native build draws the bias with its fans already: "
                "style='fans' finds nothing to re-draw"
            ),
        ),
    ],
)
def test_reset_parameters_returns_the_paths_of_the_weights_it_rewrote(style):
    """One return type for both styles: exactly the weights whose values
    it wrote (every weight is first set to 7, which no draw gives)."""
    model = keras.Sequential(
        [
            keras.Input((3, 16)),
            keras.layers.Dense(256, bias_initializer="he_uniform"),
            keras.layers.GRU(2, reset_after=False),
            keras.layers.Dense(4, bias_initializer="zeros"),
        ]
    )
    expected = {
        "pytorch": [w.path for w in model.layers[0].weights]
        + [w.path for w in model.layers[2].weights],
        "fans": [model.layers[0].bias.path],
    }[style]
    if style == "pytorch":
        for weight in model.weights:
            weight.assign(keras.ops.full(weight.shape, 7.0, weight.dtype))
    before = [testing.numpy(w) for w in model.weights]
    if style == "pytorch":
        with pytest.warns(UserWarning, match="GRUCell 'gru_cell'"):
            redrawn = keras_fans.reset_parameters(model, seed=1, force=True)
    else:
        redrawn = keras_fans.reset_parameters(model, style="fans")
    assert redrawn == expected
    for weight, value in zip(model.weights, before):
        changed = (testing.numpy(weight) != value).all()
        kept = (testing.numpy(weight) == value).all()
        assert (changed, kept) == (
            (True, False) if weight.path in redrawn else (False, True)
        ), weight.path


def check_summed_bias(values, units):
    """Asserts `values` are drawn as torch's `b_ih + b_hh`.

    The sum of two U(+-1/sqrt(units)) is triangular on +-2/sqrt(units), with
    variance 2/(3 units) (one uniform: 1/(3 units)) and kurtosis 2.4. A
    Kolmogorov-Smirnov test against it, and the sample variance within six
    standard errors, variance * sqrt((kurtosis - 1) / n).
    """
    x = np.ravel(values).astype(np.float64)
    bound = 2 / math.sqrt(units)
    triangular = stats.triang(0.5, loc=-bound, scale=2 * bound)
    p_value = stats.kstest(x, triangular.cdf).pvalue
    assert p_value > testing.ALPHA, f"not b_ih + b_hh: KS p={p_value:.2g}"
    variance = 2 / (3 * units)
    tolerance = 6 * math.sqrt((2.4 - 1) / x.size)
    assert abs(x.var() / variance - 1) < tolerance, (
        f"sample variance {x.var():.4g} is not {variance:.4g} within "
        f"{tolerance:.1%}"
    )


# SimpleRNN and LSTM, wide enough (bias of 1024 and 2048 entries) that one
# uniform of the same bound fails `check_summed_bias`: the parity rows above
# (256 and 512 entries) cannot tell the two apart.
SUMMED_BIASES = {
    "RNN": (lambda: torch.nn.RNN(64, 1024), keras.layers.SimpleRNN, 1024),
    "LSTM": (lambda: torch.nn.LSTM(64, 512), keras.layers.LSTM, 512),
}


@pytest.mark.parametrize("name", list(SUMMED_BIASES))
def test_reset_parameters_draws_the_summed_bias_of_torch(name):
    make_torch, layer_class, units = SUMMED_BIASES[name]
    module = torch_module(make_torch)
    check_summed_bias(param(module.bias_ih_l0 + module.bias_hh_l0), units)
    layer = keras_built(lambda: layer_class(units), (1, 2, 64))
    keras_fans.reset_parameters(layer, seed=SEED)
    bias = testing.numpy(layer.cell.bias)
    check_summed_bias(bias, units)
    # What a reset_parameters drawing one uniform would give must fail.
    one_uniform = np.random.default_rng(SEED).uniform(
        -1 / math.sqrt(units), 1 / math.sqrt(units), bias.size
    )
    with pytest.raises(AssertionError):
        check_summed_bias(one_uniform, units)


# Stock Keras draws a bias U(+-1/sqrt(bias size)) with the same initializer.
STOCK_BIASES = {
    "Linear": lambda init: keras.layers.Dense(2048, bias_initializer=init),
    "Conv2d(groups=4)": lambda init: keras.layers.Conv2D(
        512, 3, groups=4, bias_initializer=init
    ),
    "ConvTranspose1d": lambda init: keras.layers.Conv1DTranspose(
        256, 3, bias_initializer=init
    ),
    "Conv2d(groups=in_channels)": lambda init: keras.layers.DepthwiseConv2D(
        3, depth_multiplier=4, bias_initializer=init
    ),
}


@pytest.mark.parametrize("name", list(STOCK_BIASES))
def test_stock_keras_bias_fails_the_parity_test(name):
    make_torch, _, shapes, _ = ROWS[name]
    layer = keras_built(
        lambda: STOCK_BIASES[name](
            testing.hide_fans(PyTorchUniform(seed=SEED))
        ),
        *shapes,
    )
    torch_bias = param(torch_module(make_torch).bias)
    assert not same_distribution(testing.numpy(layer.bias), torch_bias)


def test_unsupported_layers_are_left_alone_and_listed():
    model = keras.Sequential(
        [
            keras.Input((3, 4)),
            keras.layers.Dense(5),
            keras.layers.GRU(2, reset_after=False),
        ]
    )
    gru_cell = model.layers[1].cell
    before = [testing.numpy(w) for w in gru_cell.weights]
    dense_kernel = testing.numpy(model.layers[0].kernel)
    with pytest.warns(UserWarning, match="left alone.*GRUCell 'gru_cell'"):
        keras_fans.reset_parameters(model, seed=1)
    for weight, value in zip(gru_cell.weights, before):
        np.testing.assert_array_equal(testing.numpy(weight), value)
    assert not np.array_equal(
        testing.numpy(model.layers[0].kernel), dense_kernel
    )


def test_reset_parameters_is_seeded():
    def reset(seed):
        layer = keras_built(lambda: keras.layers.Dense(8), (None, 4))
        keras_fans.reset_parameters(layer, seed=seed)
        return [testing.numpy(w) for w in layer.weights]

    for first, second in zip(reset(3), reset(3)):
        np.testing.assert_array_equal(first, second)


def test_reset_parameters_rejects_bad_input():
    with pytest.raises(ValueError, match="style='tensorflow'"):
        keras_fans.reset_parameters(keras.layers.Dense(2), style="tensorflow")
    with pytest.raises(ValueError, match="Build"):
        keras_fans.reset_parameters(keras.layers.Dense(2))
    # Issue 23: an AttributeError, an OverflowError, and strings taken as
    # True.
    with pytest.raises(TypeError, match="model_or_layer='model'"):
        keras_fans.reset_parameters("model")
    layer = keras_built(lambda: keras.layers.Dense(8), (None, 4))
    for seed in (-1, 2**31, 1.5, True):
        with pytest.raises(ValueError, match=rf"seed={seed!r}"):
            keras_fans.reset_parameters(layer, seed=seed)
    for value in ("no", "False", 1, 0):
        with pytest.raises(TypeError, match=rf"depthwise_kernels={value!r}"):
            keras_fans.reset_parameters(
                layer, style="fans", depthwise_kernels=value
            )
    keras_fans.reset_parameters(layer, seed=2**31 - 1)
    # A second re-draw: the first one's values are not Keras's draw.
    keras_fans.reset_parameters(layer, seed=0, force=True)


def test_pytorch_uniform_serializes():
    initializer = PyTorchUniform(seed=3)
    config = keras.initializers.serialize(initializer)
    restored = keras.initializers.deserialize(config)
    assert isinstance(restored, PyTorchUniform)
    assert restored.get_config() == {"seed": 3}


@testing.runtime_only("patch() registers the string 'pytorch_uniform'")
def test_pytorch_uniform_is_a_string_while_patched():
    with pytest.raises(ValueError):
        keras.initializers.get("pytorch_uniform")
    with keras_fans.patched():
        assert isinstance(
            keras.initializers.get("pytorch_uniform"), PyTorchUniform
        )
        layer = keras.layers.Dense(2, bias_initializer="pytorch_uniform")
        assert isinstance(layer.bias_initializer, PyTorchUniform)


def test_reset_parameters_refuses_trained_or_set_weights_unless_forced():
    inputs = keras.Input((4,))
    first, second = keras.layers.Dense(64), keras.layers.Dense(1)
    model = keras.Model(inputs, second(first(inputs)))
    fresh = [testing.numpy(w) for w in model.weights]
    keras_fans.reset_parameters(model, seed=1)  # A fresh model is reset.
    for w, value in zip(model.weights, fresh, strict=True):
        w.assign(value)
    first.bias.assign(np.full(first.bias.shape, 0.3, "float32"))
    before = [testing.numpy(w) for w in model.weights]
    with pytest.raises(ValueError, match="force=True") as error:
        keras_fans.reset_parameters(model, seed=1)
    assert f"{first.name}/bias: not equal to Zeros" in str(error.value)
    assert f"{first.name}/kernel" not in str(error.value)
    for w, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(testing.numpy(w), value)
    # Trained: the optimizer's steps are named too.
    model.compile(keras.optimizers.SGD(30.0), "mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, batch_size=16, verbose=0)
    before = [testing.numpy(w) for w in model.weights]
    with pytest.raises(ValueError, match="optimizer has taken 4 steps"):
        keras_fans.reset_parameters(model, seed=1)
    for w, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(testing.numpy(w), value)
    keras_fans.reset_parameters(model, seed=1, force=True)
    assert not np.array_equal(testing.numpy(first.bias), before[1])


def test_reset_parameters_force_must_be_a_boolean():
    layer = keras_built(lambda: keras.layers.Dense(8), (None, 4))
    for force in ("no", 1, None):
        with pytest.raises(TypeError, match=rf"force={force!r}"):
            keras_fans.reset_parameters(layer, force=force)
