"""``deepdive.distributed`` (``torch.distributed``): process groups and collectives, on MPI.

The engine is MPI through mpi4py (``pip install -e ".[distributed]"``). Ranks are started by
``deepdive-run`` (torchrun's flags), ``mpiexec -n N python script.py`` or
``deepdive.multiprocessing.spawn``; ``init_process_group("gloo")`` (or ``"mpi"``) then joins them.
Every backend name runs on MPI, so CPU PyTorch programs run unchanged.
"""
from .process_group import (Backend, GroupMember, ProcessGroup, default_pg_timeout, destroy_process_group,  # noqa: F401
                            get_backend, get_global_rank, get_group_rank, get_process_group_ranks, get_rank,
                            get_world_size, init_process_group, is_available, is_gloo_available,
                            is_initialized, is_mpi_available, is_nccl_available, is_torchelastic_launched,
                            new_group)
from .collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor, all_gather_object,  # noqa: F401
                          all_reduce, all_to_all, all_to_all_single, barrier, broadcast, broadcast_object_list,
                          gather, gather_object, irecv, isend, recv, reduce, reduce_scatter, reduce_scatter_tensor,
                          scatter, scatter_object_list, send)

# torch.distributed's older spellings, still in tutorials
_reduce_scatter_base = reduce_scatter_tensor
_all_gather_base = all_gather_into_tensor
group = GroupMember
