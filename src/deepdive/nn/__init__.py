"""deepdive.nn: Module, Parameter, layers and losses with PyTorch's names, defaults and initialisations."""
# Each layer family registers itself with one import line below.
