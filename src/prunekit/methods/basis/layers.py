"""SVD decomposition of a conv or linear layer into orthonormal basis filters, per-basis scaling
factors and a back-projection; and its export back to stock layers."""

from __future__ import annotations

import torch
from torch import nn

_CONV = nn.modules.conv._ConvNd


class BasisScaled(nn.Module):
    """y = back(basis(x) * s): ``basis`` holds r orthonormal filters (frozen), ``back`` the 1x1
    back-projection U * Sigma and the bias (frozen), ``scale`` one trainable factor per basis.
    A training device only: ``export`` returns stock layers."""

    def __init__(self, basis: nn.Module, back: nn.Module, spatial: int) -> None:
        super().__init__()
        self.basis, self.back = basis, back
        self.scale = nn.Parameter(torch.ones(basis.weight.shape[0]))
        self._shape = [1, -1] + [1] * spatial  # where the basis channel axis is
        for p in (*basis.parameters(), *back.parameters()):
            p.requires_grad_(False)

    @property
    def rank(self) -> int:
        return int(self.scale.numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.basis(x)
        if isinstance(self.basis, nn.Linear):
            return self.back(z * self.scale)
        return self.back(z * self.scale.reshape(self._shape))

    @torch.no_grad()
    def keep(self, indices: list[int]) -> None:
        """Keep only the given bases (at least one)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        self.basis.weight = nn.Parameter(self.basis.weight[index].clone(), requires_grad=False)
        self.back.weight = nn.Parameter(self.back.weight[:, index].clone(), requires_grad=False)
        self.scale = nn.Parameter(self.scale[index].clone())
        if isinstance(self.basis, nn.Linear):
            self.basis.out_features = len(indices)
            self.back.in_features = len(indices)
        else:
            self.basis.out_channels = len(indices)
            self.back.in_channels = len(indices)

    def pays(self) -> bool:
        """r'(n + C_out) < C_out * n: the two layers hold fewer weights than one."""
        n = self.basis.weight[0].numel()
        out = self.back.weight.shape[0]
        return self.rank * (n + out) < out * n

    @torch.no_grad()
    def export(self, split: bool | None = None) -> nn.Module:
        """Stock layers: (basis, 1x1 back-projection with the scales folded in) when ``split``
        (default: when the rank pays), otherwise one layer of the original shape with the
        rank-reduced weight."""
        folded = self.back.weight * self.scale.reshape(1, -1, *([1] * (self.back.weight.dim() - 2)))
        if self.pays() if split is None else split:
            basis = _clone(self.basis)
            back = _clone(self.back)
            back.weight = nn.Parameter(folded.clone())
            return nn.Sequential(basis, back)
        merged = _clone_original(self)
        flat = folded.reshape(folded.shape[0], -1) @ self.basis.weight.reshape(self.rank, -1)
        merged.weight = nn.Parameter(flat.reshape(merged.weight.shape).clone())
        if self.back.bias is not None:
            merged.bias = nn.Parameter(self.back.bias.clone())
        return merged


def _clone(layer: nn.Module) -> nn.Module:
    import copy

    out = copy.deepcopy(layer)
    for p in out.parameters():
        p.requires_grad_(True)
    return out


def _clone_original(module: BasisScaled) -> nn.Module:
    basis, back = module.basis, module.back
    if isinstance(basis, nn.Linear):
        return nn.Linear(basis.in_features, back.out_features, bias=back.bias is not None)
    cls = type(basis)
    return cls(
        basis.in_channels,
        back.out_channels,
        basis.kernel_size,
        stride=basis.stride,
        padding=basis.padding,
        dilation=basis.dilation,
        bias=back.bias is not None,
        padding_mode=basis.padding_mode,
    )


@torch.no_grad()
def decompose(layer: nn.Module) -> BasisScaled:
    """Full-rank SVD of a Linear or an ungrouped, untransposed conv: reproduces its outputs."""
    weight = layer.weight.detach().double()
    out = weight.shape[0]
    u, sigma, vh = torch.linalg.svd(weight.reshape(out, -1), full_matrices=False)
    rank = sigma.numel()
    dtype, device = layer.weight.dtype, layer.weight.device
    if isinstance(layer, nn.Linear):
        basis = nn.Linear(layer.in_features, rank, bias=False)
        back = nn.Linear(rank, out, bias=layer.bias is not None)
        basis.weight.copy_(vh)
        back.weight.copy_(u * sigma)
        spatial = 0
    else:
        cls = type(layer)
        basis = cls(
            layer.in_channels,
            rank,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            bias=False,
            padding_mode=layer.padding_mode,
        )
        ones = [1] * (weight.dim() - 2)
        back = cls(rank, out, [1] * len(ones), bias=layer.bias is not None)
        basis.weight.copy_(vh.reshape(rank, *weight.shape[1:]))
        back.weight.copy_((u * sigma).reshape(out, rank, *ones))
        spatial = len(ones)
    if layer.bias is not None:
        back.bias.copy_(layer.bias.detach())
    module = BasisScaled(basis.to(device, dtype), back.to(device, dtype), spatial)
    return module


def decomposable(layer: nn.Module) -> bool:
    """A Linear, or an ungrouped stock convolution. Subclasses with their own forward (timm's
    Conv2dSame, TF-style dynamic padding) are left as they are: the basis conv would have to
    be of that class, and the exported model must hold stock layers only."""
    if type(layer) is nn.Linear:
        return True
    stock = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return type(layer) in stock and layer.groups == 1
