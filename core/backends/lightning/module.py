"""The MLP as a LightningModule in manual optimisation: each Lightning batch is a chunk of mini-batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import lightning as L
import torch
from torch import nn

from core.backends.lightning.network import build_network, loss_function, make_optimizer

if TYPE_CHECKING:
    from core.backends.lightning.graphs import CapturedStep
    from core.config import TrainConfig

EVAL_CHUNK = 8192  # rows per evaluation forward pass: bounded memory, few launches
_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "record", "alive", "gate", "after_step", "captured",
                               "before_update", "want_graph", "current", "carried"})


class MnistModule(L.LightningModule):
    """Trains one optimiser step per mini-batch of a chunk; the events callback drives gate() and after_step().

    Every eager step goes through Lightning (manual_backward, LightningOptimizer.step: strategy, precision
    plugin, on_before_backward / on_after_backward / on_before_optimizer_step hooks); Lightning's per-batch
    loop machinery runs once per chunk. With `captured` (a CUDA graph of the whole step, core.backends.
    lightning.graphs) a full-size mini-batch replays the graph instead. Training loss and accuracy stay on the
    device until take_sums reads them.
    """

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.config = config
        self.net = build_network(config)
        self.loss_fn = loss_function(config.loss)
        self.optimizer_state: dict | None = None  # loaded into the optimiser when resuming
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, logits, labels)
        self.record = False  # set by the callback on steps whose activations feed dead-unit statistics
        self.alive: list[torch.Tensor] = []  # per ReLU layer: which units fired on the recorded batch
        self.gate: Callable[[], bool] = lambda: False  # the callback's pause/stop check; True = stop now
        self.after_step: Callable[[int], None] = lambda n: None  # the callback's per-step bookkeeping
        self.before_update: Callable[[list[torch.Tensor] | None], None] = lambda values: None
        self.want_graph = False  # capture the step as a CUDA graph at the first full mini-batch
        self.captured: CapturedStep | None = None
        self.current: tuple[torch.Tensor, torch.Tensor] | None = None  # the mini-batch in flight (for the probe)
        self.carried: list[torch.Tensor] = []  # [loss sum, correct] of graphs dropped since the last report

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets _current_fx_name around each of its hooks; nn.Module.__setattr__ scans its
        # parameter, buffer and module dicts every time. These names only ever hold plain Python values.
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, chunk, chunk_idx: int) -> None:
        optimizer = self.optimizers()
        if self.want_graph and self.captured is None and chunk and chunk[0][0].shape[0] == self.config.batch_size:
            from core.backends.lightning.graphs import CapturedStep

            self.captured = CapturedStep(self.net, self.loss_fn, optimizer.optimizer, self.config.batch_size, *chunk[0])
        for x, y in chunk:
            if self.gate():  # pause, stop (within one mini-batch), rate changes and the report schedule
                return
            captured = self.captured  # after gate: a rate change drops the graph, which holds the old rate
            self.current = (x, y)
            if captured is not None and captured.fits(x) and not self.record:
                captured.step(x, y)  # forward, backward, SGD update and the loss/accuracy sums, replayed
                self.before_update(captured.before)  # parameters as the gradients saw them
            else:
                out = self._forward_recording(x) if self.record else self.net(x)
                loss = self.loss_fn(out, y)
                # No per-step metric kernels or syncs: keep references; take_sums reduces them at report time.
                self.pending.append((loss.detach(), out.detach(), y))
                optimizer.zero_grad(set_to_none=captured is None)  # a graph keeps its gradient tensors
                self.manual_backward(loss)
                optimizer.step()  # on_before_optimizer_step hands the watches their values first
            self.after_step(y.shape[0])

    def _forward_recording(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass, noting which ReLU units fire (for LayerGradStats.dead_fraction)."""
        self.alive = []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                self.alive.append((x > 0).any(0))
        return x

    def on_train_batch_start(self, batch, batch_idx: int) -> int | None:
        return -1 if self.trainer.should_stop else None  # -1 skips the rest of the epoch

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # DeviceBatches already yields tensors on the training device

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = make_optimizer(self.config, self.parameters())
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)  # momentum / Adam buffers go on; the rate is the
            # run book's (the schedule's rate at the checkpoint), set by the events callback at fit start
        return optimizer

    def drop_graph(self) -> None:
        """Forget the captured step (its sums are kept); the next full mini-batch captures a new one."""
        if self.captured is not None:
            self.carried.append(self.captured.take_sums())
            self.captured = None

    @torch.no_grad()
    def take_sums(self) -> tuple[float, int]:
        """Loss sum (per-sample losses added up) and correct count since the last call, in one device sync."""
        sums = []
        if self.pending:
            losses, outs, labels = zip(*self.pending, strict=True)
            self.pending = []
            sizes = torch.tensor([y.shape[0] for y in labels], dtype=torch.float32).to(outs[0].device)
            correct = (torch.cat(outs).argmax(1) == torch.cat(labels)).sum()
            sums.append(torch.stack([(torch.stack(losses) * sizes).sum(), correct.to(sizes.dtype)]))
        if self.captured is not None:
            sums.append(self.captured.take_sums())
        sums += self.carried
        self.carried = []
        if not sums:
            return 0.0, 0
        loss_sum, correct = torch.stack(sums).sum(0).tolist()
        return loss_sum, int(round(correct))

    @torch.no_grad()
    def evaluate(self, split_x: torch.Tensor, split_y: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Mean loss over a split held on the device, and the softmax probabilities of that same pass (CPU)."""
        n = split_y.shape[0]
        if n == 0:
            return float("nan"), torch.zeros((0, self.config.layer_sizes[-1]))
        was_training = self.net.training
        self.net.eval()
        loss_sum = torch.zeros((), device=split_x.device)
        probs = []
        for start in range(0, n, EVAL_CHUNK):
            xb, yb = split_x[start : start + EVAL_CHUNK], split_y[start : start + EVAL_CHUNK]
            out = self.net(xb)
            loss_sum += self.loss_fn(out, yb) * yb.shape[0]
            probs.append(torch.softmax(out.float(), dim=1))
        self.net.train(was_training)
        return loss_sum.item() / n, torch.cat(probs).cpu()
