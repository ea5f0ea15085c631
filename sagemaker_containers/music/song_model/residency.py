"""Which model parts stay on the GPU between requests, and moving the others in for their stage.

All five models resident need ~42 GiB of the ~44.3 GiB an L40S leaves usable (docs/container.md,
"GPU memory"), so some parts are *offloaded*: their weights live in host memory (pinned, so the
copy runs at PCIe speed) and are copied to the GPU only while their stage runs. Leaving the stage
drops the GPU copy instead of copying it back: inference never changes the weights, so the host
copy is still exact, and going out costs nothing. The freed blocks stay in torch's caching
allocator for the next stage's activations.

`moves` records every transition (part, where it went) so tests and logs can see the placement.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch

log = logging.getLogger(__name__)

HOST = "host"
DEVICE = "device"


class _Offloaded:
    """The tensors of one offloaded part: every parameter and buffer slot of its modules, each with
    its host tensor. Moving in puts a device copy in each slot (tied weights share one copy, as on
    the host); moving out puts the host tensors back, as accelerate's offload hooks do."""

    def __init__(self, modules: Iterable[torch.nn.Module], pin: bool) -> None:
        self.slots: list[tuple[dict[str, Any], str, torch.Tensor]] = []
        seen_slots: set[tuple[int, str]] = set()
        host_of: dict[int, torch.Tensor] = {}
        for module in modules:
            for owner in module.modules():
                for table in (owner._parameters, owner._buffers):
                    for name, tensor in table.items():
                        if tensor is None or (id(table), name) in seen_slots:
                            continue
                        seen_slots.add((id(table), name))
                        if id(tensor) not in host_of:  # tied weights: one tensor, one host copy
                            host_of[id(tensor)] = self._host(tensor, pin)
                        table[name] = host_of[id(tensor)]
                        self.slots.append((table, name, host_of[id(tensor)]))
        self.bytes = sum(t.numel() * t.element_size() for t in host_of.values())

    @staticmethod
    def _host(tensor: torch.Tensor, pin: bool) -> torch.Tensor:
        host = tensor.detach().to("cpu")
        # Pinned (page-locked) memory lets the copy to the GPU run asynchronously at full PCIe
        # bandwidth; only a CUDA build can pin.
        host = host.pin_memory() if pin else host
        if isinstance(tensor, torch.nn.Parameter):
            return torch.nn.Parameter(host, requires_grad=tensor.requires_grad)
        return host

    def to_device(self, device: torch.device) -> None:
        copies: dict[int, torch.Tensor] = {}
        for table, name, host in self.slots:
            if id(host) not in copies:
                moved = host.detach().to(device, non_blocking=True)
                if isinstance(host, torch.nn.Parameter):
                    moved = torch.nn.Parameter(moved, requires_grad=host.requires_grad)
                copies[id(host)] = moved
            table[name] = copies[id(host)]

    def to_host(self) -> None:
        for table, name, host in self.slots:
            table[name] = host


class Residency:
    def __init__(self, device: torch.device, offload: Iterable[str] = ()) -> None:
        self.device = device
        self.offload = frozenset(offload)
        self._parts: dict[str, _Offloaded] = {}
        self._where: dict[str, str] = {}
        self.moves: list[tuple[str, str]] = []

    def place(self, part: str, modules: Iterable[torch.nn.Module]) -> None:
        """Put a loaded part where it lives between requests: on the device, or (offloaded) in host
        memory, ready for `on_device`."""
        modules = list(modules)
        if part in self.offload:
            self._parts[part] = _Offloaded(modules, pin=self.device.type == "cuda")
            self._where[part] = HOST
            log.info(
                "%s stays in host memory between its stages (%.2f GB)", part, self._parts[part].bytes / 1e9
            )
            return
        for module in modules:
            module.to(self.device)
        self._where[part] = DEVICE

    def where(self, part: str) -> str:
        return self._where.get(part, DEVICE)

    def host_bytes(self) -> dict[str, int]:
        """The bytes each offloaded part keeps in host memory (what moving it in adds to the GPU)."""
        return {part: offloaded.bytes for part, offloaded in self._parts.items()}

    @contextlib.contextmanager
    def on_device(self, part: str) -> Iterator[None]:
        """The part is on the device inside the block (a no-op for resident parts). Its device copy
        is dropped on the way out, also when the stage fails or the copy itself runs out of memory."""
        offloaded = self._parts.get(part)
        if offloaded is None:
            yield
            return
        started = time.perf_counter()
        try:
            offloaded.to_device(self.device)
            self._where[part] = DEVICE
            self.moves.append((part, DEVICE))
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
                log.info(
                    "%s moved to %s: %.2f GB in %.2f s",
                    part,
                    self.device,
                    offloaded.bytes / 1e9,
                    time.perf_counter() - started,
                )
            yield
        finally:
            offloaded.to_host()
            if self._where[part] == DEVICE:
                self.moves.append((part, HOST))
            self._where[part] = HOST
