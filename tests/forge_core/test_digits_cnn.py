"""End to end: a small CNN built from forge's layers learns scikit-learn's 8x8 digits.

Gradient checks prove each op right in isolation; this proves the pieces right together
(Conv2d, ReLU, MaxPool2d, Flatten, Linear, CrossEntropyLoss, Adam) on real data,
in float32, the way a user trains.
"""

from __future__ import annotations

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn, optim

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

SEED = 0
EPOCHS = 12
BATCH = 32


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images scaled to [0, 1] as (N, 1, 8, 8) float32; a stratified 75/25 split."""
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)[:, None]
    labels = data.target.astype(np.int64)
    split: list[np.ndarray] = train_test_split(
        images, labels, test_size=0.25, stratify=labels, random_state=SEED
    )
    return split[0], split[1], split[2], split[3]


def model() -> nn.Module:
    """Two convolutions before the one pooling: an 8x8 digit pooled early loses the strokes
    that tell a 3 from a 9."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),  # 16 x 8 x 8
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),  # 32 x 8 x 8
        nn.ReLU(),
        nn.MaxPool2d(2),  # 32 x 4 x 4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def test_cnn_reaches_97_percent_on_held_out_digits() -> None:
    fc.manual_seed(SEED)
    x_train, x_test, y_train, y_test = digits()
    net = model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(net.parameters(), lr=1e-2)
    order = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        permutation = order.permutation(len(x_train))
        for start in range(0, len(permutation), BATCH):
            batch = permutation[start : start + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(net(fc.from_numpy(x_train[batch])), fc.from_numpy(y_train[batch]))
            loss.backward()
            optimizer.step()

    net.eval()
    with fc.no_grad():
        logits = net(fc.from_numpy(x_test))
    assert logits.dtype == np.float32
    accuracy = float((logits.data.argmax(axis=1) == y_test).mean())
    assert accuracy >= 0.97, f"held-out accuracy {accuracy:.2%} after {EPOCHS} epochs"
