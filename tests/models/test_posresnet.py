"""Pose-ResNet volumetric lifter: soft-argmax, shapes of every variant, known parameter counts, accounting."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch.autograd import gradcheck
from torch.utils.flop_counter import FlopCounterMode

from lift3d.config import from_dict, to_dict
from lift3d.errors import ConfigError, InputError
from lift3d.models import PoseResNet, PoseResNetConfig, soft_argmax_3d

J = 5


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(**kw) -> PoseResNetConfig:
    """A few-thousand-parameter model on 32 px heatmaps (feature map 2x2, volume 4 x 8 x 8)."""
    base = dict(
        num_joints=J, in_channels=J, input_size=32, depth=18, width=4, stem="heatmap", cbam_reduction=2,
        wasp_channels=8, deconv_layers=2, deconv_channels=8, depth_bins=4,
    )
    return PoseResNetConfig(**{**base, **kw})


def build(cfg: PoseResNetConfig, seed: int = 0) -> PoseResNet:
    torch.manual_seed(seed)
    return PoseResNet(cfg)


def meta_params(cfg: PoseResNetConfig, part: str | None = None) -> int:
    with torch.device("meta"):
        model = PoseResNet(cfg)
    if part is None:
        return model.num_parameters()
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(part))


def inputs(cfg: PoseResNetConfig, B: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)


# ---- soft-argmax -----------------------------------------------------------------------------------------


def test_soft_argmax_peaked_volume_gives_the_voxel_centre():
    D, H, W = 3, 4, 5
    v = torch.full((2, 1, D, H, W), -200.0, dtype=torch.float64)
    v[0, 0, 2, 1, 4] = 200.0  # (z, y, x) voxel indices
    v[1, 0, 0, 3, 0] = 200.0
    out = soft_argmax_3d(v)  # (2, 1, 3)
    centre = lambda k, n: (2 * k + 1) / n - 1  # noqa: E731
    expected = torch.tensor([[[centre(4, W), centre(1, H), centre(2, D)]], [[centre(0, W), centre(3, H), centre(0, D)]]],
                            dtype=torch.float64)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)


def test_soft_argmax_is_an_expectation():
    # Uniform volume -> the centre; two equal peaks -> their midpoint (an argmax would pick one).
    torch.testing.assert_close(soft_argmax_3d(torch.zeros(4, 6, 8)), torch.zeros(3))
    v = torch.full((4, 6, 8), -100.0, dtype=torch.float64)
    v[0, 0, 0] = v[2, 4, 6] = 100.0
    mid = torch.tensor([((1 / 8 - 1) + (13 / 8 - 1)) / 2, ((1 / 6 - 1) + (9 / 6 - 1)) / 2, ((1 / 4 - 1) + (5 / 4 - 1)) / 2],
                       dtype=torch.float64)
    torch.testing.assert_close(soft_argmax_3d(v), mid, atol=1e-12, rtol=0)


def test_soft_argmax_equals_the_softmax_expectation_at_any_scale():
    # The expectation under the softmax, in float32 too where exp(logits) alone would overflow (logits in the
    # hundreds) or underflow to 0 everywhere (all far below 0).
    g = torch.Generator().manual_seed(1)
    for shift, scale in ((0.0, 1.0), (400.0, 30.0), (-400.0, 30.0)):
        v = shift + scale * torch.randn(2, 3, 4, 5, 6, generator=g)
        p = torch.softmax(v.double().flatten(-3), -1).unflatten(-1, (4, 5, 6))
        centres = [(2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1 for n in (6, 5, 4)]  # x, y, z
        expected = torch.stack([(p.sum((-3, -2)) * centres[0]).sum(-1), (p.sum((-3, -1)) * centres[1]).sum(-1),
                                (p.sum((-2, -1)) * centres[2]).sum(-1)], -1)
        out = soft_argmax_3d(v)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=0)


def test_soft_argmax_batch_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 3, 2, 3, 4, dtype=torch.float64, generator=g)
    out = soft_argmax_3d(v)
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[1, 2], soft_argmax_3d(v[1, 2]))
    assert gradcheck(soft_argmax_3d, (v[:1, :2].clone().requires_grad_(),))
    with pytest.raises(InputError, match="D, H, W"):
        soft_argmax_3d(torch.zeros(4, 4))


# ---- shapes of every variant -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [18, 34, 50])
@pytest.mark.parametrize("stem,size", [("heatmap", 32), ("image", 64)])
def test_output_shapes_for_each_depth_and_stem(depth, stem, size):
    cfg = tiny(depth=depth, stem=stem, input_size=size, in_channels=3 if stem == "image" else J)
    model = build(cfg).eval()
    x = inputs(cfg)
    assert cfg.feature_size() == 2 and cfg.heatmap_size() == 8
    with torch.no_grad():
        feats = model.features(x)
        vol = model.volume(x)
        out = model(x)
    assert feats.shape == (2, cfg.wasp_channels, 2, 2)
    assert vol.shape == (2, J, cfg.depth_bins, 8, 8)
    assert out.shape == (2, J, 3)
    torch.testing.assert_close(out, soft_argmax_3d(vol))
    assert (out.abs() < 1).all()


@pytest.mark.parametrize("cbam", [False, True], ids=["no-cbam", "cbam"])
@pytest.mark.parametrize("wasp", [False, True], ids=["no-wasp", "wasp"])
@pytest.mark.parametrize("head", ["volumetric", "regression"])
def test_ablation_variants(cbam, wasp, head):
    cfg = tiny(cbam=cbam, wasp=wasp, head=head)
    model = build(cfg).eval()
    with torch.no_grad():
        out = model(inputs(cfg))
        feats = model.features(inputs(cfg))
    assert out.shape == (2, J, 3) and torch.isfinite(out).all()
    assert feats.shape[1] == (cfg.wasp_channels if wasp else cfg.stage_channels()[-1])
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert ("attention" in names) == cbam and ("wasp" in names) == wasp
    if head == "regression":
        with pytest.raises(ConfigError, match="regression"):
            model.volume(inputs(cfg))
    # CBAM changes what the backbone computes (it is not an identity): same weights without it differ.
    if cbam and not wasp:
        plain = build(replace(cfg, cbam=False)).eval()
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("attention")})
        with torch.no_grad():
            assert not torch.allclose(plain.features(inputs(cfg)), feats, atol=1e-3)


def test_wasp_is_a_waterfall():
    # Branch k is fed by branch k-1: zeroing the first branch's conv zeroes every later branch's input.
    cfg = tiny(input_size=64, wasp_dilations=(1, 2, 3))
    model = build(cfg).eval()
    wasp = model.wasp
    assert [b[0].dilation[0] for b in wasp.waterfall] == [1, 2, 3]
    assert wasp.waterfall[1][0].in_channels == cfg.wasp_channels  # fed by branch 1, not the backbone
    assert wasp.fuse[0].in_channels == cfg.wasp_channels * 4  # 3 branches + global pooling
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append((i[0], o))) for b in wasp.waterfall]
    with torch.no_grad():
        model(inputs(cfg))
    for h in hooks:
        h.remove()
    for (_, out_prev), (in_next, _) in zip(seen, seen[1:]):
        assert in_next is out_prev


def test_gradient_reaches_every_parameter():
    # Wide enough that no ReLU layer is dead for the whole batch (CBAM's MLP sees non-negative descriptors).
    cfg = tiny(width=8, cbam_reduction=1)
    model = build(cfg).train()
    model(inputs(cfg, B=3)).square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_inference_by_sample_equals_the_batched_volume():
    """Without gradients the head's last layer and the soft-argmax run one sample at a time (forward's
    docstring): the numbers are the batched volume's soft-argmax, in eval and train mode alike."""
    cfg = tiny()
    model = build(cfg).eval()
    x = inputs(cfg, B=5)
    with torch.no_grad():
        by_sample, batched = model(x), soft_argmax_3d(model.volume(x))
        assert by_sample.shape == (5, J, 3)
        torch.testing.assert_close(by_sample, batched, rtol=0, atol=1e-6)
        torch.testing.assert_close(model(x[:1]), batched[:1], rtol=0, atol=1e-6)
        assert model(x[:0]).shape == (0, J, 3)
    with_grad = model(x)
    assert with_grad.requires_grad
    torch.testing.assert_close(with_grad.detach(), batched, rtol=0, atol=1e-6)


