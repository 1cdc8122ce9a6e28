"""The playground's live updates: training speed, frames pushed per second and frame size, while training.

    PYTHONPATH=src python benchmarks/playground_frames.py [seconds]

Connects to /events as a tab does, presses play, and counts for ``seconds`` (default 5): optimisation steps
taken, frames received (the server aims at server.FRAME_RATE whatever the training speed) and bytes per frame.
"""
import json
import sys
import time
import urllib.request

from deepdive import playground
from deepdive.playground.server import FRAME_RATE


def main(seconds=5.0):
    for hidden in ([8, 8], [32] * 6):
        srv = playground.serve(open_browser=False, block=False, settings={"hidden": hidden})
        try:
            frames, sizes = 0, []
            with urllib.request.urlopen(srv.url + "events", timeout=10) as r:
                urllib.request.urlopen(urllib.request.Request(srv.url + "api/control", method="POST",
                                                              data=json.dumps({"action": "play"}).encode()))
                steps0, start = srv.session.steps, time.perf_counter()
                while time.perf_counter() - start < seconds:
                    line = r.readline()
                    if line.startswith(b"data: "):
                        frames += 1
                        sizes.append(len(line))
                elapsed = time.perf_counter() - start
                steps = srv.session.steps - steps0
        finally:
            srv.stop()
        print(f"hidden {hidden}: {steps / elapsed:.0f} steps/s, {frames / elapsed:.1f} frames/s "
              f"(target {FRAME_RATE}), {sum(sizes) / len(sizes) / 1024:.1f} KiB per frame")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
