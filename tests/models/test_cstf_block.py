import resource

import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models import FUSIONS, CSTFBlock


def _trained(block: CSTFBlock) -> CSTFBlock:
    """Give the zero-initialised output projection some weight."""
    torch.manual_seed(0)
    with torch.no_grad():
        block.project.weight.normal_(0, 0.2)
    return block


@pytest.mark.parametrize('fusion', FUSIONS)
def test_shapes_and_source_influence(fusion: str) -> None:
    torch.manual_seed(1)
    target, source = torch.randn(2, 32, 12, 10), torch.randn(2, 32, 6, 5)
    block = CSTFBlock(32, fusion)  # type: ignore[arg-type]
    out = block(target, source)
    assert out.shape == target.shape
    if fusion == 'none':
        assert out is target
        assert list(block.parameters()) == []
        return
    # starts as (normalised) identity: the source has no effect yet
    torch.testing.assert_close(out, block(target, torch.randn_like(source)))
    _trained(block)
    changed = block(target, source + torch.randn_like(source))
    assert (changed - block(target, source)).abs().max() > 1e-2
    block(target, source).sum().backward()
    assert all(p.grad is not None for p in block.parameters())


def test_sca_is_local_and_ca_is_global() -> None:
    torch.manual_seed(2)
    target, source = torch.randn(1, 16, 16, 16), torch.randn(1, 16, 16, 16)
    far = source.clone()
    # change the source only in the bottom-right corner
    far[..., 12:, 12:] += 3.0 * torch.randn(1, 16, 4, 4)
    sca = _trained(CSTFBlock(16, 'sca', window=3))
    delta = (sca(target, far) - sca(target, source)).abs().amax(dim=1)[0]
    assert delta[:10, :10].max() == 0  # top-left outputs cannot see that corner
    assert delta[12:, 12:].min() > 0
    ca = _trained(CSTFBlock(16, 'ca'))
    delta = (ca(target, far) - ca(target, source)).abs().amax(dim=1)[0]
    assert delta[:4, :4].min() > 0  # every position attends to the whole source


def test_autocast_and_gradients() -> None:
    block = _trained(CSTFBlock(32))
    target = torch.randn(1, 32, 16, 16, requires_grad=True)
    source = torch.randn(1, 32, 8, 8, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = block(target, source)
    assert torch.isfinite(out).all()
    out.float().square().mean().backward()
    assert source.grad is not None and source.grad.abs().sum() > 0


def test_memory_is_linear_in_target_positions() -> None:
    """128×128 positions: a full attention matrix alone would need 4 GiB."""
    block = CSTFBlock(32, heads=4).eval()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        out = block(torch.randn(1, 32, 128, 128), torch.randn(1, 32, 128, 128))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out.shape == (1, 32, 128, 128)
    assert grown_mib < 600


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match='fusion'):
        CSTFBlock(32, 'max')  # type: ignore[arg-type]
    with pytest.raises(InputError, match='heads'):
        CSTFBlock(30, heads=4)
    with pytest.raises(InputError, match='window'):
        CSTFBlock(32, window=4)
    with pytest.raises(InputError, match='source'):
        CSTFBlock(32)(torch.randn(1, 32, 4, 4), torch.randn(1, 16, 4, 4))


@pytest.mark.parametrize('chunk', [2**19, 8 * 6 * 2])
def test_sca_equals_a_naive_window_attention(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCA against a per-position loop over the window (masked at the borders).

    Also in bands of two rows (``SCA_CHUNK`` = 2 rows of 8 channels × 6 columns).
    """
    from torchgeo_cstf.models import cstf
    from torchgeo_cstf.models.cstf import SpatialCrossAttention

    monkeypatch.setattr(cstf, 'SCA_CHUNK', chunk)
    torch.manual_seed(3)
    heads, window, c, h, w = 2, 3, 8, 5, 6
    sca = SpatialCrossAttention(c, heads, window)
    torch.nn.init.normal_(sca.bias)
    target, source = torch.randn(1, c, h, w), torch.randn(1, c, h, w)
    fast = sca(target, source)
    d, r = c // heads, window // 2
    q = sca.query(target).reshape(heads, d, h, w)
    k, v = sca.key_value(source).reshape(2, heads, d, h, w).unbind(0)
    naive = torch.zeros(heads, d, h, w)
    for y in range(h):
        for x in range(w):
            logits, values = [], []
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    sy, sx = y + dy, x + dx
                    if 0 <= sy < h and 0 <= sx < w:
                        bias = sca.bias[:, (dy + r) * window + (dx + r)]
                        logits.append(
                            (q[:, :, y, x] * k[:, :, sy, sx]).sum(1) / d**0.5 + bias
                        )
                        values.append(v[:, :, sy, sx])
            weights = torch.softmax(torch.stack(logits, 1), dim=1)  # (heads, n)
            naive[:, :, y, x] = (weights[:, None] * torch.stack(values, 2)).sum(2)
    torch.testing.assert_close(fast, naive.reshape(1, c, h, w), atol=1e-5, rtol=0)