def test_dtype_follows_module_and_input():
    cfg = tiny()
    model = build(cfg).double().eval()
    with torch.no_grad():
        assert model(inputs(cfg).double()).dtype == torch.float64


# ---- known architectures and accounting ------------------------------------------------------------------


@pytest.mark.parametrize("depth,expected", [(18, 11_176_512), (34, 21_284_672), (50, 23_508_032)])
def test_backbone_is_the_standard_resnet(depth, expected):
    # torchvision's resnet18/34/50 parameter counts (11_689_512, 21_797_672, 25_557_032) less the 1000-way fc.
    cfg = PoseResNetConfig(depth=depth, width=64, stem="image", cbam=False, wasp=False)
    assert meta_params(cfg, "stem") + meta_params(cfg, "stages") == expected


def test_simple_baselines_head():
    # Xiao et al.'s ResNet-50 model: 3 deconvs of 256 channels and a 1x1 conv to 17 heatmaps (D = 1).
    cfg = PoseResNetConfig(depth=50, cbam=False, wasp=False, depth_bins=1)
    deconvs = 2048 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 2 * 256  # + BN
    assert meta_params(cfg, "head") == deconvs + 256 * 17 + 17
    assert meta_params(cfg) == 23_508_032 + deconvs + 256 * 17 + 17


