"""``SummaryWriter``: PyTorch's API for writing TensorBoard event files.

A run is a folder (``log_dir``) of event files; each event is a ``Summary``
(scalars, histograms, images, text ...) stamped with a step and a wall time.
``FileWriter`` appends events through the ``tensorboard`` package's own
``EventFileWriter`` (which queues them and flushes every ``flush_secs``), and
``SummaryWriter`` turns Python values into summaries as PyTorch's does.
"""
import os
import socket
import time
from datetime import datetime

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary as _summary

__all__ = ["SummaryWriter", "FileWriter"]


class FileWriter:
    """Writes ``Event`` protocol buffers to an event file in ``log_dir`` (TensorBoard's own writer)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime=None):
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        self.event_writer.reopen()


def default_log_dir(comment=""):
    """``runs/<Mon>DD_HH-MM-SS_<host><comment>``, PyTorch's default."""
    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


class SummaryWriter:
    """Log values of a run for TensorBoard, as ``torch.utils.tensorboard.SummaryWriter``.

    Args:
        log_dir (str): the run's folder; default ``runs/<date>_<host><comment>``.
        comment (str): suffix of the default ``log_dir`` (ignored when ``log_dir`` is given).
        purge_step (int): when a crashed run restarts at step T, pass T: TensorBoard then drops the
            run's earlier events with step >= T (a START session log at T, as PyTorch writes it).
        max_queue (int, default 10): events kept in memory before a write.
        flush_secs (int, default 120): how often pending events are written.
        filename_suffix (str): appended to each event file's name.

    Example::

        with SummaryWriter("runs/mlp") as writer:
            for step in range(100):
                writer.add_scalar("loss/train", loss.item(), step)
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        self.log_dir = str(log_dir) if log_dir is not None else default_log_dir(comment)
        self.purge_step = purge_step
        self.max_queue, self.flush_secs, self.filename_suffix = max_queue, flush_secs, filename_suffix
        self.file_writer = None
        self.all_writers = None
        self._projector_config = None
        self._get_file_writer()

    def _get_file_writer(self):
        """The run's FileWriter, (re)created if closed."""
        if self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                self.file_writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    # ------------------------------------------------------------------ values
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One number (a float, or a one-element tensor) under ``tag`` at ``global_step``."""
        self._get_file_writer().add_summary(_summary.scalar(tag, scalar_value, new_style, double_precision),
                                            global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves on one chart: each key gets its own run folder ``<log_dir>/<main_tag>_<key>``
        (as PyTorch does), all under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = self.all_writers[fw_tag] = FileWriter(fw_tag, self.max_queue, self.flush_secs,
                                                           self.filename_suffix)
            fw.add_summary(_summary.scalar(main_tag, value), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """The distribution of ``values``; ``bins`` is 'tensorflow' (TensorFlow's exponential buckets) or
        anything ``numpy.histogram`` takes ('auto', 'fd', an int ...)."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = _summary.default_bins()
        self._get_file_writer().add_summary(_summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: floats in [0, 1] or uint8 in [0, 255], shaped as ``dataformats`` says (CHW, HWC, HW)."""
        self._get_file_writer().add_summary(_summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images, tiled into one grid image (8 per row)."""
        self._get_file_writer().add_summary(_summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them), rendered to an image."""
        image = _summary.figure_to_image(figure, close)
        if isinstance(figure, list):
            self.add_images(tag, image, global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, image, global_step, walltime, dataformats="CHW")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Markdown text (shown by TensorBoard's Text tab under ``<tag>/text_summary``)."""
        self._get_file_writer().add_summary(_summary.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """One hyper-parameter trial: its values and final metrics, in a sub-run (``run_name``, default the
        current time) as PyTorch writes it."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = _summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=logdir) as w_hp:
            for s in (exp, ssi, sei):
                w_hp.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The graph of ``model(*input_to_model)``, from deepdive's autograd graph (see ``graph.py``)."""
        from .graph import graph_def
        if input_to_model is None:
            raise ValueError("add_graph needs input_to_model: the graph is recorded from one forward pass")
        gd = graph_def(model, input_to_model)
        if verbose:
            print(gd)
        self._get_file_writer().add_graph(gd)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Points for the Projector tab: ``mat`` (N, D) to ``<log_dir>/<step:05d>/<tag>/tensors.tsv``, labels
        to ``metadata.tsv``, listed in ``projector_config.pbtxt``. ``label_img`` (sprites) is not supported."""
        from google.protobuf import text_format
        from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig
        if label_img is not None:
            raise NotImplementedError("add_embedding: label_img (sprite images) is not supported by deepdive; "
                                      "pass metadata labels instead")
        mat = _summary.make_np(mat)
        if mat.ndim != 2:
            raise ValueError(f"add_embedding: mat should be 2D (points x features), got shape {mat.shape}")
        global_step = 0 if global_step is None else global_step
        subdir = f"{str(global_step).zfill(5)}/{tag.replace('/', '_')}"
        save_path = os.path.join(self._get_file_writer().get_logdir(), subdir)
        os.makedirs(save_path, exist_ok=True)
        info = EmbeddingInfo(tensor_name=f"{tag}:{str(global_step).zfill(5)}",
                             tensor_path=subdir + "/tensors.tsv")
        if metadata is not None:
            if len(metadata) != mat.shape[0]:
                raise ValueError(f"add_embedding: {len(metadata)} labels for {mat.shape[0]} points")
            rows = [str(x) for x in metadata] if not metadata_header else \
                ["\t".join(str(e) for e in row) for row in [metadata_header] + list(metadata)]
            with open(os.path.join(save_path, "metadata.tsv"), "w", encoding="utf-8") as f:
                f.write("\n".join(rows) + "\n")
            info.metadata_path = subdir + "/metadata.tsv"
        with open(os.path.join(save_path, "tensors.tsv"), "w", encoding="utf-8") as f:
            for row in mat:
                f.write("\t".join(str(v.item()) for v in row) + "\n")
        if self._projector_config is None:
            self._projector_config = ProjectorConfig()
        self._projector_config.embeddings.extend([info])
        with open(os.path.join(self._get_file_writer().get_logdir(), "projector_config.pbtxt"), "w") as f:
            f.write(text_format.MessageToString(self._projector_config))

    # ----------------------------------------------------------------- control
    def flush(self):
        """Write pending events of every writer of this run now."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
