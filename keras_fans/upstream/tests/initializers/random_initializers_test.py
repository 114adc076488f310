import numpy as np

from keras.src import initializers
from keras.src import testing
from keras.src.initializers.random_initializers import compute_fans


class RandomInitializersTest(testing.TestCase):
    def test_compute_fans_with_fans(self):
        self.assertEqual(compute_fans((7,), fan_in=16), (16, 7))
        self.assertEqual(compute_fans((7,), fan_out=3), (7, 3))
        self.assertEqual(
            compute_fans((2, 3, 4), [0], [2], fan_in=5, fan_out=6), (5, 6)
        )

    def test_variance_scaling_with_fans(self):
        initializer = initializers.HeUniform(seed=1)
        # fan_in 16 instead of the shape's 4: the same draw, its limit
        # sqrt(6 / fan_in) halved.
        self.assertAllClose(
            initializer((4, 3), fan_in=16, fan_out=3),
            np.asarray(initializer((4, 3))) * 0.5,
        )

    def test_with_fans(self):
        def plain(shape, dtype=None):
            return np.zeros(shape)

        self.assertIs(initializers.with_fans(plain, 16, 3), plain)
        initializer = initializers.HeUniform(seed=1)
        expected = initializer((4, 3), fan_in=16, fan_out=3)
        with_fans = initializers.with_fans(initializer, 16, 3)
        self.assertAllClose(with_fans((4, 3)), expected)
        # Wrapped again, the last fans given win.
        rewrapped = initializers.with_fans(
            initializers.with_fans(initializer, 2, 9), 16, 3
        )
        self.assertAllClose(rewrapped((4, 3)), expected)
