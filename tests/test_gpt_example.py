"""End-to-end: examples/tiny_gpt.py's GPT learns to sort digits on a small budget."""
import os
import sys

import numpy as np

import deepdive

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import tiny_gpt  # noqa: E402


def test_tiny_gpt_learns_to_sort():
    result = tiny_gpt.main(steps=60, n_digits=4, batch_size=32, d_model=32, n_head=2, d_ff=64, lr=1e-2,
                           verbose=False)
    losses = result["losses"]
    assert np.isfinite(losses).all()
    # the start is ~ln(11) = 2.4 (uniform guess); sorting 4 digits is learnt to well under a third of that
    assert np.mean(losses[-5:]) < 0.3 * losses[0], losses[::10]
    assert result["greedy_accuracy"] > 0.3      # a random guess gets ~0.1% of 4-digit sequences right


def test_generate_samples_with_temperature_and_top_k():
    deepdive.manual_seed(0)
    model = tiny_gpt.build_gpt(deepdive, block_size=8, d_model=16, n_layer=1, n_head=2, d_ff=32)
    model.eval()
    prompt = deepdive.tensor(np.array([[1, 2, 3], [4, 5, 6]]))
    out = model.generate(prompt, 5, temperature=0.7, top_k=2)
    assert out.shape == (2, 8) and out.dtype == deepdive.int64
    np.testing.assert_array_equal(out.numpy()[:, :3], prompt.numpy())
    # top_k=1 is greedy: the argmax of the logits, deterministic
    greedy = model.generate(prompt, 1, top_k=1)
    expected = model(prompt)[:, -1, :].argmax(-1).numpy()
    np.testing.assert_array_equal(greedy.numpy()[:, -1], expected)
    # a prompt longer than block_size is cropped to the last block_size tokens
    long = model.generate(deepdive.tensor(np.arange(10).reshape(1, 10) % 11), 2)
    assert long.shape == (1, 12)
