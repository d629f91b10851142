from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import prunekit as pk
from prunekit.errors import require
from prunekit.models.spec import spec_of
from prunekit.zoo import models as zoo_models


def _top3(model: torch.nn.Module, image: object) -> list[int]:
    x = torch.tensor(image).permute(2, 0, 1).float() / 255
    x = F.interpolate(x[None], size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        return model((x - 0.5) / 0.5).topk(3).indices[0].tolist()


def test_efficientnet_lite0_weights_are_really_loaded() -> None:
    data = pytest.importorskip("skimage.data")
    model = pk.zoo.model("efficientnet_lite0").eval()
    assert {285, 281, 282} & set(_top3(model, data.chelsea()))  # Egyptian/tabby/tiger cat
    assert 967 in _top3(model, data.coffee())  # espresso


def test_efficientnet_lite0_untrained_does_not_know_cats() -> None:
    data = pytest.importorskip("skimage.data")
    torch.manual_seed(0)
    model = pk.zoo.model("efficientnet_lite0", pretrained=False).eval()
    assert 285 not in _top3(model, data.chelsea())


def test_efficientnet_lite0_transfer_head_and_spec() -> None:
    model = pk.zoo.model("efficientnet_lite0", num_classes=10)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    spec = spec_of(model)
    assert spec is not None and spec.kwargs["num_classes"] == 10


def test_lite0_mapping_checks_every_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = torch.load

    def damaged(*args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        state = real_load(*args, **kwargs)
        state["_conv_stem.weight"] = torch.zeros(8, 3, 3, 3)
        return state

    monkeypatch.setattr(zoo_models.torch, "load", damaged)
    with pytest.raises(pk.PrunekitError, match=r"_conv_stem.weight \(8, 3, 3, 3\).*conv_stem"):
        pk.zoo.model("efficientnet_lite0")


def test_minilm_paraphrases_are_closer_than_unrelated() -> None:
    model = pk.zoo.model("minilm")
    tok = pk.zoo.tokenizer("minilm")
    emb = pk.zoo.sentence_embeddings(
        model,
        tok,
        [
            "A man is playing a guitar on stage.",
            "Someone performs music with a guitar in front of an audience.",
            "The stock market fell sharply after the announcement.",
        ],
    )
    paraphrase, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert paraphrase > unrelated + 0.3
    assert emb.norm(dim=-1) == pytest.approx(torch.ones(3), abs=1e-5)


def test_unknown_model_lists_sources() -> None:
    with pytest.raises(pk.UnknownNameError, match="efficientnet_lite0, minilm"):
        pk.zoo.model("resnet_does_not_exist")


def test_missing_package_names_pip_install() -> None:
    with pytest.raises(pk.MissingDependencyError, match="pip install some-missing-pkg"):
        require("module_that_is_not_installed", "some-missing-pkg", "a test")


def test_torchvision_and_timm_by_name() -> None:
    tv = pk.zoo.model("resnet18", num_classes=7)
    tm = pk.zoo.model("timm:resnet10t", num_classes=5)
    x = torch.randn(1, 3, 64, 64)
    assert tv(x).shape == (1, 7) and tm(x).shape == (1, 5)
    assert spec_of(tv).to_dict() == {
        "source": "torchvision",
        "name": "resnet18",  # type: ignore[union-attr]
        "kwargs": {"num_classes": 7},
    }


def test_torchvision_pretrained_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.error import URLError

    def offline(*args: object, **kwargs: object) -> None:
        raise URLError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(pk.OfflineError, match="torchvision resnet18.*needs a network.*zoo"):
        pk.zoo.model("resnet18", pretrained=True)


def test_timm_pretrained_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at call time
    with pytest.raises(pk.OfflineError, match="timm resnet10t.*needs a network"):
        pk.zoo.model("timm:resnet10t", pretrained=True)
