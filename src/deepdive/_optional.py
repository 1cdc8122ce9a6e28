"""Optional dependencies: one message format for a missing extra, wherever deepdive needs one.

NumPy is deepdive's only required dependency. Everything else (matplotlib for plots, scikit-learn for the
digits, tensorboard for event files, ...) is an extra, imported only when it is used; when it is missing,
the user is told which extra to install, in both the released and the checkout form.
"""


def missing_extra(what, extra, package, then=""):
    """The ImportError to raise when ``what`` needs ``package`` of the ``extra`` extra, not installed.

    ``package`` and ``extra`` may be lists, when several are missing at once; ``then`` is a sentence to add.
    """
    packages = [package] if isinstance(package, str) else list(package)
    extra = extra if isinstance(extra, str) else ",".join(extra)
    return ImportError(f"{what} needs {', '.join(packages)}, which is optional: install deepdive[{extra}] "
                       f"(pip install -e \".[{extra}]\" in a checkout, or pip install {' '.join(packages)})"
                       + (f". {then}" if then else ""))
