"""The training step captured as one CUDA graph (config `cuda_graphs`): launch-bound small batches, replayed.

At batch 64 a 784-128-10 step is ~15 tiny kernels whose launch costs more than their work; a graph replays
them with one launch. The captured step is exactly the eager one: zero the gradients, forward, loss,
backward, the optimiser's own `step()` (torch's SGD, plain or with momentum) on the same parameter tensors,
plus copies of the parameters before the update (for watches and the probe) and the running loss and
accuracy sums. Warm-up steps run on a copy of the state, which is then put back, so no step is taken twice.
Mini-batches of another size (an epoch's last one) and steps that record activations run eagerly.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from core.config import TrainConfig

WARMUP_STEPS = 3  # cuBLAS handles and autograd's buffers must exist before capture (torch's own advice)


def graphs_problem(config: TrainConfig, accelerator: str) -> str | None:
    """Why `cuda_graphs` cannot be used for this run, or None."""
    if not getattr(config, "cuda_graphs", False):
        return None
    if accelerator != "gpu":
        return "cuda_graphs needs a CUDA GPU; this run trains on the CPU (turn cuda_graphs off or use a GPU)"
    if config.optimizer not in ("sgd", "momentum"):
        return f"cuda_graphs supports the sgd and momentum optimisers, not {config.optimizer}"
    if config.devices * config.num_nodes > 1:
        return "cuda_graphs runs on one device; multi-device runs train eagerly"
    return None


class CapturedStep:
    """One optimiser step of `batch_size` samples as a CUDA graph over static input tensors."""

    def __init__(self, net: torch.nn.Module, loss_fn, optimizer: torch.optim.Optimizer, batch_size: int,
                 x: torch.Tensor, y: torch.Tensor) -> None:
        """Capture from example tensors `x`, `y` (one full mini-batch on the GPU); the state is left as found."""
        self.batch_size = batch_size
        self.params = [p for p in net.parameters()]
        self.static_x, self.static_y = x.clone(), y.clone()
        self.before = [torch.empty_like(p) for p in self.params]
        self.loss_sum = torch.zeros((), device=x.device)
        self.correct = torch.zeros((), device=x.device)
        for p in self.params:  # gradients stay these tensors: the graph writes them, watches read them
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        saved_params = [p.detach().clone() for p in self.params]
        saved_state = copy.deepcopy(optimizer.state_dict())

        def body() -> None:
            for b, p in zip(self.before, self.params, strict=True):
                b.copy_(p.detach())
            optimizer.zero_grad(set_to_none=False)
            out = net(self.static_x)
            loss = loss_fn(out, self.static_y)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                self.loss_sum.add_(loss.detach() * batch_size)
                self.correct.add_((out.argmax(1) == self.static_y).sum())

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                body()
        torch.cuda.current_stream().wait_stream(side)
        self._restore(optimizer, saved_params, saved_state)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            body()
        torch.cuda.synchronize()
        self._restore(optimizer, saved_params, saved_state)  # capture records; make sure nothing moved

    @torch.no_grad()
    def _restore(self, optimizer: torch.optim.Optimizer, params: list[torch.Tensor], state: dict) -> None:
        """Put parameters, gradients, momentum and the sums back in place (the graph keeps these tensors)."""
        for p, saved in zip(self.params, params, strict=True):
            p.copy_(saved)
            p.grad.zero_()
        saved_state = state["state"]
        for i, p in enumerate(self.params):
            buf = optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is None:
                continue
            old = saved_state.get(i, {}).get("momentum_buffer")
            # No buffer yet means the first step; SGD's later-step rule on a zero buffer (m*0 + g) equals it.
            buf.copy_(old) if old is not None else buf.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()

    def fits(self, x: torch.Tensor) -> bool:
        return x.shape[0] == self.batch_size

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Train one mini-batch (of batch_size rows) by replaying the graph."""
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()

    @torch.no_grad()
    def take_sums(self) -> torch.Tensor:
        """[loss sum, correct] of the replayed steps since the last call (on the device, not yet read)."""
        out = torch.stack([self.loss_sum.clone(), self.correct.clone()])
        self.loss_sum.zero_()
        self.correct.zero_()
        return out
