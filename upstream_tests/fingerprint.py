"""The initial weights of each layer the fix covers, built with every form
of initializer a layer accepts, one line each.

Each layer kind is built once per form of its fan-ruled initializers (the
bias, and the depthwise kernel where there is one): `None`, a string, an
instance, a config dict, a `HeUniform` subclass overriding
`__call__(shape, dtype=None)`, a plain function, a lambda, and a function
declaring `fan_in` / `fan_out` (which sees the fans it is handed). Each line
is `<layer> <form> <SHA-256 of the weights' bytes>`, or the exception's type
and message where the build raises, so two Keras installs can be compared
bit for bit. The global seed is reset before each build: the unseeded forms
draw the same values on both sides.
`--patch` applies `keras_fans.patch()` first (the runtime patch); with
`--prs N`, only the rules of the series' PRs 1..N; without either, the
installed Keras draws as it is (stock, or with PRs applied).

Usage: KERAS_BACKEND=B python -m upstream_tests.fingerprint
           [--patch | --prs N]
"""

import argparse
import hashlib

import keras
import numpy as np


class _OwnCall(keras.initializers.HeUniform):
    """A subclass whose `__call__` does not declare the fans."""

    def __call__(self, shape, dtype=None):
        return super().__call__(shape, dtype=dtype)


def _plain(shape, dtype=None):
    return keras.random.uniform(shape, dtype=dtype, seed=6)


def _declaring(shape, dtype=None, fan_in=None, fan_out=None):
    return keras.ops.full(shape, float(fan_in or -1) + (fan_out or -1) / 1e4)


FORMS = {
    "None": lambda: None,
    "string": lambda: "he_uniform",
    "instance": lambda: keras.initializers.HeUniform(seed=3),
    "config": lambda: {"class_name": "HeUniform", "config": {"seed": 3}},
    "subclass": lambda: _OwnCall(seed=3),
    "function": lambda: _plain,
    "lambda": lambda: lambda shape, dtype=None: keras.ops.ones(shape, dtype),
    "declaring": lambda: _declaring,
}


def _kinds(form):
    """(name, layer maker, input shape) of each kind, `form` for its bias
    (and depthwise kernel) initializer."""

    def conv():
        return {
            "kernel_initializer": keras.initializers.GlorotUniform(seed=4),
            "bias_initializer": form(),
        }

    def recurrent():
        orthogonal = keras.initializers.Orthogonal(seed=5)
        return {**conv(), "recurrent_initializer": orthogonal}

    def depthwise():
        return {"depthwise_initializer": form(), "bias_initializer": form()}

    layers = keras.layers
    return [
        ("Dense", lambda: layers.Dense(32, **conv()), (4, 24)),
        (
            "EinsumDense",
            lambda: layers.EinsumDense(
                "abc,cde->abde", (3, 4, 5), bias_axes="de", **conv()
            ),
            (2, 3, 6),
        ),
        (
            "Conv2D",
            lambda: layers.Conv2D(8, 3, groups=2, **conv()),
            (1, 9, 9, 4),
        ),
        (
            "Conv2DTranspose",
            lambda: layers.Conv2DTranspose(8, 3, **conv()),
            (1, 9, 9, 4),
        ),
        (
            "DepthwiseConv2D",
            lambda: layers.DepthwiseConv2D(
                3, depth_multiplier=2, **depthwise()
            ),
            (1, 9, 9, 4),
        ),
        (
            "SeparableConv2D",
            lambda: layers.SeparableConv2D(8, 3, **depthwise()),
            (1, 9, 9, 4),
        ),
        ("SimpleRNN", lambda: layers.SimpleRNN(6, **recurrent()), (2, 5, 4)),
        ("GRU", lambda: layers.GRU(6, **recurrent()), (2, 5, 4)),
        ("LSTM", lambda: layers.LSTM(6, **recurrent()), (2, 5, 4)),
        (
            "ConvLSTM1D",
            lambda: layers.ConvLSTM1D(6, 3, **recurrent()),
            (2, 5, 9, 4),
        ),
        (
            "MultiHeadAttention",
            lambda: layers.MultiHeadAttention(2, 4, **conv()),
            None,
        ),
    ]


def _digest(make, shape):
    layer = make()
    if shape is None:
        layer.build((2, 5, 8), (2, 5, 8))
    else:
        layer.build(shape)
    digest = hashlib.sha256()
    for weight in layer.weights:
        values = keras.ops.convert_to_numpy(weight)
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def fingerprint():
    """One line per layer kind and form."""
    lines = []
    for form_name, form in FORMS.items():
        for name, make, shape in _kinds(form):
            keras.utils.set_random_seed(1)
            try:
                result = _digest(make, shape)
            except Exception as error:  # Compared: the same on both sides.
                result = f"{type(error).__name__}: {error}"
            lines.append(f"{name} {form_name} {result}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patch", action="store_true")
    parser.add_argument("--prs", type=int, help="the rules of PRs 1..N")
    args = parser.parse_args(argv)
    if args.patch:
        import keras_fans

        keras_fans.patch()
    elif args.prs is not None:
        from keras_fans import patching
        from keras_fans.upstream import series

        patching._patch_rules(series.runtime_rules(args.prs))
    print(fingerprint())


if __name__ == "__main__":
    main()
