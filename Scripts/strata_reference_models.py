#!/usr/bin/env python3
"""PyTorch reference definitions of Strata's models that torchvision lacks.

These mirror the Swift models in Sources/StrataModels module for module, so
that their state_dict keys (and state_dict order) are exactly the names the
Swift side uses when loading or regenerating weights. They are used by
Scripts/make_zoo_fixtures.py; importing this file has no side effects.

Models
------
lenet5(num_classes=10, in_channels=1)
    LeCun et al. 1998 with tanh and average pooling; input 1x32x32.
    features   = Sequential(Conv2d(in,6,5), Tanh, AvgPool2d(2,2),
                            Conv2d(6,16,5), Tanh, AvgPool2d(2,2))
    classifier = Sequential(Linear(400,120), Tanh, Linear(120,84), Tanh,
                            Linear(84,num_classes))
    61,706 parameters for 10 classes.

alexnet2012(num_classes=1000)
    Krizhevsky et al. 2012, the two-GPU network written as one network with
    groups=2 convolutions where the towers did not talk (conv2, conv4, conv5),
    local response normalization (size 5, alpha 1e-4, beta 0.75, k 2) after
    conv1 and conv2, 96-256-384-384-256 channels.
    features (indices 0..14), avgpool = AdaptiveAvgPool2d((6,6)),
    classifier = Sequential(Dropout, Linear(9216,4096), ReLU, Dropout,
                            Linear(4096,4096), ReLU, Linear(4096,num_classes)).

alexnet_bn(num_classes=1000)
    AlexNet-like net with batch norm: four [Conv2d(bias=False), BatchNorm2d,
    ReLU, MaxPool2d(3,2)] blocks (features indices 0..15),
    avgpool = AdaptiveAvgPool2d((2,2)), classifier = Sequential(
    Linear(1024,4096), ReLU, Dropout, Linear(4096,4096), ReLU, Dropout,
    Linear(4096,num_classes)). Needs an input of at least 127x127 (four
    3x3/2 max pools after a stride-4 11x11 convolution).

cifar_resnet(depth, num_classes=10, shortcut="A"|"B"|"none")
    He et al. 2015, section 4.2: 6n+2 layers, 16/32/64 channels.
    "A": parameter-free shortcut (subsample + zero-pad channels),
    "B": 1x1 conv + BN projection (`downsample`) where the shape changes,
    "none": plain network without shortcuts.
    Named constructors resnet20/32/44/56/110 (A), resnet20_b/... (B),
    plain20/... (none). resnet20: 269,722 params; resnet56: 853,018.

densenet_bc(depth=100, growth_rate=12, num_classes=10, compression=0.5)
    Huang et al. 2017 DenseNet-BC for CIFAR with torchvision's module names:
    features.conv0 (3x3, 2k channels, no norm0/pool0), denseblock1..3 with
    (depth-4)//6 bottleneck layers each, transition1..2, norm5; classifier.
    densenet_bc(100, 12): 769,162 params.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------ LeNet-5
class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(400, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def lenet5(num_classes=10, in_channels=1):
    return LeNet5(num_classes=num_classes, in_channels=in_channels)


# ----------------------------------------------------------- AlexNet (2012)
class AlexNet2012(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        lrn = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4, padding=2),           # 0
            nn.ReLU(inplace=True),                               # 1
            nn.LocalResponseNorm(**lrn),                         # 2
            nn.MaxPool2d(3, 2),                                  # 3
            nn.Conv2d(96, 256, 5, padding=2, groups=2),          # 4
            nn.ReLU(inplace=True),                               # 5
            nn.LocalResponseNorm(**lrn),                         # 6
            nn.MaxPool2d(3, 2),                                  # 7
            nn.Conv2d(256, 384, 3, padding=1),                   # 8
            nn.ReLU(inplace=True),                               # 9
            nn.Conv2d(384, 384, 3, padding=1, groups=2),         # 10
            nn.ReLU(inplace=True),                               # 11
            nn.Conv2d(384, 256, 3, padding=1, groups=2),         # 12
            nn.ReLU(inplace=True),                               # 13
            nn.MaxPool2d(3, 2),                                  # 14
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),                                     # 0
            nn.Linear(256 * 6 * 6, 4096),                        # 1
            nn.ReLU(inplace=True),                               # 2
            nn.Dropout(0.5),                                     # 3
            nn.Linear(4096, 4096),                               # 4
            nn.ReLU(inplace=True),                               # 5
            nn.Linear(4096, num_classes),                        # 6
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet2012(num_classes=1000):
    return AlexNet2012(num_classes=num_classes)


# ------------------------------------------------------------- AlexNet + BN
class AlexNetBN(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        layers = []
        for cin, cout, k, s, p in [(3, 96, 11, 4, 2), (96, 256, 5, 1, 2),
                                   (256, 384, 3, 1, 1), (384, 256, 3, 1, 1)]:
            layers += [
                nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2),
            ]
        self.features = nn.Sequential(*layers)                   # 0..15
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(256 * 2 * 2, 4096),                        # 0
            nn.ReLU(inplace=True),                               # 1
            nn.Dropout(0.5),                                     # 2
            nn.Linear(4096, 4096),                               # 3
            nn.ReLU(inplace=True),                               # 4
            nn.Dropout(0.5),                                     # 5
            nn.Linear(4096, num_classes),                        # 6
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet_bn(num_classes=1000):
    return AlexNetBN(num_classes=num_classes)


# ------------------------------------------------------------ CIFAR ResNets
class CifarBasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1, shortcut="A"):
        super().__init__()
        if shortcut not in ("A", "B", "none"):
            raise ValueError(f"unknown shortcut {shortcut!r}")
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = shortcut
        self.stride = stride
        self.changes_shape = stride != 1 or in_planes != planes
        self.extra = planes - in_planes
        if shortcut == "B" and self.changes_shape:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        else:
            self.downsample = None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut == "A":
            if self.changes_shape:
                pad = self.extra // 2
                s = self.stride
                identity = F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, pad, self.extra - pad))
            else:
                identity = x
            out = out + identity
        elif self.shortcut == "B":
            identity = self.downsample(x) if self.downsample is not None else x
            out = out + identity
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10, shortcut="A"):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        stages = []
        for planes, stride in [(16, 1), (32, 2), (64, 2)]:
            blocks = []
            for b in range(n):
                blocks.append(CifarBasicBlock(in_planes, planes, stride if b == 0 else 1, shortcut))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.fc(x)


def cifar_resnet(depth, num_classes=10, shortcut="A"):
    return CifarResNet(depth, num_classes=num_classes, shortcut=shortcut)


def _named(depth, shortcut):
    def make(num_classes=10):
        return cifar_resnet(depth, num_classes=num_classes, shortcut=shortcut)
    return make


for _d in (20, 32, 44, 56, 110):
    globals()[f"resnet{_d}"] = _named(_d, "A")
    globals()[f"resnet{_d}_b"] = _named(_d, "B")
    globals()[f"plain{_d}"] = _named(_d, "none")
del _d


# ---------------------------------------------------------- DenseNet-BC CIFAR
class _DenseLayer(nn.Module):
    """Bottleneck layer, names as torchvision's _DenseLayer (drop_rate 0)."""

    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(self.relu1(self.norm1(x)))
        out = self.conv2(self.relu2(self.norm2(out)))
        return torch.cat([x, out], 1)


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers, in_channels, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            _DenseLayer(in_channels + i * growth_rate, growth_rate))


class _Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNetBC(nn.Module):
    def __init__(self, depth=100, growth_rate=12, num_classes=10, compression=0.5):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"DenseNet-BC depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        channels = 2 * growth_rate
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, channels, 3, padding=1, bias=False))
        for b in range(1, 4):
            self.features.add_module(f"denseblock{b}", _DenseBlock(n, channels, growth_rate))
            channels += n * growth_rate
            if b != 3:
                out = int(channels * compression)   # floor
                self.features.add_module(f"transition{b}", _Transition(channels, out))
                channels = out
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.relu(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def densenet_bc(depth=100, growth_rate=12, num_classes=10, compression=0.5):
    return DenseNetBC(depth=depth, growth_rate=growth_rate,
                      num_classes=num_classes, compression=compression)


if __name__ == "__main__":
    for name, m in [("lenet5", lenet5()), ("alexnet2012", alexnet2012()),
                    ("alexnet_bn", alexnet_bn()), ("resnet20", resnet20()),
                    ("resnet56", resnet56()), ("resnet20_b", resnet20_b()),
                    ("plain20", plain20()), ("densenet_bc_100", densenet_bc(100, 12))]:
        print(f"{name:16s} {sum(p.numel() for p in m.parameters()):>12,d}")
