"""Channel groups: sets of coupled (module, dimension, indices) that must be pruned together.

Built on torch-pruning's DependencyGraph; this file and core/analysis/tp_patches.py (its patches and
bounds) are the only ones that import torch_pruning.
Known torch-pruning defects are guarded here: every call gets fresh list/dict arguments (its
mutable defaults leak state between instances), tracing errors are turned into a PrunekitError
naming the model, and groups that would change the model's outputs are left out.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis import tp_patches
from prunekit.core.analysis.heads import HeadSpec, find_heads, head_members, projection_paths, units
from prunekit.core.analysis.train_only import train_only_modules, training_inputs, training_pass
from prunekit.core.edit.slicer_base import is_transposed_linear
from prunekit.core.edit.slicers import slicer_for
from prunekit.core.edit.surgery import dim_size, get_module
from prunekit.core.model.copies import meta_skeleton, on_meta
from prunekit.core.model.inputs import ExampleInputs, call_model, split_inputs
from prunekit.core.model.modes import eval_mode
from prunekit.errors import InputError, PrunekitError

PRUNABLE_ROOTS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass(frozen=True)
class Member:
    """One coupled slice: ``indices`` of dimension ``dim`` ("out", "in", or a parameter axis)
    of the module or parameter at ``path``, listed in the order of the group's root channels."""

    path: str
    dim: str
    indices: tuple[int, ...]
    is_parameter: bool = False


@dataclass
class ChannelGroup:
    """Coupled channels: removing root channel i removes ``members[k].indices[j]`` wherever
    ``member_roots[k][j]`` is i. ``step`` is the granularity a kept count must be a multiple
    of."""

    root: str
    size: int
    members: tuple[Member, ...]
    step: int = 1
    channel_groups: int = 1
    normalising: tuple[str, ...] = ()
    member_roots: tuple[tuple[int, ...], ...] = field(default=(), repr=False, compare=False)

    def details(self) -> str:
        lines = [f"group rooted at {self.root} ({self.size} channels, step {self.step})"]
        for member in self.members:
            lines.append(f"  {member.path} [{member.dim}] {len(member.indices)} indices")
        return "\n".join(lines)

    def member_removals(self, root_indices: Collection[int]) -> list[tuple[Member, list[int]]]:
        """For each member, its local indices that belong to the given root channels."""
        chosen = set(root_indices)
        out = []
        for member, roots in zip(self.members, self.member_roots, strict=True):
            local = sorted({i for i, r in zip(member.indices, roots, strict=True) if r in chosen})
            if local:
                out.append((member, local))
        return out


