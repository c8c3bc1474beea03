"""Architecture rules: each third-party runtime is imported in one place; the domain stays pure; no print."""

import ast
from pathlib import Path

import anonymizer

ROOT = Path(anonymizer.__file__).parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0] if not node.module.startswith("anonymizer") else node.module)
    return out


def modules():
    return [p for p in ROOT.rglob("*.py")]


def test_av_only_in_media():
    bad = [p for p in modules() if "av" in imports(p) and p.parent.name != "media"]
    assert not bad


def test_onnxruntime_only_in_inference():
    bad = [p for p in modules() if {"onnxruntime", "onnx"} & imports(p) and p.parent.name != "inference"]
    assert not bad


def test_domain_imports_nothing_above_it():
    for p in (ROOT / "domain").rglob("*.py"):
        for mod in imports(p):
            if mod.startswith("anonymizer"):
                assert mod.startswith(("anonymizer.domain", "anonymizer.errors")), (p, mod)
            else:
                assert mod in {"numpy", "dataclasses", "typing", "datetime", "zoneinfo", "__future__", "math",
                               "enum", "re", "fractions", "collections", "bisect", "itertools", "functools",
                               "json", "hashlib", "calendar", "pathlib", "string", "uuid"}, (p, mod)


def test_no_print_in_library():
    for p in modules():
        tree = ast.parse(p.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, p


def test_no_bare_except():
    for p in modules():
        tree = ast.parse(p.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler) and n.type is None], p


def test_distributed_only_in_the_cluster_executor():
    bad = [p for p in modules() if {"distributed", "dask"} & imports(p) and p.name != "cluster.py"]
    assert not bad


def test_the_training_framework_only_in_training_and_training_never_imported_by_the_runtime():
    """PyTorch is the optional ``train`` extra: only ``anonymizer.training`` imports it, and no module outside
    that package imports ``anonymizer.training`` (the runtime runs the exported ONNX file)."""
    framework = [p for p in modules() if {"torch", "torchvision"} & imports(p) and p.parent.name != "training"]
    assert not framework
    runtime = [p for p in modules() if p.parent.name != "training"
               and any(m.startswith("anonymizer.training") for m in imports(p))]
    assert not runtime
