"""The ``deepdive`` command.

    deepdive demo [--model mlp|cnn|rnn|transformer] [--epochs N] [--out DIR] [--seed S] [--quiet]
    deepdive --version
"""
import argparse
import sys


def build_parser():
    from .demos import DEMOS
    parser = argparse.ArgumentParser(
        prog="deepdive",
        description="deepdive: a deep-learning framework on NumPy, PyTorch-compatible, with its inner workings visible.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="train a network on built-in data and write a run folder with report.html",
        description="Train a network on built-in data (nothing is downloaded), with progress bars and the "
                    "overfitting monitor, then write a run folder: report.html (self-contained), PNG plots, "
                    "history.csv/json, model.safetensors and the computation graph (SVG, Mermaid, DOT).")
    demo.add_argument("--model", choices=DEMOS, default="mlp",
                      help="mlp: the post's SimpleNN(10, 20, 2) with its SGD loop (default); cnn: a CNN on real "
                           "handwritten 8x8 digits (needs scikit-learn, the [data] extra); rnn: an LSTM forecasting "
                           "a sine wave; transformer: a tiny GPT learning to sort digits")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's own)")
    demo.add_argument("--out", default="runs", help="folder in which the run folder is created (default: ./runs)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"deepdive {__version__}")
        return 0
    if args.command != "demo":
        parser.print_help()
        return 0 if args.command is None else 2
    from .demos import run
    from .demos.run_folder import RunFolderError
    kwargs = {"seed": args.seed, "out": args.out, "verbose": 0 if args.quiet else 1}
    if args.epochs is not None:
        if args.epochs < 1:
            parser.error("--epochs must be at least 1")
        kwargs["epochs"] = args.epochs
    try:
        result = run(args.model, **kwargs)
    except (ImportError, PermissionError) as e:        # found before training: nothing was lost
        print(f"deepdive demo: {e}", file=sys.stderr)
        return 1
    except RunFolderError as e:                        # after training: the folder and its files are kept
        print(f"deepdive demo: {e}", file=sys.stderr)
        return 1
    print("\n" + result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