def test_cbam_and_wasp_parameter_counts():
    cfg = tiny(width=8, cbam_reduction=4, wasp_dilations=(1,), wasp_channels=8)
    # CBAM on C channels: MLP C -> C/4 -> C with biases, 7x7 conv 2 -> 1 with bias.
    cbam = sum(c * (c // 4) + c // 4 + (c // 4) * c + c + 2 * 49 + 1 for c in cfg.stage_channels())
    assert meta_params(cfg, "attention") == cbam
    c_in, c = cfg.stage_channels()[-1], 8
    wasp = (c_in * c * 9 + 2 * c) + (c_in * c + c) + (2 * c * c + 2 * c)  # atrous+BN, pooled conv, fuse+BN
    assert meta_params(cfg, "wasp") == wasp


@pytest.mark.parametrize("head", ["volumetric", "regression"])
def test_flops_per_sample_matches_flop_counter(head):
    cfg = tiny(head=head, input_size=64)
    model = build(cfg).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(inputs(cfg, B=3))
    assert counter.get_total_flops() == 3 * model.flops_per_sample()


def test_heatmap_size_follows_stride_and_deconvs():
    assert PoseResNetConfig().heatmap_size() == 64  # 256 px crop, stride 32, 3 deconvs: Xiao et al.'s 64x64
    assert PoseResNetConfig(stem="heatmap", input_size=64, in_channels=17).heatmap_size() == 32
    assert tiny(deconv_layers=0).heatmap_size() == 2


# ---- config ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"depth": 101}, "depth"),
        ({"depth": 18.0}, "depth"),
        ({"stem": "patch"}, "stem"),
        ({"head": "heatmap"}, "head"),
        ({"input_size": 250}, "input_size"),
        ({"input_size": 48, "stem": "image"}, "input_size"),
        ({"width": 0}, "width"),
        ({"depth_bins": 0}, "depth_bins"),
        ({"depth_range_m": -1.0}, "depth_range_m"),
        ({"deconv_layers": -1}, "deconv_layers"),
        ({"wasp_dilations": [2, 1]}, "wasp_dilations"),
        ({"wasp_dilations": [1, 2, 8], "input_size": 256}, "wasp_dilations"),
        ({"cbam": "yes"}, "cbam"),
    ],
)
def test_config_validation_names_the_field(bad, field):
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        from_dict(PoseResNetConfig, bad)


def test_input_size_error_suggests_valid_sizes():
    with pytest.raises(ConfigError, match="use 224 or 256"):
        PoseResNetConfig(input_size=250)


def test_default_wasp_dilations_fit_the_feature_map():
    assert PoseResNetConfig(input_size=256).resolved_wasp_dilations() == (1, 2, 3, 4)  # 8x8 map
    assert PoseResNetConfig(input_size=128).resolved_wasp_dilations() == (1, 2, 3)  # 4x4 map
    assert PoseResNetConfig(input_size=32).resolved_wasp_dilations() == (1,)  # 1x1 map
    # Explicit dilations that do not fit are fine when WASP is off (they are unused).
    assert PoseResNetConfig(input_size=64, wasp=False, wasp_dilations=(6, 12)).wasp_dilations == (6, 12)


def test_config_round_trips():
    cfg = from_dict(PoseResNetConfig, {"depth": 34, "wasp_dilations": [1, 3], "head": "regression"})
    assert cfg.wasp_dilations == (1, 3)
    assert from_dict(PoseResNetConfig, to_dict(cfg)) == cfg


def test_input_validation():
    model = build(tiny())
    with pytest.raises(InputError, match=r"\(B, 5, 32, 32\)"):
        model(torch.rand(2, 3, 32, 32))
    with pytest.raises(InputError, match=r"\(B, 5, 32, 32\)"):
        model(torch.rand(5, 32, 32))
