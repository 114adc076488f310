"""Sharded biases get their fan context, on JAX with 8 virtual CPU devices.

`keras.distribution` is implemented for JAX only; the device count is
fixed when JAX starts, so the check runs as this file's `main()` in a
process of its own with `XLA_FLAGS` set first.

Keras initializes a sharded variable in one of two ways
(`keras/src/backend/jax/core.py`): an initializer that declares `layout`
is called with it; a large one is otherwise called through
`jax.jit(initializer.__call__, out_shardings=...)`. Both are exercised.
"""

import os
import subprocess
import sys

import keras
import pytest

from keras_fans import testing

WIDTH = 4096
# 2**23 float32 entries on 8 devices cross Keras's 250 MiB threshold for
# initializing through the jitted `__call__`.
HUGE = 2**23


@pytest.mark.skipif(
    testing.keras_before("3.14"),
    reason="Keras before 3.14 initializes a variable sharded only from "
    "250 MiB in all (3.13; none before it), 3.14 counts the size over the "
    "devices: the 32 MiB bias here takes no sharded path to check",
)
def test_sharded_biases_get_their_fans():
    if keras.backend.backend() != "jax":
        pytest.skip(
            "keras.distribution is implemented for JAX only (TensorFlow's "
            "backend file is a 'DO NOT USE' prototype; PyTorch has none)"
        )
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    }
    result = subprocess.run(
        [sys.executable, __file__],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"native={testing.NATIVE}" in result.stdout
    assert "all distributed biases checked" in result.stdout


def main():
    import jax

    try:
        from keras.src.backend.jax.core import should_shard_at_init
    except ModuleNotFoundError:  # Keras 3.16 moved it to the backend's ops.
        from keras.src.backend.jax.ops.core import should_shard_at_init

    class LayoutHeUniform(keras.initializers.HeUniform):
        """Declares `layout`: Keras hands it the sharding to draw into."""

        def __call__(
            self, shape, dtype=None, layout=None, *, fan_in=None, fan_out=None
        ):
            assert layout is not None
            values = super().__call__(
                shape, dtype, fan_in=fan_in, fan_out=fan_out
            )
            return jax.sharding.reshard(values, layout)

    devices = keras.distribution.list_devices()
    assert len(devices) == 8, devices
    mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    # Anchored: Keras before 3.14 matches keys with `re.search`, where
    # "dense.*kernel" would match "einsum_dense/kernel" too.
    for name in ("dense", "einsum"):
        layout_map[f"^{name}.*kernel"] = (None, "model")
        layout_map[f"^{name}.*bias"] = ("model",)
    distributions = {
        "ModelParallel": keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        ),
        "DataParallel": keras.distribution.DataParallel(devices=devices),
    }
    print(f"native={testing.NATIVE}")
    for name, distribution in distributions.items():
        with distribution.scope(), testing.fans_on():
            dense = keras.layers.Dense(
                WIDTH, bias_initializer=keras.initializers.HeUniform(seed=1)
            )
            dense.build((None, 16))
            einsum = keras.layers.EinsumDense(
                "ab,bc->ac",
                WIDTH,
                bias_axes="c",
                # Keras hands an initializer `layout=` since 3.15. The
                # series' `with_fans` hands a bias only its shape and dtype
                # (no Keras initializer declares `layout`): the runtime
                # patch's keeps the wrapped signature.
                bias_initializer=(
                    keras.initializers.HeUniform(seed=2)
                    if testing.keras_before("3.15") or testing.NATIVE
                    else LayoutHeUniform(seed=2)
                ),
            )
            einsum.build((None, 16))
            huge = keras.layers.Dense(
                HUGE, bias_initializer=keras.initializers.HeUniform(seed=3)
            )
            huge.build((None, 2))
        for layer, fan_in, seed in (
            (dense, 16, 1),
            (einsum, 16, 2),
            (huge, 2, 3),
        ):
            sharding = layer.bias.value.sharding
            print(name, layer.name, sharding)
            if name == "ModelParallel":
                assert tuple(sharding.spec) == ("model",), sharding
            # Stock Keras's draw: fan_in is the bias's size.
            stock = keras.initializers.HeUniform(seed)(layer.bias.shape)
            testing.check_draw_against(
                layer.bias, stock, "uniform", 2.0 / fan_in
            )
        # The huge bias took the jitted path.
        layout = huge.bias._layout
        assert should_shard_at_init(
            getattr(layout, "backend_layout", layout), huge.bias.shape
        )
    print("all distributed biases checked")


if __name__ == "__main__":
    main()
