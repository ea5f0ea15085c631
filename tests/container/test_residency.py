"""GPU residency (song_model/residency.py): an offloaded part lives in host memory and is on the
device only inside its stage; leaving drops the device copy and keeps the exact host weights.

CI has no GPU: the "meta" device plays the accelerator in the movement tests (the tensors really
change device and lose their data there, so a part that was not moved back would show); the CUDA
test runs the same moves on a real GPU where one is present. The pipeline's placement per stage is
checked with the tiny models in test_pipeline.py and test_audio_in.py.
"""

from __future__ import annotations

import pytest
import torch
from song_model.residency import DEVICE, HOST, Residency

STAND_IN = torch.device("meta")


def _part() -> torch.nn.Module:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    module.register_buffer("scale", torch.full((8,), 0.5))
    return module


def _devices(module: torch.nn.Module) -> set[str]:
    return {t.device.type for t in [*module.parameters(), *module.buffers()]}


def test_an_offloaded_part_is_on_the_device_only_inside_its_stage() -> None:
    part = _part()
    weights = {name: tensor.clone() for name, tensor in part.state_dict().items()}
    residency = Residency(STAND_IN, offload={"llm"})
    residency.place("llm", [part])
    assert _devices(part) == {"cpu"} and residency.where("llm") == HOST
    with residency.on_device("llm"):
        assert _devices(part) == {"meta"} and residency.where("llm") == DEVICE
    assert _devices(part) == {"cpu"} and residency.where("llm") == HOST
    # Nothing was copied back: the host weights are the ones loaded, bit for bit.
    assert all(torch.equal(part.state_dict()[name], value) for name, value in weights.items())
    assert residency.moves == [("llm", DEVICE), ("llm", HOST)]


def test_a_resident_part_moves_once_at_placement() -> None:
    part = _part()
    residency = Residency(STAND_IN, offload={"llm"})
    residency.place("music", [part])
    assert _devices(part) == {"meta"} and residency.where("music") == DEVICE
    with residency.on_device("music"):
        assert _devices(part) == {"meta"}
    assert residency.moves == []


def test_host_bytes_counts_each_offloaded_part_once() -> None:
    offloaded, resident = _part(), _part()
    offloaded.tied = offloaded[0].weight  # a second slot for the same tensor: one host copy
    residency = Residency(STAND_IN, offload={"llm"})
    residency.place("llm", [offloaded])
    residency.place("music", [resident])
    # Linear(4, 8): 32 + 8, LayerNorm(8): 8 + 8, the buffer: 8; float32.
    assert residency.host_bytes() == {"llm": (32 + 8 + 8 + 8 + 8) * 4}


def test_a_failing_stage_still_leaves_the_device() -> None:
    part = _part()
    residency = Residency(STAND_IN, offload={"stems"})
    residency.place("stems", [part])
    with pytest.raises(RuntimeError, match="out of memory"), residency.on_device("stems"):
        raise RuntimeError("CUDA out of memory")
    assert _devices(part) == {"cpu"} and residency.moves == [("stems", DEVICE), ("stems", HOST)]


def test_tied_weights_move_as_one_tensor() -> None:
    embed = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = embed.weight  # tied, as many LMs do
    residency = Residency(STAND_IN, offload={"llm"})
    residency.place("llm", [embed, head])
    with residency.on_device("llm"):
        assert head.weight is embed.weight and head.weight.device.type == "meta"
    assert head.weight is embed.weight and head.weight.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_memory_is_taken_only_inside_the_stage() -> None:
    device = torch.device("cuda")
    part = torch.nn.Linear(2048, 2048)  # 16 MiB of float32
    residency = Residency(device, offload={"llm"})
    residency.place("llm", [part])
    assert part.weight.is_pinned()
    idle = torch.cuda.memory_allocated(device)
    with residency.on_device("llm"):
        assert part.weight.device.type == "cuda"
        assert torch.cuda.memory_allocated(device) - idle >= 16 * 2**20
        with torch.inference_mode():
            out = part(torch.ones(1, 2048, device=device))
    assert torch.cuda.memory_allocated(device) - idle < 2**20 + out.numel() * 4
    assert part.weight.device.type == "cpu"