class ChannelGraph:
    """Dependency analysis of one model: its channel groups, found by tracing ``example_inputs``."""

    def __init__(
        self,
        model: nn.Module,
        example_inputs: ExampleInputs,
        ignore: Collection[nn.Module] = (),
    ) -> None:
        self.model = model
        split_inputs(example_inputs)
        # Layers that run only in training mode are traced too: in training mode.
        self.train_only = train_only_modules(model, example_inputs)
        inputs = training_inputs(example_inputs) if self.train_only else example_inputs
        try:  # on a skeleton without tensor data: no memory for weights or activations
            self._trace(model, meta_skeleton(model), on_meta(inputs), ignore)
        except Exception:  # a forward the meta device cannot run: traced for real
            traced = copy.deepcopy(model) if self.train_only else model
            self._trace(model, traced, inputs, ignore)
        self.skipped: list[tuple[str, str]] = []  # (group root, why it cannot be pruned)

    def _trace(
        self,
        model: nn.Module,
        traced: nn.Module,
        inputs: ExampleInputs,
        ignore: Collection[nn.Module],
    ) -> None:
        """torch-pruning's dependency graph of ``traced`` (``model`` or a copy of it)."""
        import torch_pruning as tp

        ignored = {get_module(traced, name) for name, m in model.named_modules() if m in ignore}
        ignored_names = {name for name, m in traced.named_modules() if m in ignored}
        specs = find_heads(model)
        self.heads = [
            spec
            for spec in specs
            if not {spec.path, spec.output, *projection_paths(spec)} & ignored_names
        ]
        if any(s.model_wide and s not in self.heads for s in specs):  # one count for all layers
            self.heads = [s for s in self.heads if not s.model_wide]
        self._names = {module: name for name, module in traced.named_modules()}
        self._param_names = {param: name for name, param in traced.named_parameters()}
        self._opaque: set[Any] = set()  # pseudo-op nodes whose index mapping failed
        outputs = _OutputRecorder(traced, inputs, training=bool(self.train_only))
        with (
            training_pass(traced) if self.train_only else eval_mode(traced),
            torch.enable_grad(),
            warnings.catch_warnings(),
            tp_patches.guarded_index_mapping(self._opaque),
            outputs,
        ):
            warnings.simplefilter("ignore")
            try:
                self._dg = tp.DependencyGraph().build_dependency(
                    traced,
                    example_inputs=inputs,
                    forward_fn=outputs.forward,
                    ignored_layers=list(ignored),
                    unwrapped_parameters=[],
                    customized_pruners=tp_patches.custom_pruners(traced),
                    verbose=False,
                )
            except InputError:
                raise
            except Exception as exc:
                raise PrunekitError(
                    f"could not trace {type(model).__name__} for dependency analysis: "
                    f"{type(exc).__name__}: {exc}; fix: make the forward pass traceable by "
                    "autograd, or ignore the modules involved"
                ) from exc
        self._output_modules = outputs.feeding_modules()
        self._ignore = list(ignored)
        # Head projections are pruned by whole heads (analysis/heads.py), never as channels.
        self._no_roots = {get_module(traced, p) for s in self.heads for p in projection_paths(s)}

    @property
    def output_modules(self) -> set[nn.Module]:
        """Modules whose outputs reach the model's outputs through parameter-free operations
        (in training mode too, when some layers run only then)."""
        return {get_module(self.model, self._names[m]) for m in self._output_modules}

    def groups(self) -> list[ChannelGroup]:
        """Every prunable group, excluding those that would change the model's output shape."""
        found = []
        # The graph does not change while groups are listed: map indices once, not per group
        # (torch-pruning recomputes every mapping for every group: minutes on DenseNet-201).
        limit = tp_patches.mapping_limit(self.model)
        budget = tp_patches.WorkBudget(tp_patches.BUDGET_PER_LIMIT * limit)
        with (
            tp_patches.index_mapping_frozen(),
            tp_patches.bounded_analysis(limit, budget),
            tp_patches.indexed_groups(budget),
        ):
            for tp_group in self._tp_groups(budget):
                group = self._convert(tp_group)
                if group is not None:
                    found.append(group)
        own = [[spec] for spec in self.heads if not spec.model_wide]
        shared = [spec for spec in self.heads if spec.model_wide]
        candidates = [self._head_group(specs) for specs in [*own, shared] if specs]
        found.extend(g for g in candidates if g is not None and g.size > 1)
        return found

    def _head_group(self, specs: list[HeadSpec]) -> ChannelGroup | None:
        """The heads of attention modules that keep the same count; a root channel is one head
        unit (core/analysis/heads.py). Modules reading their count from one model-wide setting
        (Phi-3's config) form one group, so every layer keeps the same number of heads: root
        channel i is unit i of every layer."""
        sizes = {units(self.model, spec) for spec in specs}
        if len(sizes) != 1:
            why = "head counts differ across layers, but the model reads one model-wide count"
            self.skipped.extend((spec.path, why) for spec in specs)
            return None
        members, roots = [], []
        for spec in specs:
            for path, dim, local, unit in head_members(self.model, spec):
                members.append(Member(path, dim, tuple(local)))
                roots.append(tuple(unit))
        return ChannelGroup(
            root=specs[0].path,
            size=sizes.pop(),
            members=tuple(members),
            member_roots=tuple(roots),
        )

    def _tp_groups(self, budget: tp_patches.WorkBudget) -> Iterator[Any]:
        """torch-pruning's get_all_groups, one root at a time, so that a root whose analysis
        fails is skipped with its reason instead of ending the whole listing."""
        ignored = set(self._ignore)
        visited: set[Any] = set()
        for module in list(self._dg.module2node):
            if module in ignored or module in visited or module in self._no_roots:
                continue
            if not (isinstance(module, PRUNABLE_ROOTS) or is_transposed_linear(module)):
                continue
            pruner = self._dg.get_pruner_of_module(module)
            channels = None if pruner is None else pruner.get_out_channels(module)
            if channels is None:
                continue
            budget.reset()
            try:
                tp_group = self._dg.get_pruning_group(
                    module, pruner.prune_out_channels, list(range(channels))
                )
            except Exception as exc:  # torch-pruning's own failure on this coupling
                self.skipped.append(
                    (
                        self._names.get(module, "?"),
                        f"dependency analysis failed: {type(exc).__name__}",
                    )
                )
                continue
            outs = [
                item.dep.target.module
                for item in tp_group.items
                if self._dg.is_out_channel_pruning_fn(item.dep.handler)
            ]
            visited.update(outs)
            if not ignored.intersection(outs):
                yield tp_group

    def _convert(self, tp_group: Any) -> ChannelGroup | None:
        import torch_pruning as tp

        members: list[Member] = []
        roots: list[tuple[int, ...]] = []
        channel_groups, step = 1, 1
        normalising: list[str] = []
        root_module = tp_group[0].dep.target.module
        size = len(tp_group[0].idxs)
        for item in tp_group.items:
            dep, idxs, root_idxs = item.dep, item.idxs, item.root_idxs
            node = dep.target
            if node in self._opaque or dep.source in self._opaque:
                self.skipped.append(
                    (
                        self._names.get(root_module, "?"),
                        f"passes through an operation whose channel mapping is "
                        f"unknown ({node.name})",
                    )
                )
                return None
            target = node.module
            if node.type == tp.ops.OPTYPE.PARAMETER:
                path = self._param_names.get(target)
                if path is None:
                    return None
                members.append(Member(path, str(node.pruning_dim), _local(idxs), is_parameter=True))
                roots.append(_local(root_idxs))
                continue
            if not isinstance(target, nn.Module) or target not in self._names:
                continue  # pseudo-ops (add, cat, reshape): nothing to slice
            path = self._names[target]
            is_out = self._dg.is_out_channel_pruning_fn(dep.handler)
            if is_out and target in self._output_modules:
                return None  # would change the model's output
            dim = "out" if is_out else "in"
            if _is_grouped(target):
                channel_groups = math.lcm(channel_groups, target.groups)
            slicer = slicer_for(target)
            if slicer is not None:
                step = math.lcm(step, slicer.step(target))
                # its output depends on how many channels there are (statistics over them,
                # attention's 1/sqrt(head_dim)): removing zeroed channels changes it by design
                if slicer.normalising:
                    normalising.append(path)
            local = _local(idxs)
            if local and not 0 <= min(local) <= max(local) < _dim_size(target, dim):
                self.skipped.append(
                    (self._names.get(root_module, "?"), f"index mapping out of range for {path}")
                )
                return None
            members.append(Member(path, dim, local))
            roots.append(_local(root_idxs))
        if not members:
            return None
        step = math.lcm(step, channel_groups)
        return ChannelGroup(
            root=self._names.get(root_module, "?"),
            size=size,
            members=tuple(members),
            step=step,
            channel_groups=channel_groups,
            normalising=tuple(dict.fromkeys(normalising)),
            member_roots=tuple(roots),
        )


