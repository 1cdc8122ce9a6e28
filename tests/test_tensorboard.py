"""deepdive.utils.tensorboard: real event files, read back with TensorBoard's own event reader."""
import glob
import os
import re
import socket

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn

if os.environ.get("DEEPDIVE_REQUIRE_TORCH") != "1":     # CI installs .[test], which has tensorboard
    pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402

from deepdive.utils.tensorboard import SummaryWriter  # noqa: E402
from parity import require_torch  # noqa: E402


def _load(path):
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                                        "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_read_back_with_tags_steps_and_values(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss/train", 1.0 / (step + 1), step)
            writer.add_scalar("acc", deepdive.tensor(step * 0.1), global_step=step * 10)
    events = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert len(events) == 1
    acc = _load(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["acc", "loss/train"]
    loss = acc.Scalars("loss/train")
    assert [e.step for e in loss] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([e.value for e in loss], [1.0, 0.5, 1 / 3, 0.25, 0.2], rtol=1e-6)
    assert [e.step for e in acc.Scalars("acc")] == [0, 10, 20, 30, 40]
    np.testing.assert_allclose([e.value for e in acc.Scalars("acc")], [0, 0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    with pytest.raises(ValueError, match="0D"):
        SummaryWriter(tmp_path / "x").add_scalar("bad", deepdive.ones(3), 0)


def test_new_style_scalar_is_a_tensor_for_the_scalars_plugin(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("lr", 0.125, 3, new_style=True)
    (event,) = _load(tmp_path).Tensors("lr")
    assert event.step == 3 and event.tensor_proto.float_val == [0.125]


def test_add_scalars_writes_one_run_per_key_as_pytorch(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalars("loss", {"train": step * 1.0, "val": step * 2.0}, step)
    for key, factor in (("train", 1.0), ("val", 2.0)):
        run = _load(tmp_path / f"loss_{key}")
        assert run.Tags()["scalars"] == ["loss"]
        assert [(e.step, e.value) for e in run.Scalars("loss")] == [(s, s * factor) for s in range(3)]


def test_histogram_matches_pytorchs_buckets(tmp_path):
    torch = require_torch()
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    with SummaryWriter(tmp_path / "dd") as w:
        w.add_histogram("weights", deepdive.tensor(values), 7)
        w.add_histogram("auto", values, 1, bins="auto")
    with TorchWriter(str(tmp_path / "torch")) as w:
        w.add_histogram("weights", torch.tensor(values), 7)
        w.add_histogram("auto", values, 1, bins="auto")
    for tag, step in (("weights", 7), ("auto", 1)):
        (ours,) = _load(tmp_path / "dd").Histograms(tag)
        (theirs,) = _load(tmp_path / "torch").Histograms(tag)
        assert ours.step == theirs.step == step
        assert ours.histogram_value == theirs.histogram_value
    assert _load(tmp_path / "dd").Histograms("weights")[0].histogram_value.num == 1000


def test_images_chw_hwc_and_batches_decode_to_the_pixels(tmp_path):
    torch = require_torch()
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    rng = np.random.default_rng(1)
    chw = rng.random((3, 4, 5)).astype(np.float32)
    batch = (rng.random((3, 1, 4, 4)) * 255).astype(np.uint8)
    with SummaryWriter(tmp_path / "dd") as w:
        w.add_image("chw", deepdive.tensor(chw), 0)
        w.add_image("hwc", chw.transpose(1, 2, 0), 0, dataformats="HWC")
        w.add_images("batch", deepdive.tensor(batch), 2)
    acc = _load(tmp_path / "dd")
    assert sorted(acc.Tags()["images"]) == ["batch", "chw", "hwc"]
    for tag, (h, w_, step) in (("chw", (4, 5, 0)), ("hwc", (4, 5, 0)), ("batch", (4, 12, 2))):
        (event,) = acc.Images(tag)
        assert (event.height, event.width, event.step) == (h, w_, step)
        assert event.encoded_image_string.startswith(b"\x89PNG")
    pixels = _decode_png(acc.Images("chw")[0].encoded_image_string)
    np.testing.assert_array_equal(pixels, (chw.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8))
    np.testing.assert_array_equal(pixels, _decode_png(acc.Images("hwc")[0].encoded_image_string))
    # the same pixels as PyTorch's writer (which encodes with Pillow) where Pillow is installed
    try:
        import io
        from PIL import Image
    except ImportError:
        return
    with TorchWriter(str(tmp_path / "torch")) as w:
        w.add_images("batch", torch.tensor(batch), 2)
    theirs = np.asarray(Image.open(io.BytesIO(_load(tmp_path / "torch").Images("batch")[0].encoded_image_string)))
    np.testing.assert_array_equal(_decode_png(acc.Images("batch")[0].encoded_image_string), theirs)
    ours = np.asarray(Image.open(io.BytesIO(acc.Images("chw")[0].encoded_image_string)))
    np.testing.assert_array_equal(ours, pixels)          # Pillow reads our PNG too


def _decode_png(data):
    """Inverse of the writer's PNG encoder for 8-bit RGB(A) without filters (what the encoder writes)."""
    import struct
    import zlib
    pos, idat, width, height, channels = 8, b"", 0, 0, 3
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, color = struct.unpack(">IIBB", body[:10])
            channels = {0: 1, 2: 3, 6: 4}[color]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, channels)


def test_text_and_figure(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "**lr** = 0.1", 4)
        w.add_figure("curve", fig, 5)
    acc = _load(tmp_path)
    (text,) = acc.Tensors("notes/text_summary")
    assert text.step == 4 and text.tensor_proto.string_val == [b"**lr** = 0.1"]
    assert acc.summary_metadata["notes/text_summary"].plugin_data.plugin_name == "text"
    (img,) = acc.Images("curve")
    assert (img.width, img.height, img.step) == (100, 50, 5)
    assert not plt.fignum_exists(fig.number)          # closed, as PyTorch does by default


def test_hparams_written_as_pytorch_writes_them(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "optimizer": "sgd", "batch": 32, "bn": True}, {"hparam/accuracy": 0.9},
                      run_name="trial")
    acc = _load(tmp_path / "trial")
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("hparam/accuracy")] == [(0, 0.9)]
    content = acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["optimizer"].string_value == "sgd"
    assert start.hparams["batch"].number_value == 32 and start.hparams["bn"].bool_value is True
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        acc.summary_metadata["_hparams_/experiment"].plugin_data.content).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    with pytest.raises(TypeError):
        w.add_hparams([("lr", 0.1)], {})


def test_graph_from_deepdives_own_forward_graph(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    with SummaryWriter(tmp_path) as w:
        w.add_graph(Net(), deepdive.randn(3, 4))
    graph = _load(tmp_path).Graph()
    names = {n.name: n for n in graph.node}
    for p in ("fc1/weight", "fc1/bias", "fc2/weight", "fc2/bias"):
        assert names[p].op == "Parameter"
    assert names["input/input.0"].op == "IO Node" and names["output/output.1"].op == "IO Node"
    out = names["output/output.1"]
    assert [d.size for d in out.attr["_output_shapes"].list.shape[0].dim] == [3, 2]
    # edges lead from the input through both layers to the output
    sources = {n.name: list(n.input) for n in graph.node}
    reached, stack = set(), ["output/output.1"]
    while stack:
        for s in sources[stack.pop()]:
            if s not in reached:
                reached.add(s)
                stack.append(s)
    assert {"input/input.0", "fc1/weight", "fc2/bias"} <= reached
    assert len(graph.node) >= 9       # 4 params, input, output and at least linear, relu, linear


def test_embedding_files_for_the_projector(tmp_path):
    mat = np.arange(6, dtype=np.float32).reshape(3, 2)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(deepdive.tensor(mat), metadata=["a", "b", "c"], global_step=2, tag="words")
    folder = tmp_path / "00002" / "words"
    assert (folder / "metadata.tsv").read_text() == "a\nb\nc\n"
    rows = [[float(v) for v in line.split("\t")] for line in (folder / "tensors.tsv").read_text().splitlines()]
    assert rows == mat.tolist()
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "words:00002"' in config and 'tensor_path: "00002/words/tensors.tsv"' in config
    with pytest.raises(NotImplementedError, match="label_img"):
        SummaryWriter(tmp_path / "e").add_embedding(mat, label_img=deepdive.zeros(3, 3, 2, 2))


def test_default_log_dir_as_pytorch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert re.fullmatch(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()) + "_lr0.1", run)
    assert w.get_logdir() == os.path.join("runs", run)
    assert glob.glob(str(tmp_path / "runs" / run / "events.out.tfevents.*"))


def test_flush_makes_events_readable_before_close(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_scalar("x", 1.0, 0)
    w.flush()
    assert [e.value for e in _load(tmp_path).Scalars("x")] == [1.0]
    w.close()
    w.close()           # closing twice is harmless


def test_missing_tensorboard_names_the_extra(monkeypatch):
    import builtins
    import importlib
    import sys
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    saved = {k: v for k, v in sys.modules.items() if k.startswith("deepdive.utils.tensorboard")}
    for k in saved:
        del sys.modules[k]
    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        with pytest.raises(ImportError, match=r"install deepdive\[tensorboard\]"):
            importlib.import_module("deepdive.utils.tensorboard")
    finally:
        monkeypatch.setattr(builtins, "__import__", real_import)
        sys.modules.update(saved)


def test_keras_style_tensorboard_callback(tmp_path):
    from deepdive import optim
    from deepdive.training import fit, TensorBoard
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    data = deepdive.utils.data.DataLoader(deepdive.utils.data.TensorDataset(deepdive.tensor(x), deepdive.tensor(y)),
                                          batch_size=8)
    deepdive.manual_seed(0)
    model = nn.Linear(3, 1)
    callback = TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq="batch")
    history = fit(model, data, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), epochs=3, val_loader=data,
                  callbacks=[callback], verbose=0)
    train, val = _load(tmp_path / "train"), _load(tmp_path / "validation")
    logged = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(logged, history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    assert [e.step for e in train.Scalars("batch_loss")] == list(range(1, 13))      # 4 batches x 3 epochs
    assert sorted(train.Tags()["histograms"]) == ["bias", "weight"]
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="sometimes")


