"""Add TFLite image-input metadata (NormalizationOptions) to a bare .tflite model.

MediaPipe's own metadata writer needs a compiled module that the 1.x wheels lack, so the
metadata flatbuffer is written here with the schema modules that mediapipe ships.
"""

from __future__ import annotations

import flatbuffers
from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

METADATA_FIELD_NAME = b"TFLITE_METADATA"
METADATA_FILE_IDENTIFIER = b"M001"
TFLITE_FILE_IDENTIFIER = b"TFL3"
# Only features of the first schema version are used (image properties, normalization).
MIN_PARSER_VERSION = "1.0.0"


def _image_input_metadata(name: str, mean: float, std: float) -> meta_fb.TensorMetadataT:
    tensor = meta_fb.TensorMetadataT()
    tensor.name = name
    tensor.description = "Input image, RGB."
    content = meta_fb.ContentT()
    content.contentPropertiesType = meta_fb.ContentProperties.ImageProperties
    props = meta_fb.ImagePropertiesT()
    props.colorSpace = meta_fb.ColorSpaceType.RGB
    content.contentProperties = props
    tensor.content = content
    norm = meta_fb.NormalizationOptionsT()
    norm.mean = [float(mean)]
    norm.std = [float(std)]
    unit = meta_fb.ProcessUnitT()
    unit.optionsType = meta_fb.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    tensor.processUnits = [unit]
    stats = meta_fb.StatsT()
    stats.max = [(255.0 - mean) / std]
    stats.min = [(0.0 - mean) / std]
    tensor.stats = stats
    return tensor


def _plain_output_metadata(name: str) -> meta_fb.TensorMetadataT:
    tensor = meta_fb.TensorMetadataT()
    tensor.name = name
    return tensor


def add_image_metadata(model_bytes: bytes, *, model_name: str, mean: float, std: float) -> bytes:
    """Return the model with a TFLITE_METADATA buffer describing a normalized RGB input.

    The output is deterministic: the same input bytes always give the same output bytes.
    """
    model = tflite_fb.ModelT.InitFromObj(tflite_fb.Model.GetRootAsModel(model_bytes, 0))
    if len(model.subgraphs) != 1:
        raise ValueError(f"{model_name}: expected one subgraph, found {len(model.subgraphs)}")
    graph = model.subgraphs[0]
    if len(graph.inputs) != 1:
        raise ValueError(f"{model_name}: expected one image input, found {len(graph.inputs)}")

    subgraph_meta = meta_fb.SubGraphMetadataT()
    subgraph_meta.inputTensorMetadata = [_image_input_metadata("image", mean, std)]
    subgraph_meta.outputTensorMetadata = [
        _plain_output_metadata(graph.tensors[i].name.decode()) for i in graph.outputs
    ]
    model_meta = meta_fb.ModelMetadataT()
    model_meta.name = model_name
    model_meta.version = "1"
    model_meta.subgraphMetadata = [subgraph_meta]
    model_meta.minParserVersion = MIN_PARSER_VERSION
    builder = flatbuffers.Builder(0)
    builder.Finish(model_meta.Pack(builder), METADATA_FILE_IDENTIFIER)
    metadata_bytes = bytes(builder.Output())

    buffer = tflite_fb.BufferT()
    buffer.data = list(metadata_bytes)
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_FIELD_NAME]
    model.buffers.append(buffer)
    entry = tflite_fb.MetadataT()
    entry.name = METADATA_FIELD_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)

    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())
