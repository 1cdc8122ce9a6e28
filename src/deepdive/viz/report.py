"""A self-contained HTML report: every plot embedded, no script or style from the network.

``Report`` collects sections (text, preformatted text, images, SVG, tables) and
writes one ``report.html`` that opens offline in any browser. A few lines of
inline JavaScript check on load that every image decoded, and record the result
in ``<body data-images-ok=...>``, and mark each section's heading ``data-rendered`` (its content has a
visible size) with its ``data-top`` position (the browser test reads them, and crops its screenshots).
"""
import base64
import html
import os

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #111827; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #e5e7eb; padding-bottom: 0.2rem; margin-top: 2rem; }
pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem;
      white-space: pre-wrap; }
img { max-width: 100%; border: 1px solid #e5e7eb; }
.note { background: #fef3c7; border-left: 4px solid #f59e0b; padding: 0.6rem 0.9rem; }
.ok { background: #dcfce7; border-left: 4px solid #16a34a; padding: 0.6rem 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #e5e7eb; padding: 0.2rem 0.5rem; }
.graph { overflow-x: auto; border: 1px solid #e5e7eb; }
"""

_CHECK = """
window.deepdiveErrors = [];
window.addEventListener('error', function (e) { window.deepdiveErrors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-errors', String(window.deepdiveErrors.length));
  // each section is marked rendered when what follows its heading has a visible size (images decoded)
  Array.prototype.forEach.call(document.querySelectorAll('h2'), function (h) {
    var el = h.nextElementSibling, shown = 0;
    for (; el && el.tagName !== 'H2'; el = el.nextElementSibling) {
      var images = Array.prototype.slice.call(el.querySelectorAll('img'));
      var decoded = images.every(function (i) { return i.complete && i.naturalWidth > 0 && i.offsetWidth > 0; });
      if (!decoded) { shown = -1; break; }
      if (el.offsetHeight > 0) { shown += 1; }
    }
    h.setAttribute('data-rendered', shown > 0 ? 'true' : 'false');
    h.setAttribute('data-top', String(Math.round(h.getBoundingClientRect().top + window.scrollY)));
  });
  document.body.setAttribute('data-height', String(document.documentElement.scrollHeight));
});
"""


class Report:
    def __init__(self, title, subtitle=""):
        self.title, self.subtitle, self.parts = title, subtitle, []

    def heading(self, text):
        slug = "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())[:60]
        while f'id="{slug}"' in "".join(self.parts):     # unique anchors, for links and screenshots
            slug += "-2"
        self.parts.append(f'<h2 id="{slug}">{html.escape(text)}</h2>')

    def text(self, text, css=None):
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def pre(self, text):
        self.parts.append(f"<pre>{html.escape(str(text))}</pre>")

    def image(self, png_path, alt):
        with open(png_path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        kind = "svg+xml" if png_path.endswith(".svg") else "png"
        self.parts.append(f'<p><img alt="{html.escape(alt)}" src="data:image/{kind};base64,{data}"></p>')

    def svg(self, svg_text):
        self.parts.append(f'<div class="graph">{svg_text}</div>')

    def table(self, header, rows):
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def render(self):
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style><script>{_CHECK}</script></head>\n"
                f"<body><h1>{html.escape(self.title)}</h1><p>{html.escape(self.subtitle)}</p>\n"
                + "\n".join(self.parts) + "\n</body></html>\n")

    def write(self, path):
        tmp = os.fspath(path) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.render())
        os.replace(tmp, path)
        return path
