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
