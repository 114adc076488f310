"""Plain PyTorch MLPs (no Keras), the seeds of a cell trained side by side.

Each seed's network is drawn by real `torch.nn.Linear` modules (PyTorch's
defaults), then the networks are stacked: weights `(seeds, in, out)`,
biases `(seeds, 1, out)`, one batched matmul per layer. The loss is the sum
of the seeds' mean squared errors, so each parameter's gradient is its own
seed's, and Adam is per parameter: this is training each network on its
own, batched.

Seeds: network s is drawn after `torch.manual_seed(NATIVE_SEED_OFFSET +
s)`. Keras cells seed their initializers with small integers, and on the
torch backend a Keras integer seed s draws from a `torch.Generator` seeded
with s: an offset keeps the two sets of streams disjoint.
"""

import numpy as np

from keras_fans.breakpoints import box_weights
from keras_fans.breakpoints import breakpoint_bias

NATIVE_SEED_OFFSET = 1_000_000
VARIANTS = ("pytorch", "spread", "box")


def initial_parameters(sizes, seeds, variant, low, high):
    """Per layer, stacked `(weight, bias)` float32 arrays of the seeds'
    networks with layer sizes `sizes` (inputs, hidden..., outputs).

    `pytorch`: `torch.nn.Linear` defaults. `spread`: the same, then the
    first layer's bias set by `keras_fans.breakpoints.breakpoint_bias` with
    the box [low, high] and its own U(0, 1) draws. `box`: the same, then the
    first layer's kernel and bias set by `keras_fans.breakpoints.box_weights`
    (points in the open unit cube, normal directions).
    """
    import torch

    layers = [([], []) for _ in sizes[1:]]
    for seed in seeds:
        torch.manual_seed(NATIVE_SEED_OFFSET + seed)
        for (weights, biases), fan_in, fan_out in zip(
            layers, sizes[:-1], sizes[1:]
        ):
            linear = torch.nn.Linear(fan_in, fan_out)
            weights.append(linear.weight.detach().numpy().T)
            biases.append(linear.bias.detach().numpy()[None, :])
        if variant == "spread":
            kernel = layers[0][0][-1]
            uniforms = torch.rand(kernel.shape, dtype=torch.float64).numpy()
            layers[0][1][-1] = breakpoint_bias(kernel, low, high, uniforms)[
                None, :
            ].astype("float32")
        elif variant == "box":
            kernel = layers[0][0][-1]
            tiny = 2.0**-24
            points = tiny + (1 - 2 * tiny) * torch.rand(
                kernel.shape, dtype=torch.float64
            )
            directions = torch.randn(kernel.shape, dtype=torch.float64)
            kernel, bias = box_weights(
                low, high, points.numpy(), directions.numpy()
            )
            layers[0][0][-1] = kernel.astype("float32")
            layers[0][1][-1] = bias[None, :].astype("float32")
    return [(np.stack(weights), np.stack(biases)) for weights, biases in layers]


def crosses_box(kernel, bias, low, high):
    """Per unit: whether the hyperplane w . x + b = 0 meets the box [low,
    high] (in one dimension: the breakpoint -b/w lies in it). `kernel` is
    `(d, units)`."""
    low, high = np.asarray(low)[:, None], np.asarray(high)[:, None]
    lowest = np.sum(np.minimum(kernel * low, kernel * high), axis=0) + bias
    highest = np.sum(np.maximum(kernel * low, kernel * high), axis=0) + bias
    return (lowest <= 0) & (highest >= 0)


def lr_factor(step, steps, decay):
    """The learning rate's factor at `step` of `steps`: 1, then over the
    last `decay` share of the steps a linear fall to 0 (at step `steps`)."""
    start = steps * (1 - decay)
    if decay == 0 or step < start:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


def train(
    parameters,
    x,
    y,
    order,
    batch_size,
    learning_rate,
    epsilon,
    decay=0.0,
    evaluate=None,
):
    """Trains the stacked networks on the samples `order` (all epochs, in
    batches) with Adam; returns each seed's final MSE over all of x, or over
    the `(inputs, targets)` pair `evaluate` if given.

    The learning rate is constant, then, over the last `decay` share of the
    steps, falls linearly to 0.
    """
    import torch

    params = [
        torch.tensor(array, requires_grad=True)
        for layer in parameters
        for array in layer
    ]
    optimizer = torch.optim.Adam(params, lr=learning_rate, eps=epsilon)
    steps = -(-len(order) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps, decay)
    )

    def forward(inputs):
        hidden = inputs.expand(params[0].shape[0], -1, -1)
        for i in range(0, len(params), 2):
            hidden = torch.baddbmm(params[i + 1], hidden, params[i])
            if i + 2 < len(params):
                hidden = torch.relu(hidden)
        return hidden

    xs, ys = torch.from_numpy(x[order]), torch.from_numpy(y[order])
    for start in range(0, len(order), batch_size):
        stop = start + batch_size
        optimizer.zero_grad()
        error = forward(xs[start:stop]) - ys[start:stop]
        loss = torch.sum(torch.mean(error**2, dim=(1, 2)))
        loss.backward()
        optimizer.step()
        schedule.step()
    x, y = (x, y) if evaluate is None else evaluate
    with torch.no_grad():
        error = forward(torch.from_numpy(x)) - torch.from_numpy(y)
        return torch.mean(error**2, dim=(1, 2)).numpy().astype(float)
