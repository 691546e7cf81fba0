"""Checkpoints: atomic saves, ``weights_only`` loads, state-dict loading that names what does not fit, and the
safe reading of checkpoints written by other code."""
from .foreign import plain_data, read_foreign_checkpoint
from .io import (PathLike, StateDict, extract_state_dict, get_state_dict, load_checkpoint, load_error_reason,
                 load_file, load_state_dict, revise_state_dict_keys, save_checkpoint, weights_to_cpu)

__all__ = ['PathLike', 'StateDict', 'extract_state_dict', 'get_state_dict', 'load_checkpoint', 'load_error_reason',
           'load_file', 'load_state_dict', 'revise_state_dict_keys', 'save_checkpoint', 'weights_to_cpu',
           'plain_data', 'read_foreign_checkpoint']
