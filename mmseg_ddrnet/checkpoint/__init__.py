"""Checkpoints: atomic saves, ``weights_only`` loads, state-dict loading that names what does not fit, and the
safe reading of checkpoints written by other code."""
from .foreign import plain_data, read_foreign_checkpoint
from .io import (PathLike, StateDict, extract_state_dict, get_state_dict, link_checkpoint, load_checkpoint,
                 load_error_reason, load_file, load_state_dict, revise_state_dict_keys, save_checkpoint,
                 weights_to_cpu)
from .latest import LATEST, find_latest_checkpoint, incomplete_reason

__all__ = ['PathLike', 'StateDict', 'extract_state_dict', 'get_state_dict', 'load_checkpoint', 'load_error_reason',
           'load_file', 'load_state_dict', 'revise_state_dict_keys', 'save_checkpoint', 'weights_to_cpu',
           'plain_data', 'read_foreign_checkpoint', 'link_checkpoint', 'LATEST', 'find_latest_checkpoint',
           'incomplete_reason']
