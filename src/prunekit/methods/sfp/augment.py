"""Default two-view augmentations for CR-SFP: a random shift (zero-padded) and small additive
noise, per sample, for 1-D signals (N, C, L) and images (N, C, H, W)."""

from __future__ import annotations

import torch

from prunekit.errors import InputError


def shift_and_noise(x: torch.Tensor, max_shift: int = 2, noise: float = 0.05) -> torch.Tensor:
    """Each sample moved by up to ``max_shift`` steps along every spatial axis (zeros enter),
    plus Gaussian noise of ``noise`` times the batch's standard deviation."""
    if x.dim() not in (3, 4):
        raise InputError(
            f"the default CR-SFP augmentation takes (N, C, L) signals or (N, C, H, W) images, "
            f"got {tuple(x.shape)}; fix: pass CRSFPConfig(augment=your_function)"
        )
    spatial = tuple(range(2, x.dim()))
    pad = [max_shift] * (2 * len(spatial))
    padded = torch.nn.functional.pad(x, pad)
    out = torch.empty_like(x)
    offsets = torch.randint(0, 2 * max_shift + 1, (x.shape[0], len(spatial)))
    for i in range(x.shape[0]):
        index = [i, slice(None)]
        index += [
            slice(int(o), int(o) + x.shape[a]) for o, a in zip(offsets[i], spatial, strict=True)
        ]
        out[i] = padded[tuple(index)]
    return out + noise * x.std() * torch.randn_like(x)
