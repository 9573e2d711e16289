"""lift3d.models.dropout: the CPU-cheap dropout the temporal lifters train with."""

import pytest
import torch

from lift3d.errors import ConfigError
from lift3d.models.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_keep_mask_drops_a_share_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.empty(400, 1000), p)
    assert mask.shape == (400, 1000) and mask.dtype == torch.float32
    dropped = (mask == 0).float().mean().item()
    assert abs(dropped - p) < 0.003  # 400k draws: the standard error is under 0.0008
    assert torch.all((mask == 0) | torch.isclose(mask, torch.tensor(1 / (1 - p))))
    assert abs(mask.mean().item() - 1.0) < 0.01  # unbiased: E[mask] = 1


def test_keep_mask_is_independent_across_elements_and_of_any_length():
    torch.manual_seed(1)
    for n in (1, 3, 5, 1001):  # lengths that do not fill the last 64-bit word
        assert keep_mask(torch.empty(n), 0.25).shape == (n,)
    mask = keep_mask(torch.empty(200_000), 0.5) > 0
    # The four 16-bit numbers cut from one word must not be tied: neighbours agree half the time.
    agree = (mask[1:] == mask[:-1]).float().mean().item()
    assert abs(agree - 0.5) < 0.01
    # Nor may positions within a word differ: each of the four lanes keeps half.
    lanes = mask.view(-1, 4).float().mean(0)
    torch.testing.assert_close(lanes, torch.full((4,), 0.5), atol=0.01, rtol=0)


def test_dropout_is_seeded_by_torch_manual_seed_and_idle_in_eval():
    x = torch.randn(8, 16, 27)
    drop = Dropout(0.25)
    torch.manual_seed(3)
    a = drop(x)
    torch.manual_seed(3)
    torch.testing.assert_close(drop(x), a)
    assert not torch.equal(drop(x), a)  # the next call draws a new mask
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_dropout_gradient_is_the_mask():
    torch.manual_seed(4)
    x = torch.randn(64, 32, requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    kept = y.detach() != 0
    torch.testing.assert_close(x.grad[kept], torch.full_like(x.grad[kept], 2.0))
    assert torch.all(x.grad[~kept] == 0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_a_probability_outside_0_1(p):
    with pytest.raises(ConfigError, match="p must be in"):
        Dropout(p)
