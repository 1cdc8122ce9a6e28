"""Built-in data sets, all generated locally or bundled (nothing is downloaded).

- ``synthetic``: classification/regression sets (the post's 10-feature task, moons, spirals, circles, XOR, blobs)
- ``vision``: handwritten digits (scikit-learn's bundled 8x8 set) and a loader for MNIST files you have
- ``sequence``: sine waves, the adding problem, characters of a text you supply
"""
from .synthetic import make_classification, make_moons, make_circles, make_spirals, make_blobs, make_regression  # noqa: F401
from .synthetic import make_xor  # noqa: F401  (issue 15: the playground's XOR set)
from .sequence import sine_waves, adding_problem, CharText  # noqa: F401
from .vision import load_digits, load_mnist  # noqa: F401
