"""deepdive.utils.data: datasets, samplers and the DataLoader (PyTorch's API)."""
from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, StackDataset,  # noqa: F401
                      random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, BatchSampler,  # noqa: F401
                      WeightedRandomSampler)
from .collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader, get_worker_info  # noqa: F401
from .distributed import DistributedSampler  # noqa: F401  (issue 12: data-parallel training)
