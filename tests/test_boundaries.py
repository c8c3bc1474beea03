"""Architecture rules: each third-party runtime is imported in one place; the domain stays pure; no print; comments
say why in a few lines, without commit hashes (history stays in git)."""

import ast
import io
import re
import tokenize
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


# A token that reads as a git commit: a whole word of 7-12 lowercase hex digits (an abbreviated hash) or exactly 40
# (a full one), with at least one digit and one letter, so "deadbeef", "20260101" and a 64-digit sha256 do not count.
COMMIT_LIKE = re.compile(
    r"(?<![0-9A-Za-z_])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])(?:[0-9a-f]{7,12}|[0-9a-f]{40})(?![0-9A-Za-z_])")
MAX_COMMENT_LINES = 5


def comments(path: Path) -> list[tuple[int, str, bool]]:
    """(line, text, whether the comment is the whole line) of every comment of a module."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(t.start[0], t.string, t.line.strip().startswith("#")) for t in tokens if t.type == tokenize.COMMENT]


def docstrings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the module's, classes' and functions' docstrings; string literals in code are not read."""
    nodes = ast.walk(ast.parse(path.read_text()))
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found = [(getattr(n, "lineno", 1), ast.get_docstring(n, clean=False)) for n in nodes if isinstance(n, kinds)]
    return [(line, doc) for line, doc in found if doc]


def test_commit_like_patterns():
    for text in ("measured at a5c7a41", "(0f3446d)", "at 44820f6:", "71473ed" + "0" * 33):
        assert COMMIT_LIKE.search(text), text
    for text in ("deadbeef", "20260101", "0x1f2e3d4c", "a" + "0" * 63, "libx264", "1920x1088", "face_1a2b3c4"):
        assert not COMMIT_LIKE.search(text), text


def test_no_commit_hash_in_comments_or_docstrings():
    """History (which commit measured what) stays in git and benchmarks/RESULTS.md, not in the code."""
    bad = []
    for p in modules():
        texts = [(line, text) for line, text, _ in comments(p)] + docstrings(p)
        bad += [f"{p.relative_to(ROOT.parent)}:{line}: {m.group()}" for line, text in texts
                for m in COMMIT_LIKE.finditer(text)]
    assert not bad, bad


def test_no_comment_paragraph_over_five_lines():
    """A comment says why in a line or two; a longer reason goes to docs/decisions/. Trailing comments on
    consecutive code lines are not a paragraph: only whole-line comments are counted."""
    bad = []
    for p in modules():
        lines = [line for line, _, whole in comments(p) if whole]
        start = previous = None
        for line in [*lines, None]:
            if line is not None and previous is not None and line == previous + 1:
                previous = line
                continue
            if start is not None and previous - start + 1 > MAX_COMMENT_LINES:
                bad.append(f"{p.relative_to(ROOT.parent)}:{start}: {previous - start + 1} lines")
            start = previous = line
    assert not bad, bad
