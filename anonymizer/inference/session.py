"""The one place that creates ONNX Runtime sessions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from anonymizer.errors import ModelError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def providers_for(device: str, available: list[str]) -> list[str]:
    """Execution providers for a device choice, given what this ONNX Runtime build offers."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelError(f"device cuda: this onnxruntime has no CUDA provider (available: {', '.join(available)})")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    raise ModelError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")


def make_session(path: Path, threads: int = 0, device: str = "auto") -> Any:
    """An inference session with full graph optimisation and ``threads`` intra-op threads (0: ORT's default)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle ORT threads must not spin: the decoder and encoder threads need those cores between inferences.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No memory pattern: it plans one block per input shape on top of the arena, about 90 MiB more peak RSS for
    # both detectors at their default sizes, for no measured speed (benchmarks/README.md, "ONNX Runtime memory").
    options.enable_mem_pattern = False
    providers = providers_for(device, ort.get_available_providers())
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
        raise ModelError(f"{path}: cannot load model: {exc}") from exc
    log.debug("%s: running on %s", path.name, session.get_providers()[0])
    return session
