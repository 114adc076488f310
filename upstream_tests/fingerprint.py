"""A hash of the initial weights of one layer of each kind the fix covers.

Builds each layer with seeded initializers (`he_uniform` biases, depthwise
and recurrent kernels at their defaults) and prints one SHA-256 of all the
weights' bytes, so two Keras installs can be compared bit for bit.
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


def _layers():
    def bias():
        return keras.initializers.HeUniform(seed=3)

    def kernel():
        return keras.initializers.GlorotUniform(seed=4)

    conv = {"kernel_initializer": kernel(), "bias_initializer": bias()}
    recurrent = {
        **conv,
        "recurrent_initializer": keras.initializers.Orthogonal(seed=5),
    }
    return [
        (keras.layers.Dense(32, **conv), (4, 24)),
        (
            keras.layers.EinsumDense(
                "abc,cde->abde", (3, 4, 5), bias_axes="de", **conv
            ),
            (2, 3, 6),
        ),
        (keras.layers.Conv2D(8, 3, groups=2, **conv), (1, 9, 9, 4)),
        (keras.layers.Conv2DTranspose(8, 3, **conv), (1, 9, 9, 4)),
        (
            keras.layers.DepthwiseConv2D(
                3,
                depth_multiplier=2,
                depthwise_initializer=kernel(),
                bias_initializer=bias(),
            ),
            (1, 9, 9, 4),
        ),
        (
            keras.layers.SeparableConv2D(
                8,
                3,
                depthwise_initializer=kernel(),
                pointwise_initializer=kernel(),
                bias_initializer=bias(),
            ),
            (1, 9, 9, 4),
        ),
        (keras.layers.SimpleRNN(6, **recurrent), (2, 5, 4)),
        (keras.layers.GRU(6, **recurrent), (2, 5, 4)),
        (keras.layers.LSTM(6, **recurrent), (2, 5, 4)),
        (keras.layers.ConvLSTM1D(6, 3, **recurrent), (2, 5, 9, 4)),
        (keras.layers.MultiHeadAttention(2, 4, **conv), None),
    ]


def fingerprint():
    digest = hashlib.sha256()
    for layer, shape in _layers():
        if shape is None:
            layer.build((2, 5, 8), (2, 5, 8))
        else:
            layer.build(shape)
        for weight in layer.weights:
            values = keras.ops.convert_to_numpy(weight)
            digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


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
