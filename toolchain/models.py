"""Built-in models, limited to layers the exporter maps to the IR: Conv2d (groups 1 or depthwise),
BatchNorm2d, ReLU/ReLU6, MaxPool2d, AvgPool2d/AdaptiveAvgPool2d(1), FlattenNHWC, Linear, Dropout.

Weights are initialised from a seeded torch.Generator, never from the global RNG.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .errors import MunifyError


class FlattenNHWC(nn.Module):
    """Flatten in deployment order (h, w, c) so a following Linear sees its inputs as the IR does.

    nn.Flatten would feed the Linear (c, h, w) order; the exporter maps this module to a RESHAPE of NHWC data.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


def mnist_cnn(input_shape=(1, 28, 28), num_classes: int = 10, seed: int = 0) -> nn.Sequential:
    """Three conv-BN-ReLU-maxpool stages and one FC: 22.9k weights on 28x28 (like the probe network)."""
    cin = input_shape[0]
    layers = [*conv_bn_relu(cin, 16), nn.MaxPool2d(2),
              *conv_bn_relu(16, 32), nn.MaxPool2d(2),
              *conv_bn_relu(32, 48), nn.MaxPool2d(2),
              FlattenNHWC()]
    return _with_classifier(layers, input_shape, num_classes, seed)


def ds_cnn(input_shape=(1, 28, 28), num_classes: int = 10, seed: int = 0, width: int = 48) -> nn.Sequential:
    """DS-CNN in the style of the MLPerf Tiny keyword-spotting net: a stem conv, then depthwise 3x3 +
    pointwise 1x1 stages, global average pooling and one FC."""
    layers = [*conv_bn_relu(input_shape[0], width), nn.MaxPool2d(2)]
    for stage in range(3):
        layers += conv_bn_relu(width, width, 3, groups=width)
        layers += conv_bn_relu(width, width, 1)
        if stage == 0:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]  # 1x1 map: plain Flatten is NHWC order already
    return _with_classifier(layers, input_shape, num_classes, seed)


def mlp(input_shape=(1, 28, 28), num_classes: int = 10, seed: int = 0, hidden=(64, 32)) -> nn.Sequential:
    layers: list[nn.Module] = [FlattenNHWC()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    model = nn.Sequential(*layers)
    init_weights_(model, seed)
    return model


def _with_classifier(layers: list[nn.Module], input_shape, num_classes: int, seed: int) -> nn.Sequential:
    with torch.no_grad():
        features = nn.Sequential(*layers).eval()(torch.zeros(1, *input_shape)).shape[1]
    model = nn.Sequential(*layers, nn.Linear(features, num_classes))
    init_weights_(model, seed)
    return model


@torch.no_grad()
def init_weights_(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)


BUILTIN_MODELS: dict[str, Callable[..., nn.Module]] = {"mnist_cnn": mnist_cnn, "ds_cnn": ds_cnn, "mlp": mlp}


def builtin_model(name: str, input_shape, num_classes: int, seed: int) -> nn.Module:
    try:
        builder = BUILTIN_MODELS[name]
    except KeyError:
        raise MunifyError(f"unknown model '{name}'; use one of {', '.join(BUILTIN_MODELS)} "
                          "or 'module:function'") from None
    return builder(tuple(input_shape), num_classes, seed)