def _is_grouped(module: nn.Module) -> bool:
    """A grouped convolution that is not depthwise: its groups must stay balanced."""
    return isinstance(module, nn.modules.conv._ConvNd) and 1 < module.groups != module.in_channels


def _dim_size(module: nn.Module, dim: str) -> int:
    try:
        return dim_size(module, dim)
    except PrunekitError:
        return 1 << 62  # a module the slicers do not know: reported when it is sliced


def _local(idxs: Any) -> tuple[int, ...]:
    return tuple(int(i) for i in idxs)


class _OutputRecorder:
    """Runs the traced forward pass once for torch-pruning and remembers, from the same pass,
    which module produced each autograd node, to find the layers that feed the outputs.
    ``training``: the pass runs in training mode (torch-pruning puts the model in eval mode
    before calling it)."""

    def __init__(
        self, model: nn.Module, example_inputs: ExampleInputs, training: bool = False
    ) -> None:
        self.model, self.example_inputs, self.training = model, example_inputs, training
        self.owner: dict[Any, nn.Module] = {}
        self.outputs: Any = None
        self._handles: list[Any] = []

    def __enter__(self) -> _OutputRecorder:
        def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
            for tensor in _tensors(output):
                if tensor.grad_fn is not None:
                    self.owner.setdefault(tensor.grad_fn, module)

        leaves = [m for m in self.model.modules() if not list(m.children())]
        self._handles = [m.register_forward_hook(hook) for m in leaves]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()

    def forward(self, model: nn.Module, _inputs: Any) -> Any:
        model.train(self.training)
        self.outputs = call_model(model, self.example_inputs)
        # Tensors only: torch-pruning cannot walk caches or other objects in a ModelOutput.
        return [t for t in _tensors(self.outputs) if t.grad_fn is not None]

    def feeding_modules(self) -> set[nn.Module]:
        """Modules whose output reaches a model output through parameter-free operations only:
        their output channels are the model's output channels, so they are never pruned."""
        found: set[nn.Module] = set()
        stack = [t.grad_fn for t in _tensors(self.outputs) if t.grad_fn is not None]
        if not stack and any(p.requires_grad for p in self.model.parameters()):
            raise PrunekitError(
                f"the outputs of {type(self.model).__name__} are not connected to its "
                "parameters by autograd (a .detach(), .numpy(), .item() or torch.no_grad() "
                "inside forward); prunekit traces models through autograd, so fix: keep "
                "forward differentiable"
            )
        seen: set[Any] = set()
        while stack:
            fn = stack.pop()
            if fn in seen:
                continue
            seen.add(fn)
            module = self.owner.get(fn)
            if module is not None:
                found.add(module)
                if _is_parametric(module):
                    continue
            stack.extend(f for f, _ in fn.next_functions if f is not None)
        return found


def _is_parametric(module: nn.Module) -> bool:
    """Layers that mix channels (their output channels are their own): conv, linear, embedding."""
    slicer = slicer_for(module)
    return slicer is not None and slicer.mixes


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _tensors(item)
    elif hasattr(value, "to_tuple"):  # transformers ModelOutput
        yield from _tensors(value.to_tuple())