TRAINER = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter


def train(log_dir, tokens, embedding, steps=6, batch=16):
    writer = SummaryWriter(log_dir=log_dir)
    model = nn.Embedding(embedding.shape[0], embedding.shape[1])
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(embedding))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    data = torch.from_numpy(tokens)
    for step in range(steps):
        x, y = data[step * batch:(step + 1) * batch], data[step * batch + 1:(step + 1) * batch + 1]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        writer.add_scalar("Loss/train", loss.item(), step)
        writer.add_scalar("grad_norm", norm, step)
        writer.add_scalars("lr", {"group0": optimizer.param_groups[0]["lr"]}, step)
    writer.add_histogram("embedding", model.weight, steps)
    writer.add_text("sample", "step %d loss %.3f" % (steps, loss.item()), steps)
    writer.close()
'''


def test_language_model_trainer_logging_to_summary_writer_matches_pytorch(tmp_path):
    require_torch()
    from program_swap import run_both
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 11, 200).astype(np.int64)
    embedding = (rng.standard_normal((11, 11)) * 0.1).astype(np.float32)
    for name, ns in run_both(TRAINER).items():
        ns["train"](str(tmp_path / name), tokens, embedding)
    ours, theirs = _load(tmp_path / "deepdive"), _load(tmp_path / "torch")
    assert sorted(ours.Tags()["scalars"]) == sorted(theirs.Tags()["scalars"]) == ["Loss/train", "grad_norm"]
    for tag in ("Loss/train", "grad_norm"):
        a, b = ours.Scalars(tag), theirs.Scalars(tag)
        assert [e.step for e in a] == [e.step for e in b] == list(range(6))
        np.testing.assert_allclose([e.value for e in a], [e.value for e in b], rtol=1e-5)
    lr_ours, lr_theirs = _load(tmp_path / "deepdive" / "lr_group0"), _load(tmp_path / "torch" / "lr_group0")
    assert [(e.step, e.value) for e in lr_ours.Scalars("lr")] == [(e.step, e.value) for e in lr_theirs.Scalars("lr")]
    (h1,), (h2,) = ours.Histograms("embedding"), theirs.Histograms("embedding")
    assert h1.step == h2.step == 6 and h1.histogram_value.num == h2.histogram_value.num == 121
    np.testing.assert_allclose(h1.histogram_value.sum, h2.histogram_value.sum, rtol=1e-4, atol=1e-5)
    (t1,), (t2,) = ours.Tensors("sample/text_summary"), theirs.Tensors("sample/text_summary")
    assert t1.tensor_proto.string_val == t2.tensor_proto.string_val


def test_purge_step_drops_the_crashed_runs_later_events(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(6):
            w.add_scalar("loss", float(step), step)
    import time
    time.sleep(1.1)          # event files are named by the second they were opened in
    with SummaryWriter(tmp_path, purge_step=3) as w:
        for step in range(3, 5):
            w.add_scalar("loss", 10.0 + step, step)
    assert [(e.step, e.value) for e in _load(tmp_path).Scalars("loss")] == [(0, 0.0), (1, 1.0), (2, 2.0),
                                                                             (3, 13.0), (4, 14.0)]
