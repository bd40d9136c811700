"""Portable networks (`gancore.nn`) built as native PyTorch modules.

Layout: a tensor whose samples have rank 3 (a 4-D batch, an image) is NCHW inside the
network; every other tensor keeps the numpy (channels-last) layout. Reshape and Flatten
permute around themselves so they read and write in NHWC order, which is what makes the
canonical parameters give the same numbers as the numpy reference. `to_native` and
`to_numpy` do the one conversion at the numpy boundary.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gancore.nn import (
    CanonicalLayouts,
    NetworkSpec,
    check_state,
    node_index,
    parameter_shapes,
    trainable_names,
)
from gancore.nn import _layers as L
from gancore_torch import _distributed

__all__ = ["TorchNetwork", "build_network", "to_native", "to_numpy"]

Shape = tuple[int, ...]

# canonical layout -> torch layout, as a transpose of the canonical array
_DENSE_KERNEL = (1, 0)  # (in, out) -> (out, in)
_CONV_KERNEL = (3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
_CONV_T_KERNEL = (2, 3, 0, 1)  # (kh, kw, in, out) -> (in, out, kh, kw)


def to_native(x: Any, device: Any = None) -> torch.Tensor:
    """A torch tensor for a numpy array: floats become float32, integers int64, and 4-D float
    arrays (NHWC images) become NCHW."""
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64)
    else:
        arr = arr.astype(np.float32)
        if arr.ndim == 4:
            arr = arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device or "cpu")


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """A numpy array for a torch tensor; 4-D float tensors (NCHW) come back NHWC."""
    arr = x.detach().cpu().numpy()
    if arr.ndim == 4 and np.issubdtype(arr.dtype, np.floating):
        arr = arr.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(arr)


class _Op(nn.Module):
    """One node: holds its parameters (native layout) and computes the layer."""

    # suffix -> permutation from the canonical to the native layout
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {}

    def __init__(self, layer: L.Layer, in_shapes: tuple[Shape, ...], device: Any) -> None:
        super().__init__()
        self.layer = layer
        self.image = len(in_shapes[0]) == 3
        for p in layer.params(in_shapes):
            perm = self.layouts.get(p.suffix, tuple(range(len(p.shape))))
            data = torch.empty([p.shape[i] for i in perm], device=device)
            if p.trainable:
                self.register_parameter(p.suffix, nn.Parameter(data))
            else:
                self.register_buffer(p.suffix, data)


class _Dense(_Op):
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": _DENSE_KERNEL}

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return F.linear(x, self.kernel, getattr(self, "bias", None))


class _Conv2D(_Op):
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": _CONV_KERNEL}

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return self.conv(x, self.kernel)

    def conv(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        top, bottom, left, right = self.layer.pads
        bias = getattr(self, "bias", None)
        if top == bottom and left == right:
            return F.conv2d(x, kernel, bias, self.layer.stride, (top, left))
        # Conv2d pads symmetrically only; an asymmetric pad goes through F.pad first.
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, kernel, bias, self.layer.stride)


class _ConvTranspose2D(_Op):
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": _CONV_T_KERNEL}

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        lay = self.layer
        return F.conv_transpose2d(
            x,
            self.kernel,
            getattr(self, "bias", None),
            lay.stride,
            lay.padding,
            lay.output_padding,
        )


_twice = threading.local()


@contextlib.contextmanager
def differentiated_twice() -> Iterator[None]:
    """Marks a forward pass whose input gradient is differentiated again
    (`ops.input_gradient`): batch norm then keeps its buffers out of the graph."""
    before = getattr(_twice, "on", False)
    _twice.on = True
    try:
        yield
    finally:
        _twice.on = before


class _BatchNorm(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        lay = self.layer
        shape = x.shape
        if x.dim() == 3:  # (N, L, C): channels last, so fold L into the batch
            x = x.reshape(-1, shape[-1])
        if training and _distributed.sync_workers() is not None:
            return self._synchronised(x).reshape(shape)
        if training and getattr(_twice, "on", False):
            return self._buffers_kept_out(x).reshape(shape)
        # In training, F.batch_norm updates the buffers in place with PyTorch's momentum and
        # the unbiased variance: the semantics gancore.nn.BatchNorm is defined by.
        y = F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.gamma,
            self.beta,
            training,
            lay.momentum,
            lay.eps,
        )
        return y.reshape(shape)

    def _buffers_kept_out(self, x: torch.Tensor) -> torch.Tensor:
        """Training-mode batch norm in a pass whose gradient is differentiated again (a
        penalty's critic pass, `differentiated_twice`): `F.batch_norm`'s output and buffer
        updates, with the buffers kept out of the autograd graph. Given them, the double
        backward's node saves them, and the next training pass's update of the buffers (the
        fakes', under torch.compile) fails that node's version check."""
        lay = self.layer
        with torch.no_grad():
            dims = (0,) if x.dim() == 2 else (0, 2, 3)
            var, mean = torch.var_mean(x, dims, correction=1)
            m = lay.momentum
            self.running_mean.mul_(1.0 - m).add_(m * mean)
            self.running_var.mul_(1.0 - m).add_(m * var)
        return F.batch_norm(x, None, None, self.gamma, self.beta, True, lay.momentum, lay.eps)

    def _synchronised(self, x: torch.Tensor) -> torch.Tensor:
        """Batch norm over the global batch of a data-parallel job: the moments of every
        worker's rows, the running statistics updated as one process would update them."""
        lay = self.layer
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        mean, var, count = _distributed.global_moments(x, dims)
        with torch.no_grad():
            m = lay.momentum
            unbiased = var * (count / max(count - 1, 1))
            self.running_mean.mul_(1.0 - m).add_(m * mean)
            self.running_var.mul_(1.0 - m).add_(m * unbiased)
        shape = [1, -1] + [1] * (x.dim() - 2)
        scale = self.gamma * torch.rsqrt(var + lay.eps)
        return (x - mean.reshape(shape)) * scale.reshape(shape) + self.beta.reshape(shape)


class _LayerNorm(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        eps = self.layer.eps
        if self.image:  # GroupNorm(1, C): statistics over C, H, W, affine per channel
            return F.group_norm(x, 1, self.gamma, self.beta, eps)
        if x.dim() == 2:
            return F.layer_norm(x, x.shape[1:], self.gamma, self.beta, eps)
        return F.layer_norm(x, x.shape[1:], None, None, eps) * self.gamma + self.beta


class _InstanceNorm(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        gamma = getattr(self, "gamma", None)
        beta = getattr(self, "beta", None)
        return F.instance_norm(x, weight=gamma, bias=beta, eps=self.layer.eps)


class _Activation(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        fn = self.layer.fn
        if fn == "relu":
            return F.relu(x)
        if fn == "leaky_relu":
            return F.leaky_relu(x, self.layer.negative_slope)
        if fn == "tanh":
            return torch.tanh(x)
        if fn == "sigmoid":
            return torch.sigmoid(x)
        return x


class _Dropout(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return F.dropout(x, self.layer.rate, training)


class _Embedding(_Op):
    def forward(self, ids: torch.Tensor, training: bool) -> torch.Tensor:
        y = F.embedding(ids, self.embeddings)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y


class _Reshape(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        if self.image:
            x = x.permute(0, 2, 3, 1)
        y = x.reshape(x.shape[0], *self.layer.shape)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y


class _Flatten(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        if self.image:
            x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], -1)


def _maxout(x: torch.Tensor, axis: int, pieces: int) -> torch.Tensor:
    return x.unflatten(axis, (x.shape[axis] // pieces, pieces)).amax(axis + 1)


# Inductor's CPU kernel for the max over a few pieces and its gradient's equality mask
# stores the mask a few lanes at a time: 2.6 ms against eager's 0.1 for PacGAN's 100 x 1000
# critic layer, which made a compiled step slower than an eager one. On the CPU, compiled
# steps run the maxout eagerly (the same ops, so the same numbers), the rest compiled.
_maxout_outside_graph = torch._dynamo.disable(_maxout)


class _Maxout(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        axis = 1 if self.image else x.dim() - 1
        if x.device.type == "cpu" and torch.compiler.is_compiling():
            return _maxout_outside_graph(x, axis, self.layer.pieces)
        return _maxout(x, axis, self.layer.pieces)


class _CategoricalCode(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        k = self.layer.categories
        code = F.one_hot(x[..., -k:].argmax(-1), k).to(x.dtype)
        return torch.cat([x[..., :-k], code], dim=-1)


class _Upsample(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        f = self.layer.factor
        n, c, h, w = x.shape
        # broadcast + reshape is exact nearest-neighbour (no float scale arithmetic)
        return x[:, :, :, None, :, None].expand(n, c, h, f, w, f).reshape(n, c, h * f, w * f)


class _Concat(_Op):
    def forward(self, *xs: torch.Tensor, training: bool) -> torch.Tensor:
        return torch.cat(xs, dim=1 if self.image else -1)


class _Add(_Op):
    def forward(self, *xs: torch.Tensor, training: bool) -> torch.Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


def _normalized(a: torch.Tensor) -> torch.Tensor:
    return a / a.norm().clamp_min(1e-12)


class _Spectral:
    """Spectral normalisation of the op's `kernel` (gancore.nn.SpectralDense's power
    iteration); `matrix` reads the native kernel as the (out, fan_in) matrix M^T."""

    kernel: torch.Tensor
    u: torch.Tensor

    def matrix(self) -> torch.Tensor:
        return self.kernel.reshape(self.kernel.shape[0], -1)

    def normalized_kernel(self, training: bool) -> torch.Tensor:
        w = self.matrix()
        with torch.no_grad():
            v = _normalized(self.u @ w)
            if training:
                # A clone for sigma: the buffer is updated in place, and a second forward
                # before the backward would otherwise change what this one saved.
                self.u.copy_(_normalized(w @ v))
            u = self.u.clone()
        return self.kernel / (u @ (w @ v))


class _SpectralDense(_Spectral, _Dense):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return F.linear(x, self.normalized_kernel(training), getattr(self, "bias", None))


class _SpectralConv2D(_Spectral, _Conv2D):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return self.conv(x, self.normalized_kernel(training))


class _MinibatchStdDev(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        n, c = x.shape[0], x.shape[1]
        group = min(self.layer.group_size, n)
        if n % group:
            raise ValueError(
                f"MinibatchStdDev needs a batch that is a multiple of its group size {group}; "
                f"received a batch of {n}"
            )
        f = self.layer.channels
        y = x.reshape(group, n // group, f, c // f, *x.shape[2:])
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n / G, F, C / F, ...)
        stat = std.mean(dim=[d for d in range(2, std.dim())]).repeat(group, 1)  # (n, F)
        plane = stat.reshape(n, f, *[1] * (x.dim() - 2)).expand(n, f, *x.shape[2:])
        return torch.cat([x, plane], dim=1)


class _MinibatchDiscrimination(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        m = torch.einsum("na,abc->nbc", x, self.kernel)
        l1 = (m[:, None] - m[None, :]).abs().sum(-1)
        return torch.cat([x, torch.exp(-l1).sum(1)], dim=-1)


class _SelfAttention(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.reshape(n, c, h * w).transpose(1, 2)  # (n, positions, c)
        q, k, v = (flat @ getattr(self, f"{role}_kernel") for role in ("query", "key", "value"))
        weights = torch.softmax(q @ k.transpose(1, 2), dim=-1)
        o = (weights @ v) @ self.out_kernel
        return x + self.scale * o.transpose(1, 2).reshape(n, c, h, w)


class _AvgPool2D(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return F.avg_pool2d(x, self.layer.factor)


class _GlobalSumPool(_Op):
    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return x.sum(dim=(2, 3))


_OPS: dict[type, type[_Op]] = {
    L.Dense: _Dense,
    L.Conv2D: _Conv2D,
    L.ConvTranspose2D: _ConvTranspose2D,
    L.BatchNorm: _BatchNorm,
    L.LayerNorm: _LayerNorm,
    L.InstanceNorm: _InstanceNorm,
    L.Activation: _Activation,
    L.Dropout: _Dropout,
    L.Embedding: _Embedding,
    L.Reshape: _Reshape,
    L.Flatten: _Flatten,
    L.Maxout: _Maxout,
    L.CategoricalCode: _CategoricalCode,
    L.Upsample: _Upsample,
    L.Concat: _Concat,
    L.Add: _Add,
    L.SpectralDense: _SpectralDense,
    L.SpectralConv2D: _SpectralConv2D,
    L.MinibatchStdDev: _MinibatchStdDev,
    L.MinibatchDiscrimination: _MinibatchDiscrimination,
    L.SelfAttention: _SelfAttention,
    L.AvgPool2D: _AvgPool2D,
    L.GlobalSumPool: _GlobalSumPool,
}


class TorchNetwork(nn.Module, CanonicalLayouts):
    """A `gancore.nn.NetworkSpec` as a torch module.

    Call it as `net(*inputs, training=False)` with inputs in `spec.inputs` order (images NCHW,
    labels int64). `training` is explicit and `Module.train()` / `eval()` do not change it,
    so that a network behaves the same on every backend. With `training=True`, BatchNorm
    uses batch statistics and updates its running buffers, and dropout is active.
    """

    def __init__(self, spec: NetworkSpec, state: Mapping[str, Any], device: Any = None) -> None:
        super().__init__()
        self.spec = spec
        device = torch.device(device) if device is not None else torch.device("cpu")
        shapes = spec.shapes()
        slots = {inp.name: i for i, inp in enumerate(spec.inputs)}
        ops: list[_Op] = []
        plan: list[tuple[int, ...]] = []
        for node in spec.nodes:
            in_shapes = tuple(shapes[s] for s in node.inputs)
            ops.append(_OPS[type(node.layer)](node.layer, in_shapes, device))
            plan.append(tuple(slots[s] for s in node.inputs))
            slots[node.name] = len(slots)
        self.ops = nn.ModuleList(ops)
        self._plan = plan
        self._n_inputs = len(spec.inputs)
        self._output = slots[spec.output]
        # canonical name -> (op, suffix, canonical-to-native permutation)
        index = {node.name: i for i, node in enumerate(spec.nodes)}
        self._entries: dict[str, tuple[_Op, str, tuple[int, ...]]] = {}
        for name, shape in parameter_shapes(spec).items():
            owner, _, suffix = name.rpartition(".")
            op = ops[index[owner]]
            perm = op.layouts.get(suffix, tuple(range(len(shape))))
            self._entries[name] = (op, suffix, perm)
        self._trainable = trainable_names(spec)
        self._perms = {name: entry[2] for name, entry in self._entries.items()}
        self.set_state(state)

    def forward(self, *inputs: torch.Tensor, training: bool = False,
                output: str | None = None) -> torch.Tensor:
        """The output for a batch of inputs (in `spec.inputs` order); with `output`, the
        output of the node of that name (the nodes after it do not run)."""
        if len(inputs) != self._n_inputs:
            names = ", ".join(i.name for i in self.spec.inputs)
            raise TypeError(
                f"network {self.spec.name!r} takes {self._n_inputs} inputs ({names}); "
                f"received {len(inputs)}"
            )
        last = self._output if output is None else self._n_inputs + node_index(self.spec,
                                                                                output)
        values = list(inputs)
        for op, ins in zip(self.ops[: last + 1 - self._n_inputs], self._plan, strict=False):
            values.append(op(*[values[i] for i in ins], training=training))
        return values[last]

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters, in `gancore.nn.trainable_names(spec)` order."""
        return [getattr(*self._entries[name][:2]) for name in self._trainable]

    def get_state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as float32 numpy arrays in the canonical names and layouts:
        copies, which later training leaves as they are."""
        out = {}
        for name, (op, suffix, perm) in self._entries.items():
            native = getattr(op, suffix).detach().cpu().numpy()
            out[name] = np.array(native.transpose(np.argsort(perm)), order="C", copy=True)
        return out

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Load parameters and buffers given in the canonical names and layouts."""
        checked = check_state(self.spec, state)
        with torch.no_grad():
            for name, (op, suffix, perm) in self._entries.items():
                value = np.ascontiguousarray(checked[name].transpose(perm))
                getattr(op, suffix).copy_(torch.from_numpy(value))


def build_network(spec: NetworkSpec, state: Mapping[str, Any], device: Any = None) -> TorchNetwork:
    """A torch module computing `spec`, loaded with `state` (canonical names and layouts),
    on `device` (a torch device or string; None is the CPU)."""
    return TorchNetwork(spec, state, device)
