import math

import numpy as np
from absl.testing import parameterized

from keras.src import initializers
from keras.src import ops
from keras.src import testing
from keras.src.initializers import random_initializers


class ComputeFansTest(testing.TestCase):
    def test_explicit_fans_win(self):
        compute_fans = random_initializers.compute_fans
        self.assertEqual(compute_fans((7,)), (7, 7))
        self.assertEqual(compute_fans((7,), fan_in=16), (16, 7))
        self.assertEqual(compute_fans((7,), fan_out=3), (7, 3))
        self.assertEqual(compute_fans((2, 3), [0], [1], fan_in=5), (5, 3))

    @parameterized.parameters(
        ("fan_in", 0, ValueError),
        ("fan_in", -3, ValueError),
        ("fan_out", 2.5, ValueError),
        ("fan_in", float("nan"), ValueError),
        ("fan_out", "16", TypeError),
        ("fan_in", True, TypeError),
    )
    def test_bad_fans_are_named(self, name, value, error):
        with self.assertRaisesRegex(error, f"{name}={value!r}"):
            random_initializers.compute_fans((7,), **{name: value})


class VarianceScalingFansTest(testing.TestCase):
    def test_without_fans_values_are_unchanged(self):
        initializer = initializers.HeUniform(seed=3)
        self.assertAllClose(
            initializer((4, 3)), initializer((4, 3), fan_in=4, fan_out=3)
        )

    def test_fan_in_sets_the_bound(self):
        n, fan_in = 20000, 16
        values = ops.convert_to_numpy(
            initializers.HeUniform(seed=3)((n,), fan_in=fan_in)
        )
        bound = math.sqrt(6.0 / fan_in)
        # All n draws stay below q * bound with probability q ** n = 1e-6.
        self.assertBetween(
            np.abs(values).max(), bound * 1e-6 ** (1 / n), bound + 1e-6
        )

    @parameterized.parameters(
        "RandomNormal", "TruncatedNormal", "RandomUniform", "Orthogonal"
    )
    def test_other_random_initializers_ignore_fans(self, name):
        initializer = getattr(initializers, name)(seed=5)
        self.assertAllClose(
            initializer((3, 3)), initializer((3, 3), fan_in=2, fan_out=9)
        )
