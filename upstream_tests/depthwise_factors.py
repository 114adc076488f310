"""How much `keras_fans.patch()` rescales keras.applications' depthwise kernels.

Each application is built with `weights=None` twice in one process, after
`keras.utils.set_random_seed(0)` each time: stock, then inside
`keras_fans.patched()` (which re-fans depthwise kernels by default). For
every depthwise kernel (`BaseDepthwiseConv.kernel`,
`BaseSeparableConv.depthwise_kernel`) it measures
std(patched) / std(stock). For a glorot-uniform kernel of shape
(kh, kw, in, dm), stock fans are kh*kw*in and kh*kw*dm, one channel's are
kh*kw and kh*kw*dm, so the predicted factor is sqrt((in + dm) / (1 + dm)).
A depthwise_initializer that is not fan_avg (EfficientNet's fan_out
VarianceScaling) should give ratio 1.

Usage: KERAS_BACKEND=jax python -m upstream_tests.depthwise_factors
"""

import argparse
import contextlib

import keras
import numpy as np
from keras.src.layers.convolutional import base_depthwise_conv as depthwise
from keras.src.layers.convolutional import base_separable_conv as separable

import keras_fans

# Application -> its build arguments (besides weights=None).
APPLICATIONS = {
    "MobileNet": {"input_shape": (96, 96, 3)},
    "MobileNetV2": {"input_shape": (96, 96, 3)},
    "MobileNetV3Small": {"input_shape": (96, 96, 3)},
    # include_top=True would need 224x224.
    "NASNetMobile": {"input_shape": (96, 96, 3), "include_top": False},
    "Xception": {"input_shape": (96, 96, 3)},
    "EfficientNetB0": {"input_shape": (96, 96, 3)},
}


def _kernels(name, patched):
    """The depthwise kernels of a fresh `name`, as float64 arrays."""
    keras.utils.set_random_seed(0)
    build = getattr(keras.applications, name)
    with keras_fans.patched() if patched else contextlib.nullcontext():
        model = build(weights=None, **APPLICATIONS[name])
    out = []
    for layer in model.layers:
        if isinstance(layer, depthwise.BaseDepthwiseConv):
            out.append(layer.kernel)
        elif isinstance(layer, separable.BaseSeparableConv):
            out.append(layer.depthwise_kernel)
    return [keras.ops.convert_to_numpy(k).astype(np.float64) for k in out]


def _row(name):
    stock, patched = _kernels(name, False), _kernels(name, True)
    assert [k.shape for k in stock] == [k.shape for k in patched]
    ratios = [p.std() / s.std() for s, p in zip(stock, patched)]
    predicted = [
        np.sqrt((k.shape[-2] + k.shape[-1]) / (1 + k.shape[-1])) for k in stock
    ]
    return (
        f"| {name} | {len(stock)} | {min(ratios):.2f} / "
        f"{np.median(ratios):.2f} / {max(ratios):.2f} | "
        f"{min(predicted):.2f} / {max(predicted):.2f} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--applications",
        nargs="+",
        choices=APPLICATIONS,
        default=list(APPLICATIONS),
    )
    args = parser.parse_args(argv)
    shapes = ", ".join(f"{n} {APPLICATIONS[n]}" for n in args.applications)
    print(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
        f"weights=None; {shapes}"
    )
    print()
    print(
        "| application | depthwise kernels | measured ratio "
        "min / median / max | predicted (glorot) min / max |"
    )
    print("|---|---|---|---|")
    for name in args.applications:
        print(_row(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
