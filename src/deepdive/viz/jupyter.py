"""Rich display in Jupyter: models, training histories (graphs display themselves as SVG)."""
import base64
import html
import io


def _table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def parameter_rows(module):
    """(rows of (name, shape, count, trainable), total count, trainable count) of a module's parameters."""
    rows, total, trainable = [], 0, 0
    for name, p in module.named_parameters():
        rows.append((name, list(p.shape), p.numel(), "yes" if p.requires_grad else "no"))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return rows, total, trainable


def module_html(module):
    """The printed tree, then one row per parameter: name, shape, count, trainable."""
    rows, total, trainable = parameter_rows(module)
    return (f"<pre>{html.escape(repr(module))}</pre>" + _table(["parameter", "shape", "count", "trainable"], rows)
            + f"<p>{total:,} parameters ({trainable:,} trainable)</p>")


def history_html(history):
    """Per-epoch table, the overfitting verdict, and the curves (when matplotlib is installed)."""
    logs = history.history
    keys = [k for k in logs if logs[k]]
    if not keys:
        return "<p>History: no epochs yet</p>"
    n = max(len(logs[k]) for k in keys)
    rows = [[i + 1] + [f"{logs[k][i]:.4g}" if i < len(logs[k]) else "" for k in keys] for i in range(n)]
    parts = [_table(["epoch"] + keys, rows)]
    verdict = getattr(history, "overfitting", None)
    if verdict and verdict.get("message"):
        parts.insert(0, f"<p style='background:#fef3c7;padding:6px'>{html.escape(verdict['message'])}</p>")
    try:
        from .plots import plot_history
        fig = plot_history(history)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        import matplotlib.pyplot as plt
        plt.close(fig)
        parts.insert(0, f"<img src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>")
    except ImportError:
        pass
    return "".join(parts)
