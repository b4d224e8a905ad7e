"""The CSTF fusion block: cross attention ‖ spatial cross attention.

A *target* feature map takes information from a *source* feature map: another
acquisition of the same ground (temporal fusion), the other image of a pair
(cross-modal), or a neighbouring pyramid level (cross-scale). Two branches read
the source:

- **CA**, global multi-head cross attention: every target position attends to
  the source average-pooled to at most ``pool × pool`` tokens — context from
  many regions at once, at a cost linear in the number of target positions;
- **SCA**, spatial cross attention: every target position attends to the
  ``window × window`` source positions around the same place (the source is
  resized to the target grid first), with a learned relative-position bias —
  sensitivity to distinctive local structure.

``fusion`` selects how the branches combine (the paper's ablation): ``concat``
(CA ‖ SCA → 1×1 convolution, the paper's best), ``sum``, ``ca`` or ``sca`` alone,
or ``none`` (the block returns the target unchanged). The fused signal is added
to the target through a zero-initialised projection (the block starts as the
identity) and normalised.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError

Fusion = Literal['concat', 'sum', 'ca', 'sca', 'none']
FUSIONS: tuple[str, ...] = ('concat', 'sum', 'ca', 'sca', 'none')
#: query values (batch × channels × columns × rows) SCA processes per band of rows
SCA_CHUNK = 2**19


def sine_positions(height: int, width: int, channels: int, like: Tensor) -> Tensor:
    """2-D sine/cosine position encoding of a grid, shape (channels, H, W).

    Positions are normalised to [0, 1] along each axis, so grids of different
    sizes covering the same image share encodings.

    Args:
        height: grid rows.
        width: grid columns.
        channels: encoding channels (a multiple of 4).
        like: tensor giving dtype and device.

    Returns:
        The encoding.
    """
    quarter = channels // 4
    frequencies = torch.exp(
        torch.arange(quarter, device=like.device, dtype=torch.float32)
        * (-math.log(1000.0) / max(quarter, 1))
    ) * (2 * math.pi * 8)
    ys = (torch.arange(height, device=like.device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=like.device, dtype=torch.float32) + 0.5) / width
    y = ys[:, None] * frequencies[None]  # (H, quarter)
    x = xs[:, None] * frequencies[None]  # (W, quarter)
    encoding = torch.cat(
        (
            torch.sin(y)[:, None, :].expand(height, width, quarter),
            torch.cos(y)[:, None, :].expand(height, width, quarter),
            torch.sin(x)[None, :, :].expand(height, width, quarter),
            torch.cos(x)[None, :, :].expand(height, width, quarter),
        ),
        dim=-1,
    )
    padded = F.pad(encoding, (0, channels - 4 * quarter))
    return padded.permute(2, 0, 1).to(like.dtype)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def __init__(self, channels: int) -> None:
        """Initialise the norm.

        Args:
            channels: number of channels.
        """
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise each position's channel vector."""
        normed: Tensor = self.norm(x.permute(0, 2, 3, 1))
        return normed.permute(0, 3, 1, 2)


