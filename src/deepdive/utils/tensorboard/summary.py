"""Summary protocol buffers (from the ``tensorboard`` package) for each kind of value a run logs.

Each function returns a ``Summary`` message, built as PyTorch's
``torch.utils.tensorboard.summary`` builds it, so TensorBoard's plugins
(scalars, histograms, images, text, hparams) display it the same way.
"""
import struct
import zlib

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto


def make_np(x):
    """A NumPy array from a Tensor, an array or a Python number."""
    from ...tensor import Tensor
    if isinstance(x, Tensor):
        return x.detach()._data
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    raise NotImplementedError(f"Got {type(x).__name__}, but numpy array, deepdive tensor or a number are expected.")


def scalar(name, value, new_style=False, double_precision=False):
    """One number. Old style: ``simple_value``; new style: a scalar tensor for the 'scalars' plugin."""
    value = make_np(value).squeeze()
    if value.ndim != 0:
        raise ValueError(f"scalar should be 0D, got a value of shape {value.shape}")
    value = float(value)
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=value)])
    tensor = TensorProto(double_val=[value], dtype="DT_DOUBLE") if double_precision else \
        TensorProto(float_val=[value], dtype="DT_FLOAT")
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=name, tensor=tensor, metadata=metadata)])


def default_bins():
    """TensorFlow's histogram bucket edges: +-1e-12 growing by 10% to 1e20, and 0."""
    v, buckets = 1e-12, []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    return [-b for b in reversed(buckets)] + [0] + buckets


def histogram(name, values, bins, max_bins=None):
    """Bucket counts of ``values`` (NumPy's ``histogram`` bins, as PyTorch's make_histogram trims them)."""
    values = make_np(values).astype(float).reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        sub = len(counts) // max_bins
        if len(counts) % sub:
            counts = np.pad(counts, (0, sub - len(counts) % sub))
        counts = counts.reshape(-1, sub).sum(-1)
        limits = np.concatenate([limits[:-1:sub], limits[-1:]])
    # keep only the support (the first to the last non-empty bucket), plus one empty bucket on the left
    # because TensorBoard stores right edges only
    cum = np.cumsum(counts > 0)
    start, end = np.searchsorted(cum, [0, cum[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    hist = HistogramProto(min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
                          sum_squares=values.dot(values), bucket_limit=limits.tolist(), bucket=counts.tolist())
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def to_hwc(array, dataformats):
    """An image array in ``dataformats`` (CHW, HWC, HW, NCHW, NHWC ...) as HWC with 3 or 4 channels;
    a batch (N...) is tiled into a grid of 8 columns, as PyTorch's ``make_grid``."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or array.ndim != len(fmt):
        raise ValueError(f"add_image: image of shape {array.shape} does not match dataformats {dataformats!r}")
    if len(fmt) == 4:
        batch = array.transpose([fmt.find(c) for c in "NCHW"])
        if batch.shape[1] == 1:
            batch = np.concatenate([batch] * 3, 1)
        n, c, h, w = batch.shape
        ncols = min(n, 8)
        nrows = -(-n // ncols)
        canvas = np.zeros((c, h * nrows, w * ncols), dtype=batch.dtype)
        for i in range(n):
            y, x = divmod(i, ncols)
            canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = batch[i]
        return canvas.transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = array.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, 2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        return np.stack([array.transpose([fmt.find(c) for c in "HW"])] * 3, 2)
    raise ValueError(f"add_image: unsupported dataformats {dataformats!r}")


def image(tag, array, dataformats="CHW"):
    """An image: floats in [0, 1] are scaled by 255, uint8 taken as is; stored as PNG."""
    hwc = to_hwc(make_np(array), dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    img = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=encode_png(pixels))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def encode_png(pixels):
    """PNG bytes of an HxWx{1,3,4} uint8 array (zlib from the standard library; no Pillow needed)."""
    height, width, channels = pixels.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * channels)], 1)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def figure_to_image(figures, close=True):
    """A matplotlib figure (or list of them) rendered to a CHW (or NCHW) uint8 array."""
    from ...viz._deps import pyplot
    plt = pyplot()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def render(figure):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        w, h = figure.canvas.get_width_height()
        rgb = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(h, w, 4)[:, :, :3]
        if close:
            plt.close(figure)
        return np.moveaxis(rgb, 2, 0)

    if isinstance(figures, list):
        return np.stack([render(f) for f in figures])
    return render(figures)


def text(tag, text_string):
    """Markdown text for the 'text' plugin (tag gets PyTorch's '/text_summary' suffix)."""
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
    plugin = SummaryMetadata.PluginData(plugin_name="text", content=TextPluginData(version=0).SerializeToString())
    tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=SummaryMetadata(plugin_data=plugin),
                                        tensor=tensor)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The hparams plugin's three summaries: experiment, session start (the values), session end."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams.api_pb2 import DataType, Experiment, HParamInfo, MetricInfo, MetricName, Status
    from tensorboard.plugins.hparams.metadata import (EXPERIMENT_TAG, PLUGIN_DATA_VERSION, PLUGIN_NAME,
                                                      SESSION_END_INFO_TAG, SESSION_START_INFO_TAG)
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionary.")
    discrete = hparam_domain_discrete or {}
    for k, v in discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    start, infos = SessionStartInfo(), []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if not isinstance(v, (bool, int, float, str)):
            v = make_np(v).reshape(-1)[0].item()    # a one-element tensor
        # NOTE: bool is tested before int (True is an int in Python), so flags show as true/false
        field, kind = (("bool_value", "DATA_TYPE_BOOL") if isinstance(v, bool) else
                       ("string_value", "DATA_TYPE_STRING") if isinstance(v, str) else
                       ("number_value", "DATA_TYPE_FLOAT64"))
        setattr(start.hparams[k], field, v)
        domain = None
        if k in discrete:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in discrete[k]])
        infos.append(HParamInfo(name=k, type=DataType.Value(kind), domain_discrete=domain))

    def plugin_summary(tag, **content):
        data = HParamsPluginData(version=PLUGIN_DATA_VERSION, **content).SerializeToString()
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=data))
        return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])

    experiment = Experiment(hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    return (plugin_summary(EXPERIMENT_TAG, experiment=experiment),
            plugin_summary(SESSION_START_INFO_TAG, session_start_info=start),
            plugin_summary(SESSION_END_INFO_TAG,
                           session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))))
