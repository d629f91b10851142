"""``prunekit demo``: the offline demonstration.

Until the pruning methods land it measures the offline zoo models and checks that the ImageNet
weights are really there (the EfficientNet-Lite0 label of scikit-image's cat photo).
"""

from __future__ import annotations

from prunekit.core.metrics import measure
from prunekit.zoo.models import default_example_inputs, model


def run_demo(threads: int | None = None) -> int:
    print("prunekit demo: measuring the offline zoo (batch 1, CPU)")
    for name in ("efficientnet_lite0", "minilm"):
        net = model(name)
        metrics = measure(
            net, default_example_inputs(net), latency=True, threads=threads, min_run_time=0.5
        )
        print(f"  {name:20s} {metrics}")
    top = _lite0_cat_top3()
    if top is not None:
        print(f"  efficientnet_lite0 top-3 ImageNet classes for scikit-image 'chelsea': {top}")
    return 0


def _lite0_cat_top3() -> list[int] | None:
    try:
        import skimage.data
    except ImportError:
        return None
    import torch
    import torch.nn.functional as F

    image = torch.tensor(skimage.data.chelsea()).permute(2, 0, 1).float() / 255
    x = F.interpolate(image[None], size=(224, 224), mode="bilinear", antialias=True)
    net = model("efficientnet_lite0").eval()
    with torch.no_grad():
        logits = net((x - 0.5) / 0.5)
    return logits.topk(3).indices[0].tolist()
