"""``deepdive playground``: a live page in the browser where a real deepdive model learns.

    deepdive playground [--port N] [--no-browser] [--seed S]

or, from Python:

    from deepdive import playground
    playground.serve()                                   # the built-in playground (blocks until Ctrl-C)
    page = playground.watch(model, (X, y), (X_val, y_val), optimizer=opt, block=False)   # your own model
    ...
    page.stop()

The page: controls for the data set (moons, circles, spirals, XOR, blobs; noise; validation split), hidden
layers and widths, activation, optimizer, learning rate, batch size, dropout, L1/L2, batch or layer norm and
the seed; play / pause / step / reset; the decision boundary over train and validation points, the loss and
accuracy curves with the overfitting monitor's verdict, each neuron's output as a heat map with the weights as
edges, gradient flow per layer, one neuron's ``y = σ(Σ wᵢxᵢ + b)`` with its numbers, backpropagation step by
step for a clicked point, and the runnable program of exactly what is on the page (with its trained weights).

Everything is served from 127.0.0.1 and from files inside this package (no CDN): it works offline.
"""
from .server import Server, stop_on_sigterm, wait_until_stopped
from .session import PlaygroundSession, WatchSession
from .settings import DEFAULTS, SettingsError

__all__ = ["serve", "watch", "Server", "PlaygroundSession", "WatchSession", "SettingsError", "DEFAULTS"]


def _open(server, open_browser, block):
    previous = stop_on_sigterm() if block else None
    try:
        server.start()
        print(f"deepdive playground: {server.url}  (Ctrl-C stops it)", flush=True)
        if open_browser:
            import webbrowser
            webbrowser.open(server.url)
    except KeyboardInterrupt:                  # stopped before it was waiting: stop it all the same
        server.stop()
        return server
    if block:
        wait_until_stopped(server, previous)
    return server


def serve(port=0, open_browser=True, block=True, settings=None):
    """Start the built-in playground on 127.0.0.1 (``port=0``: a free port, printed); returns the ``Server``
    (``.url``, ``.session``, ``.stop()``). ``settings``: initial settings (see ``settings.DEFAULTS``)."""
    return _open(Server(PlaygroundSession(settings), port=port), open_browser, block)


def watch(model, train_data, val_data=None, loss_fn=None, optimizer=None, batch_size=32, seed=0, port=0,
          open_browser=True, block=True, play=True):
    """Open the live page for your own ``model`` on your own data; it trains there (play / pause / step).

    Args:
        model: an ``nn.Module``
        train_data, val_data: ``(inputs, targets)`` pairs of tensors or arrays (any number of input features;
            the decision boundary is drawn when there are 2)
        loss_fn: default ``nn.CrossEntropyLoss()``;  optimizer: default ``optim.Adam(model.parameters(), 1e-3)``
        batch_size, seed: for the shuffled batches
        port, open_browser, block: as for ``serve``;  play: start training at once
    Returns the ``Server`` (``.url``, ``.session``, ``.stop()``).
    """
    session = WatchSession(model, train_data, val_data, loss_fn=loss_fn, optimizer=optimizer,
                           batch_size=batch_size, seed=seed)
    server = Server(session, port=port)
    if play:
        session.control("play")
    return _open(server, open_browser, block)
