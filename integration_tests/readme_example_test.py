"""The README's example, end to end: a wide Dense layer's he_uniform bias."""

import math

import keras
import numpy as np

from keras_fans import testing


def he_bias(bias_initializer="he_uniform"):
    layer = keras.layers.Dense(4096, bias_initializer=bias_initializer)
    layer.build((None, 16))
    return testing.numpy(layer.bias)


def test_readme_example():
    with testing.fans_on():
        fixed = he_bias()
    # As stock Keras (or Keras after keras_fans.unpatch()) draws it.
    stock = he_bias(testing.hide_fans("he_uniform"))
    testing.check_draw_against(fixed, stock, "uniform", 2.0 / 16)
    testing.check_draw_against(stock, fixed, "uniform", 2.0 / 4096)
    np.testing.assert_allclose(np.abs(fixed).max(), math.sqrt(6 / 16), 0.01)
    np.testing.assert_allclose(np.abs(stock).max(), math.sqrt(6 / 4096), 0.01)


def test_patched_model_trains_saves_and_reloads(tmp_path):
    with testing.fans_on():
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(32, "relu", bias_initializer="he_uniform"),
                keras.layers.Dense(1, bias_initializer="he_uniform"),
            ]
        )
        model.compile("adam", "mse")
        x = np.linspace(-1, 1, 64, dtype="float32").reshape(16, 4)
        model.fit(x, x[:, :1], epochs=2, verbose=0)
        path = tmp_path / "model.keras"
        model.save(path)
        reloaded_patched = keras.saving.load_model(path)
    reloaded_stock = keras.saving.load_model(path)
    for reloaded in (reloaded_patched, reloaded_stock):
        assert len(reloaded.weights) == len(model.weights) == 4
        for saved, loaded in zip(model.weights, reloaded.weights, strict=True):
            np.testing.assert_array_equal(
                testing.numpy(loaded), testing.numpy(saved)
            )
        assert reloaded.to_json() == model.to_json()
