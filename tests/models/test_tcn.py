"""TCN lifter: receptive field, dense vs single-window equivalence, padding/chunking, accounting."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import torch
from einops import rearrange
from torch.utils.flop_counter import FlopCounterMode

from lift3d.config import from_dict, to_dict
from lift3d.errors import ConfigError, InputError
from lift3d.models import TCN, TCNConfig, baseline_config_matching, count_parameters
from lift3d.models.tcn import _ConfidencePool, _fill_halves, _GapFill

J, C_IN = 17, 3
MULTI, SINGLE = (1, 2, 3), (1,)


def make(R=27, strides=MULTI, causal=False, channels=32, seed=0, span="fit", share=False, pooled=False,
         fill=0) -> TCN:
    """A small model in eval mode with non-trivial BN statistics (so equivalence tests exercise BN).
    ``pooled``: narrow coarse branches behind confidence pooling (``coarse_channels``, ``pool``); ``fill``: the
    stride-1 branch's masked joints filled from windows of up to that many frames each side."""
    torch.manual_seed(seed)
    cfg = TCNConfig(receptive_field=R, strides=strides, causal=causal, channels=channels, span=span, share=share,
                    coarse_channels=channels // 2 if pooled else None, pool=pooled, fill=fill)
    model = TCN(cfg)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def kp2d(B, T, seed=1):
    """Random inputs: coordinates ~ N(0, 1), confidences in (0, 1) with about a third of them 0 (masked)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, J, C_IN, generator=g)
    conf = torch.rand(B, T, J, generator=g)
    x[..., -1] = torch.where(conf < 0.3, 0.0, conf)
    return x


def windows(x, R):
    """All length-R windows of x: (B, T, J, C) -> (B*(T-R+1), R, J, C), batch-major."""
    B, T = x.shape[:2]
    w = x.unfold(1, R, 1)  # (B, T-R+1, J, C, R)
    return w.permute(0, 1, 4, 2, 3).reshape(B * (T - R + 1), R, J, C_IN)  # (B*T_out, R, J, C)


@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
@pytest.mark.parametrize("R", [27, 81, 243])
def test_receptive_field(R, strides):
    model = make(R, strides)
    assert model.receptive_field() == R
    assert model.config.branch_receptive_fields()[0] == R  # the stride-1 branch spans it all
    assert all(rf <= R for rf in model.config.branch_receptive_fields())
    with torch.no_grad():
        assert model(kp2d(2, R)).shape == (2, 1, J, 3)
        assert model(kp2d(2, R + 4)).shape == (2, 5, J, 3)
    with pytest.raises(InputError, match="at least receptive_field"):
        model(kp2d(1, R - 1))


def test_branch_depths_for_243():
    cfg = TCNConfig(receptive_field=243, strides=(1, 2, 3))
    assert cfg.branch_layers() == (5, 4, 4)
    assert cfg.branch_receptive_fields() == (243, 161, 241)


def test_scaled_span_widens_the_coarse_branches():
    cfg = TCNConfig(receptive_field=27, strides=(1, 2, 3), span="scaled")
    assert cfg.branch_layers() == (3, 3, 3)
    assert cfg.branch_receptive_fields() == (27, 53, 79)
    model = make(27, MULTI, span="scaled")
    assert model.receptive_field() == 79
    with torch.no_grad():
        assert model(kp2d(2, 79 + 4)).shape == (2, 5, J, 3)
    with pytest.raises(ConfigError, match="span"):
        TCNConfig(span="wide")


@pytest.mark.parametrize("pooled", [False, True], ids=["bare", "pooled"])
@pytest.mark.parametrize("span", ["fit", "scaled"])
@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
@pytest.mark.parametrize("R", [27, 81])
def test_dense_equals_single_window(R, strides, causal, span, pooled):
    model = make(R, strides, causal, span=span, pooled=pooled)
    R = model.receptive_field()
    x = kp2d(2, R + 9)
    with torch.no_grad():
        dense = model(x)  # (2, 10, J, 3)
        single = model.forward_single(windows(x, R))  # (2*10, 1, J, 3)
    torch.testing.assert_close(single.reshape(dense.shape), dense, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("span", ["fit", "scaled"])
def test_shared_branches_use_one_set_of_conv_weights(span):
    model = make(27, MULTI, span=span, share=True)
    first = model.branches[0]
    for branch in model.branches[1:]:
        assert branch.expand.weight is first.expand.weight
        for block, source in zip(branch.blocks, first.blocks):
            assert block.conv.weight is source.conv.weight and block.pointwise.weight is source.pointwise.weight
            assert block.bn is not source.bn  # each stride keeps its own statistics
    # Parameters: the unshared model's minus the coarse branches' convs; FLOPs: every branch still runs.
    unshared = make(27, MULTI, span=span)
    coarse_convs = sum(m.weight.numel() for b in unshared.branches[1:] for m in b.modules() if isinstance(m, torch.nn.Conv1d))
    assert model.num_parameters() == unshared.num_parameters() - coarse_convs
    assert count_parameters(model.config) == model.num_parameters()
    assert model.flops_per_frame() == unshared.flops_per_frame()
    # Both execution modes agree, and a saved state dict loads into a fresh model with the weights still tied.
    R = model.receptive_field()
    x = kp2d(2, R + 9)
    with torch.no_grad():
        dense = model(x)
        torch.testing.assert_close(model.forward_single(windows(x, R)).reshape(dense.shape), dense, atol=1e-5, rtol=1e-5)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = make(27, MULTI, span=span, share=True, seed=5)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.branches[2].expand.weight is fresh.branches[0].expand.weight
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), dense)


def test_shared_weights_learn_from_every_branch():
    # An unshared model holding the same numbers computes the same function; the shared weight's gradient
    # is the sum of the gradients its copies get there, one per branch.
    shared = make(27, MULTI, share=True).train()
    copies = make(27, MULTI).train()
    copies.load_state_dict(shared.state_dict())
    x = kp2d(4, 27)
    for model in (shared, copies):
        torch.manual_seed(0)  # the same dropout masks
        model.forward_single(x).square().mean().backward()
    expected = sum(b.blocks[0].conv.weight.grad for b in copies.branches)
    assert not torch.allclose(expected, copies.branches[0].blocks[0].conv.weight.grad)
    torch.testing.assert_close(shared.branches[0].blocks[0].conv.weight.grad, expected)


def test_residual_fusion_adds_the_fused_branches_to_the_stride_1_stream():
    cfg = TCNConfig(receptive_field=27, strides=MULTI, channels=16, fusion="residual")
    assert count_parameters(cfg) == count_parameters(TCNConfig(receptive_field=27, strides=MULTI, channels=16))
    torch.manual_seed(0)
    model = TCN(cfg).eval()
    x = kp2d(2, 36)
    with torch.no_grad():
        dense = model(x)
        torch.testing.assert_close(model.forward_single(windows(x, 27)).reshape(dense.shape), dense, atol=1e-5, rtol=1e-5)
        # With the fusion layer silenced (its BN outputs 0, so ReLU gives 0) the model is its stride-1 branch
        # and head alone: the single-stride model holding those weights.
        model.fuse[1].weight.zero_()
        model.fuse[1].bias.zero_()
        single = TCN(TCNConfig(receptive_field=27, strides=SINGLE, channels=16)).eval()
        single.branches[0].load_state_dict(model.branches[0].state_dict())
        single.head.load_state_dict(model.head.state_dict())
        torch.testing.assert_close(model(x), single(x))
        assert not torch.allclose(model(x), dense)


def test_confidence_pool_averages_what_was_seen():
    pool = _ConfidencePool(in_features=3, half=1)  # tent 1, 2, 1
    # One batch, two joints, four frames; features (x, y, conf) of each joint, as the codec lays them out.
    j0 = torch.tensor([[1.0, 5.0, 1.0], [0.0, 0.0, 0.0], [3.0, 7.0, 1.0], [9.0, 9.0, 0.5]])  # frame 1 masked
    j1 = torch.zeros(4, 3)  # never seen
    x = rearrange(torch.stack([j0, j1], dim=1), "t j f -> 1 t (j f)")  # channels last
    out = rearrange(pool(x), "1 t (j f) -> t j f", f=3)  # (2 pooled frames, J, 3)
    # Frame 1: neighbours 0 and 2 (weight 1 each), itself masked: their mean, a half-seen joint.
    torch.testing.assert_close(out[0, 0], torch.tensor([2.0, 6.0, 0.5]))
    # Frame 2: weights 0 x masked, 2 x (3, 7), 1 x 0.5 x (9, 9): sum 2.5; mean confidence (0 + 2 + 0.5) / 4.
    torch.testing.assert_close(out[1, 0], torch.tensor([(6.0 + 4.5) / 2.5, (14.0 + 4.5) / 2.5, 2.5 / 4]))
    torch.testing.assert_close(out[:, 1], torch.zeros(2, 3))  # nothing seen: 0, as the codec encodes it


def test_confidence_pool_step_keeps_every_nth_pooled_frame():
    x = kp2d(2, 30).reshape(2, 30, -1)  # (B, T, J*F), about a third of the joints masked
    for half, step in ((1, 2), (1, 3), (2, 4)):
        pool = _ConfidencePool(in_features=3, half=half)
        full = pool(x)
        assert full.shape == (2, 30 - 2 * half, x.shape[2])
        torch.testing.assert_close(pool(x, step=step), full[:, ::step])


def test_pooled_coarse_branches_ignore_where_a_masked_joint_was():
    model = make(27, MULTI, pooled=True)
    x = kp2d(1, 40)
    moved = x.clone()
    masked = x[..., -1] == 0
    moved[..., :-1][masked] += 5.0  # coordinates of confidence-0 joints: meaningless, the pool must not use them
    with torch.no_grad():
        for branch in model.branches[1:]:
            flat, flat_moved = (rearrange(v, "b t j c -> b (j c) t") for v in (x, moved))
            torch.testing.assert_close(branch(flat_moved), branch(flat))
        assert not torch.allclose(model.branches[0](flat_moved), model.branches[0](flat))  # stride 1: bare


def test_coarse_channels_narrow_the_coarse_branches():
    model = make(27, MULTI, channels=32, pooled=True)
    assert model.config.branch_channels() == (32, 16, 16)
    assert [b.expand.out_channels for b in model.branches] == [32, 16, 16]
    assert [b.pool is None for b in model.branches] == [True, False, False]
    assert model.fuse[0].in_channels == 32 + 16 + 16 and model.head.in_channels == 32
    assert count_parameters(model.config) == model.num_parameters()
    assert model.config.branch_receptive_fields() == (27, 2 * 8 + 1 + 2, 3 * 8 + 1 + 2)  # pooled: +1 frame each side
    base = baseline_config_matching(model.config)
    assert base.strides == SINGLE and base.coarse_channels is None and not base.pool
    cfg = from_dict(TCNConfig, to_dict(model.config))
    assert cfg == model.config
    # Configs saved before these options existed load as the bare, equal-width design.
    old = {k: v for k, v in to_dict(model.config).items() if k not in ("coarse_channels", "pool", "fill")}
    assert from_dict(TCNConfig, old).branch_channels() == (32, 32, 32) and not from_dict(TCNConfig, old).pool
    assert from_dict(TCNConfig, old).fill == 0


def _joint_frames(rows) -> torch.Tensor:
    """One batch of one joint, ``rows`` its ``(x, y, conf)`` per frame, channels last ``(1, T, 3)``."""
    return torch.tensor(rows, dtype=torch.float32)[None]


def test_gap_fill_takes_the_nearest_window_that_saw_the_joint():
    assert _fill_halves(1) == (1,) and _fill_halves(4) == (1, 2, 4) and _fill_halves(6) == (1, 2, 4, 6)
    fill = _GapFill(in_features=3, halves=(1, 2))
    seen = [[float(t), 10.0 + t, 1.0] for t in range(9)]
    x = _joint_frames(seen)
    for t in (3, 5, 6, 7):
        x[0, t] = torch.tensor([99.0, 99.0, 0.0])  # masked at 3 (alone) and 5-7 (a run of three)
    out = fill(x)[0]  # frames 2 .. 6 of the input (2 each side go to the widest window)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out[0], x[0, 2])  # seen: as it was
    torch.testing.assert_close(out[2], x[0, 4])
    # Frame 3: both neighbours seen (tent 1, 2, 1 over 2 .. 4): their mean, half the window's confidence.
    torch.testing.assert_close(out[1], torch.tensor([3.0, 13.0, 0.5]))
    # Frame 5: of 4 .. 6 only frame 4 was seen (weight 1 of 4).
    torch.testing.assert_close(out[3], torch.tensor([4.0, 14.0, 0.25]))
    # Frame 6: 5 .. 7 saw nothing; 4 .. 8 (tent 1, 2, 3, 2, 1) saw frames 4 and 8, weight 1 each of 9.
    torch.testing.assert_close(out[4], torch.tensor([6.0, 16.0, 2 / 9]))


def test_gap_fill_leaves_what_no_window_reached_and_ignores_masked_coordinates():
    fill = _GapFill(in_features=3, halves=(1,))
    x = _joint_frames([[1.0, 1.0, 1.0]] + [[7.0, 7.0, 0.0]] * 4 + [[2.0, 2.0, 0.6]])
    out = fill(x)[0]  # frames 1 .. 4
    torch.testing.assert_close(out[0], torch.tensor([1.0, 1.0, 0.25]))
    torch.testing.assert_close(out[1:3], x[0, 2:4])  # out of reach: still masked, untouched
    torch.testing.assert_close(out[3], torch.tensor([2.0, 2.0, 0.15]))
    moved = x.clone()
    moved[0, 1:5, :2] += 5.0  # where a masked joint was: meaningless, the fill must not use it
    torch.testing.assert_close(fill(moved)[0, [0, 3]], out[[0, 3]])
    step = _GapFill(in_features=3, halves=(1, 2, 4))
    x = kp2d(2, 30).reshape(2, 30, -1)  # about a third of the joints masked
    torch.testing.assert_close(step(x, step=3), step(x)[:, ::3])


@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
@pytest.mark.parametrize("span", ["fit", "scaled"])
def test_filled_model_dense_equals_single_window_and_stays_in_its_receptive_field(strides, span):
    model = make(27, strides, span=span, pooled=strides == MULTI, fill=4)
    assert [b.pool is not None for b in model.branches] == [True] * len(strides)
    assert model.config.branch_receptive_fields()[0] == 27 + 2 * 4  # stride 1 keeps its 3 layers, spans 8 more
    assert count_parameters(model.config) == count_parameters(replace(model.config, fill=0))  # no weights
    R = model.receptive_field()
    x = kp2d(2, R + 9)
    with torch.no_grad():
        dense = model(x)
        torch.testing.assert_close(model.forward_single(windows(x, R)).reshape(dense.shape), dense,
                                   atol=1e-5, rtol=1e-5)
    t_out = torch.arange(R + 9 - R + 1)
    for frame in (0, R // 2, R + 8):
        changed = _changed_outputs(model, x[:1], frame)
        assert not (changed & ~((t_out <= frame) & (frame <= t_out + R - 1))).any(), frame
        assert changed[t_out + model.frame_offset() == frame].all(), frame


def test_filled_branch_sees_masked_joints_from_their_neighbours():
    """A joint masked in one frame reaches the stride-1 branch as its neighbours' mean, whatever its own
    coordinates were; without ``fill`` the branch sees them as given."""
    x = kp2d(1, 40)
    x[..., -1] = 1.0
    x[0, 20, 4] = torch.tensor([0.0, 0.0, 0.0])  # masked as the codec encodes it
    truth = x.clone()
    truth[0, 20, 4, :2] = (x[0, 19, 4, :2] + x[0, 21, 4, :2]) / 2
    truth[0, 20, 4, 2] = 0.5
    filled, bare = make(27, SINGLE, fill=2), make(27, SINGLE)
    flat = rearrange(x, "b t j c -> b t (j c)")
    got = rearrange(filled.branches[0].pool(flat), "b t (j c) -> b t j c", c=C_IN)
    torch.testing.assert_close(got, truth[:, 2:-2])
    assert bare.branches[0].pool is None


def _changed_outputs(model, x, frame):
    """Which dense output frames change when input ``frame`` is perturbed."""
    y = x.clone()
    y[:, frame] += 3.0 * torch.randn_like(y[:, frame])
    with torch.no_grad():
        diff = (model(y) - model(x)).abs().amax(dim=(0, 2, 3))  # (T_out,)
    assert ((diff < 1e-6) | (diff > 1e-4)).all(), "perturbation gave an ambiguous change"
    return diff > 1e-4


@pytest.mark.parametrize("pooled", [False, True], ids=["bare", "pooled"])
@pytest.mark.parametrize("span", ["fit", "scaled"])
@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
def test_output_depends_exactly_on_receptive_field(strides, causal, span, pooled):
    model = make(27, strides, causal, span=span, pooled=pooled)
    R = model.receptive_field()
    T = R + 20
    x = kp2d(1, T)
    t_out = torch.arange(T - R + 1)
    for frame in (0, 5, R - 1, R + 3, T - 1):
        # Output i sees input frames i .. i + R - 1 (and stands for frame i + frame_offset()).
        expected = (t_out <= frame) & (frame <= t_out + R - 1)
        changed = _changed_outputs(model, x, frame)
        if span == "fit" or strides == SINGLE:
            assert torch.equal(changed, expected), frame
        else:
            # Coarse branches reaching past the stride-1 branch see every s-th frame there: nothing outside
            # the receptive field, and the window's first and last frames (the coarsest branch's end taps).
            assert not (changed & ~expected).any(), frame
            ends = (t_out == frame) | (t_out + R - 1 == frame)
            assert changed[ends].all(), frame


def test_causal_never_sees_the_future():
    R = 27
    model = make(R, MULTI, causal=True)
    assert model.frame_offset() == R - 1
    T = 40
    x = kp2d(1, T)
    for frame in (0, 13, 39):
        y = x.clone()
        y[:, frame] += 3.0
        with torch.no_grad():
            diff = (model.predict_sequence(y) - model.predict_sequence(x)).abs().amax(dim=(0, 2, 3))  # (T,)
        assert (diff[:frame] == 0).all()  # aligned outputs before the perturbed frame are untouched
        assert diff[frame] > 1e-4


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("T_factor", ["1", "5", "R", "3R"])
def test_predict_sequence_matches_sliding_single_window(T_factor, causal):
    R = 27
    T = {"1": 1, "5": 5, "R": R, "3R": 3 * R}[T_factor]
    model = make(R, MULTI, causal)
    x = kp2d(2, T)
    with torch.no_grad():
        out = model.predict_sequence(x)
        left = R - 1 if causal else (R - 1) // 2
        padded = torch.cat([x[:, :1].repeat(1, left, 1, 1), x, x[:, -1:].repeat(1, R - 1 - left, 1, 1)], 1)
        manual = model.forward_single(windows(padded, R)).reshape(2, T, J, 3)  # every window, one call
    assert out.shape == (2, T, J, 3)
    torch.testing.assert_close(out, manual, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
def test_chunking_gives_the_same_result(causal):
    R = 27
    model = make(R, MULTI, causal)
    x = kp2d(2, 3 * R + 5)
    with torch.no_grad():
        full = model.predict_sequence(x)
        for chunk in (1, 7, R, 1000):
            torch.testing.assert_close(model.predict_sequence(x, chunk=chunk), full, atol=1e-6, rtol=0)
    with pytest.raises(InputError, match="chunk"):
        model.predict_sequence(x, chunk=0)


@pytest.mark.parametrize("channels", [32, 320])
@pytest.mark.parametrize("R", [81, 243])
def test_baseline_matches_parameter_count(R, channels):
    cfg = TCNConfig(receptive_field=R, channels=channels, dropout=0.1, causal=True)
    base = baseline_config_matching(cfg)
    assert base.strides == (1,)
    assert (base.receptive_field, base.dropout, base.causal) == (R, 0.1, True)
    n_multi, n_base = count_parameters(cfg), count_parameters(base)
    assert abs(n_base - n_multi) / n_multi < 0.05


@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
def test_count_parameters_matches_built_model(strides):
    cfg = TCNConfig(receptive_field=81, strides=strides, channels=32)
    assert count_parameters(cfg) == TCN(cfg).num_parameters()


def test_single_stride_is_videopose3d():
    # VideoPose3D, 243 frames, 1024 channels, 17 joints with 2D input (the 16.95 M model of Pavllo et al.):
    # expand 34*1024*3 + BN 2*1024, 4 blocks of (1024*1024*3 + 1024*1024 + 2 BN * 2*1024), shrink 1024*51 + 51.
    cfg = TCNConfig(receptive_field=243, strides=(1,), channels=1024, in_features=2)
    expected = 34 * 1024 * 3 + 2 * 1024 + 4 * (1024 * 1024 * 4 + 4 * 1024) + 1024 * 51 + 51
    assert count_parameters(cfg) == expected == 16_952_371


@pytest.mark.parametrize("strides", [SINGLE, MULTI], ids=["single", "multi"])
def test_flops_per_frame_matches_flop_counter(strides):
    R = 27
    model = make(R, strides)
    T = 2000
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(kp2d(1, T))
    measured = counter.get_total_flops() / (T - R + 1)
    assert abs(measured - model.flops_per_frame()) / model.flops_per_frame() < 0.03


def test_gradient_reaches_every_parameter():
    model = make(27, MULTI).train()
    out = model.forward_single(kp2d(4, 27))
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    model.zero_grad()
    model(kp2d(2, 40)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dtype_follows_module_and_input():
    model = make(27, MULTI).double()
    out = model.predict_sequence(kp2d(1, 10).double())
    assert out.dtype == torch.float64


def test_mismatched_state_dict_fails_loudly():
    multi = make(27, MULTI)
    with pytest.raises(RuntimeError):
        make(27, SINGLE).load_state_dict(multi.state_dict())
    with pytest.raises(RuntimeError):
        make(81, MULTI).load_state_dict(multi.state_dict())
    make(27, MULTI, seed=3).load_state_dict(multi.state_dict())  # same architecture loads


def test_input_validation():
    model = make(27, MULTI)
    with pytest.raises(InputError, match=r"\(B, T, 17, 3\)"):
        model(torch.randn(2, 40, 16, 3))
    with pytest.raises(InputError, match="exactly"):
        model.forward_single(kp2d(1, 28))
    with pytest.raises(InputError, match=r"\(B, T, 17, 3\)"):
        model.predict_sequence(torch.randn(40, 17, 3))


@pytest.mark.parametrize(
    "bad",
    [
        {"receptive_field": 100},
        {"receptive_field": 1},
        {"strides": [2, 3]},
        {"strides": [1, 1]},
        {"strides": [1, 14], "receptive_field": 27},
        {"fusion": "attention"},
        {"dropout": 1.0},
        {"channels": 0},
        {"coarse_channels": 0},
        {"coarse_channels": 16, "channels": 32, "share": True},
        {"coarse_channels": 16, "channels": 32, "fusion": "sum"},
        {"pool": True, "in_features": 1},
        {"pool": True, "strides": [1, 13], "receptive_field": 27},  # 13 * 2 + 1 fits, plus 2 * 6 pooled does not
        {"fill": -1},
        {"fill": True},
        {"fill": 2.5},
        {"fill": 4, "in_features": 1},
        {"fill": 4, "causal": True},
    ],
)
def test_config_validation(bad):
    with pytest.raises(ConfigError):
        from_dict(TCNConfig, bad)


def test_config_round_trips_and_sum_fusion():
    cfg = from_dict(TCNConfig, {"receptive_field": 27, "strides": [1, 2], "channels": 16, "fusion": "sum"})
    assert cfg.strides == (1, 2)
    assert from_dict(TCNConfig, to_dict(cfg)) == cfg
    model = TCN(cfg).eval()
    x = kp2d(1, 30)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_single(windows(x, 27)).reshape(1, 4, J, 3), model(x))
