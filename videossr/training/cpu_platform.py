"""A CPU platform for stock verl: a testing aid that lets one real GRPO step run on a machine without a GPU.

verl 0.9 knows only accelerator platforms (nvidia, npu, rocm) and, without a GPU, falls back to CUDA. This module
registers a ``cpu`` platform through verl's platform plugin registry and installs it, and smooths over the few
places where a CPU-only process cannot do what verl and vLLM assume a GPU process can. Nothing in verl or vLLM is
edited; what this module changes, it changes in the importing process only:

* verl's platform singleton becomes :class:`PlatformCPU`: device ``cpu``, collective backend ``gloo``, no IPC, no-op
  memory statistics / cache / synchronisation, Ray resource still ``GPU`` (Ray is started with fake GPUs).
  ``current_device()`` answers ``"cpu"`` because verl passes it to torch as a device, and torch reads an int as CUDA.
* ``torch.distributed.init_process_group``: verl asks for ``cpu:gloo,<device>:<backend>``, which for the CPU device
  is ``cpu:gloo,cpu:gloo`` and torch rejects the duplicate; repeated device entries are dropped.
* ``torch.Tensor.pin_memory`` returns the tensor itself while CUDA is unavailable (verl gives the reference model
  FSDP2's ``CPUOffloadPolicy(pin_memory=True)``, and pinning needs a CUDA driver).
* vLLM-CPU packs linear weights into oneDNN handles and drops ``layer.weight``, which breaks verl's weight sync
  from the actor to the rollout; ``vllm._custom_ops._supports_onednn`` is set to False as soon as that module is
  imported, so vLLM computes with the live weights.

It is never imported by VideoSSR itself, and importing it changes nothing unless ``VERL_PLATFORM=cpu`` is set (or
``install()`` is called). It loads through verl's external-module hook, which every verl process (driver, Ray
workers, the vLLM worker that loads verl's worker extension) runs on ``import verl``::

    VERL_USE_EXTERNAL_MODULES=videossr.training.cpu_platform VERL_PLATFORM=cpu VERL_ENGINE_DEVICE=cuda \\
        python -m verl.trainer.main_ppo ... (plus the CPU overrides)

``SMOKE=1 bash train/train.sh`` (``make train-smoke``) sets all of that; see train/README.md, "CPU smoke step".
It makes one step possible, not fast: there is no throughput, sharding or NCCL to learn from it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
import types
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed

from verl.plugin.platform import PlatformBase, PlatformRegistry, set_platform

logger = logging.getLogger(__name__)

PLATFORM_NAME = "cpu"


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _make_device_module() -> types.ModuleType:
    """``torch.cpu`` plus the ``torch.cuda``-style calls verl makes on its device module (no-ops or host RNG)."""
    module = types.ModuleType("videossr_cpu_device")
    for name in dir(torch.cpu):
        if not name.startswith("__"):
            setattr(module, name, getattr(torch.cpu, name))
    module.current_device = lambda: "cpu"
    module.device_count = lambda: 1
    module.is_available = lambda: True
    module.set_device = _noop
    module.synchronize = _noop
    module.empty_cache = _noop
    module.get_device_name = lambda *args, **kwargs: "CPU"  # verl's flops counter: an unknown device
    module.get_device_capability = lambda *args, **kwargs: (None, None)
    module.manual_seed = torch.manual_seed
    module.manual_seed_all = torch.manual_seed
    module.get_rng_state = lambda *args, **kwargs: torch.get_rng_state()
    module.set_rng_state = lambda state, *args, **kwargs: torch.set_rng_state(state)
    for name in ("memory_allocated", "memory_reserved", "max_memory_allocated", "max_memory_reserved"):
        setattr(module, name, _zero)
    module.reset_peak_memory_stats = _noop
    module.reset_max_memory_allocated = _noop
    module.memory_stats = lambda *args, **kwargs: {}
    module.mem_get_info = _mem_get_info
    return module


def _mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
    """(free, total) host memory in bytes, standing in for device memory."""
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.available), int(vm.total)
    except ImportError:
        return 0, 0


class PlatformCPU(PlatformBase):
    """verl platform for a CPU-only host (testing aid; see the module docstring)."""

    _device_module: types.ModuleType | None = None

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        if PlatformCPU._device_module is None:
            PlatformCPU._device_module = _make_device_module()
        return PlatformCPU._device_module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return True

    def current_device(self) -> str:  # type: ignore[override]  # a torch device, not a CUDA ordinal
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"  # Ray is started with fake GPUs (+ray_kwargs.ray_init.num_gpus): verl always asks for them

    def ray_noset_envvars(self) -> list[str]:
        return ["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"]

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def dedupe_backend(backend: str | None) -> str | None:
    """``"cpu:gloo,cpu:gloo"`` -> ``"gloo"``: drop repeated device entries of a ``device:backend`` list.

    Any other value is returned unchanged.
    """
    if not isinstance(backend, str) or ":" not in backend:
        return backend
    pairs: dict[str, str] = {}
    for item in backend.split(","):
        device, _, name = item.strip().partition(":")
        if device in pairs and pairs[device] != name:
            raise ValueError(f"process group backend {backend!r} gives device {device!r} two backends")
        pairs.setdefault(device, name)
    if len(pairs) == 1 and "cpu" in pairs:
        return pairs["cpu"]
    return ",".join(f"{d}:{b}" for d, b in pairs.items())


def _patch_init_process_group() -> None:
    original = torch.distributed.init_process_group
    if getattr(original, "_videossr_cpu", False):
        return

    def init_process_group(*args: Any, **kwargs: Any):
        if "backend" in kwargs:
            kwargs["backend"] = dedupe_backend(kwargs["backend"])
        elif args:
            args = (dedupe_backend(args[0]), *args[1:])
        return original(*args, **kwargs)

    init_process_group._videossr_cpu = True  # type: ignore[attr-defined]
    torch.distributed.init_process_group = init_process_group


def _patch_pin_memory() -> None:
    original = torch.Tensor.pin_memory
    if getattr(original, "_videossr_cpu", False):
        return

    def pin_memory(self, *args: Any, **kwargs: Any):
        if not torch.cuda.is_available():
            return self
        return original(self, *args, **kwargs)

    pin_memory._videossr_cpu = True  # type: ignore[attr-defined]
    torch.Tensor.pin_memory = pin_memory


def _disable_vllm_onednn(module: types.ModuleType) -> None:
    if getattr(module, "_supports_onednn", False):
        module._supports_onednn = False
        logger.info("vLLM oneDNN weight packing off (verl's weight sync needs the live layer weights)")


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a callback on a module right after its first import (here: ``vllm._custom_ops``)."""

    def __init__(self, name: str, callback):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # find the real spec with the other finders
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                callback(module)

        spec.loader = _Loader()
        return spec


def _patch_vllm() -> None:
    name = "vllm._custom_ops"
    if name in sys.modules:
        _disable_vllm_onednn(sys.modules[name])
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, _disable_vllm_onednn))


def install() -> PlatformCPU:
    """Install the CPU platform and the process patches in this process (idempotent); return the platform."""
    if torch.cuda.is_available():
        logger.warning("videossr.training.cpu_platform loaded on a host with CUDA: verl will still run on the CPU")
    if PLATFORM_NAME not in PlatformRegistry.registered_names():
        PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
    platform = PlatformCPU()
    set_platform(platform)
    _patch_init_process_group()
    _patch_pin_memory()
    _patch_vllm()
    return platform


if os.environ.get("VERL_PLATFORM") == "cpu":  # set by train.sh's SMOKE=1 with the external-module hook
    install()