class CrossAttention(nn.Module):
    """CA: target positions attend to the pooled source (global context)."""

    def __init__(self, channels: int, heads: int, pool: int) -> None:
        """Initialise the branch.

        Args:
            channels: feature channels (divisible by ``heads``).
            heads: attention heads.
            pool: the source is average-pooled to at most pool × pool tokens.
        """
        super().__init__()
        self.heads = heads
        self.pool = pool
        self.query = nn.Conv2d(channels, channels, 1)
        self.key_value = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        """Attend; returns (B, C, H, W)."""
        b, c, h, w = target.shape
        pooled = F.adaptive_avg_pool2d(
            source, (min(self.pool, source.shape[-2]), min(self.pool, source.shape[-1]))
        )
        target = target + sine_positions(h, w, c, target)
        pooled = pooled + sine_positions(pooled.shape[-2], pooled.shape[-1], c, pooled)
        d = c // self.heads
        q = self.query(target).reshape(b, self.heads, d, h * w).transpose(-1, -2)
        k, v = self.key_value(pooled).reshape(b, 2, self.heads, d, -1).unbind(1)
        out = F.scaled_dot_product_attention(
            q, k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return out.transpose(-1, -2).reshape(b, c, h, w)


class SpatialCrossAttention(nn.Module):
    """SCA: target positions attend to a local source window at the same place."""

    def __init__(self, channels: int, heads: int, window: int) -> None:
        """Initialise the branch.

        Args:
            channels: feature channels (divisible by ``heads``).
            heads: attention heads.
            window: odd side of the source neighbourhood.
        """
        super().__init__()
        self.heads = heads
        self.window = window
        self.query = nn.Conv2d(channels, channels, 1)
        self.key_value = nn.Conv2d(channels, 2 * channels, 1)
        self.bias = nn.Parameter(torch.zeros(heads, window * window))

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        """Attend; returns (B, C, H, W).

        The window is visited offset by offset on views of the zero-padded
        keys and values (no ``unfold`` copy of window × window maps), one band
        of rows at a time (about :data:`SCA_CHUNK` query values per band), so
        the maps an offset touches stay in the CPU's caches whatever the batch
        and image size; neighbours outside the map are masked out.
        """
        b, c, h, w = target.shape
        if source.shape[-2:] != (h, w):
            source = F.interpolate(
                source, size=(h, w), mode='bilinear', align_corners=False
            )
        d = c // self.heads
        r = self.window // 2
        q = self.query(target).reshape(b, self.heads, d, h, w) / math.sqrt(d)
        k, v = self.key_value(source).reshape(b, 2, self.heads, d, h, w).unbind(1)
        k, v = F.pad(k, (r, r, r, r)), F.pad(v, (r, r, r, r))
        inside = F.pad(
            torch.ones(h, w, device=target.device, dtype=torch.bool), (r, r, r, r)
        )
        rows = max(1, SCA_CHUNK // (b * c * w))
        bands = [
            self._attend(
                q[..., top : top + rows, :],
                k[..., top : top + rows + 2 * r, :],
                v[..., top : top + rows + 2 * r, :],
                inside[top : top + rows + 2 * r],
            )
            for top in range(0, h, rows)
        ]
        return torch.cat(bands, dim=3).reshape(b, c, h, w)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, inside: Tensor) -> Tensor:
        """Window attention of a band of query rows.

        Args:
            q: (B, heads, d, n, w) scaled queries of n rows.
            k: (B, heads, d, n + 2r, w + 2r) padded keys around them.
            v: padded values, like ``k``.
            inside: (n + 2r, w + 2r) True where ``k`` and ``v`` are not padding.

        Returns:
            (B, heads, d, n, w) attended values.
        """
        n, w = q.shape[-2:]
        offsets = [(dy, dx) for dy in range(self.window) for dx in range(self.window)]
        logits = torch.stack(
            [(q * k[..., dy : dy + n, dx : dx + w]).sum(2) for dy, dx in offsets], 2
        )
        mask = torch.stack([inside[dy : dy + n, dx : dx + w] for dy, dx in offsets])
        logits = (logits + self.bias[None, :, :, None, None]).masked_fill(
            ~mask, float('-inf')
        )
        weights = torch.softmax(logits.float(), dim=2).to(v.dtype)
        out = weights[:, :, 0, None] * v[..., :n, :w]
        for index, (dy, dx) in enumerate(offsets[1:], start=1):
            out = out + weights[:, :, index, None] * v[..., dy : dy + n, dx : dx + w]
        return out


class CSTFBlock(nn.Module):
    """Fuse a target feature map with a source feature map (see the module docs).

    Memory and time are linear in the number of target positions: CA attends to a
    fixed number of pooled tokens and SCA to a fixed window.

    Args:
        channels: channels of both maps.
        fusion: ``concat`` (default), ``sum``, ``ca``, ``sca`` or ``none``.
        heads: attention heads (``channels`` must be divisible by it).
        window: odd SCA window side.
        pool: CA pools the source to at most ``pool × pool`` tokens.

    Example:
        >>> import torch
        >>> from torchgeo_cstf.models import CSTFBlock
        >>> block = CSTFBlock(64, fusion='concat')
        >>> target, source = torch.randn(2, 64, 32, 32), torch.randn(2, 64, 32, 32)
        >>> block(target, source).shape
        torch.Size([2, 64, 32, 32])
    """

    def __init__(
        self,
        channels: int,
        fusion: Fusion = 'concat',
        heads: int = 4,
        window: int = 5,
        pool: int = 16,
    ) -> None:
        """Initialise the block; see the class docstring for arguments."""
        super().__init__()
        if fusion not in FUSIONS:
            raise InputError('fusion', f'must be one of {FUSIONS}, got {fusion!r}')
        if channels % heads:
            raise InputError('heads', f'{heads} does not divide channels={channels}')
        if window < 1 or window % 2 == 0:
            raise InputError('window', f'must be a positive odd number, got {window}')
        self.fusion = fusion
        self.ca = (
            CrossAttention(channels, heads, pool)
            if fusion in ('concat', 'sum', 'ca')
            else None
        )
        self.sca = (
            SpatialCrossAttention(channels, heads, window)
            if fusion in ('concat', 'sum', 'sca')
            else None
        )
        if fusion == 'none':
            return
        self.norm_target = ChannelNorm(channels)
        self.norm_source = ChannelNorm(channels)
        inputs = 2 * channels if fusion == 'concat' else channels
        self.project = nn.Conv2d(inputs, channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)  # type: ignore[arg-type]
        self.norm_out = ChannelNorm(channels)

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        """Fuse.

        Args:
            target: (B, C, H, W) features to enrich.
            source: (B, C, H', W') features to read from (any size).

        Returns:
            (B, C, H, W) fused target features.
        """
        if self.fusion == 'none':
            return target
        if target.shape[:2] != source.shape[:2]:
            raise InputError(
                'source',
                f'batch and channels {tuple(source.shape[:2])} differ from the '
                f'target {tuple(target.shape[:2])}',
            )
        t = self.norm_target(target)
        s = self.norm_source(source)
        branches: list[Tensor] = []
        if self.ca is not None:
            branches.append(self.ca(t, s))
        if self.sca is not None:
            branches.append(self.sca(t, s))
        mixed = torch.cat(branches, 1) if self.fusion == 'concat' else branches[0]
        if self.fusion == 'sum':
            mixed = branches[0] + branches[1]
        fused: Tensor = self.norm_out(target + self.project(mixed))
        return fused
