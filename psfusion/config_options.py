"""``--cfg-options`` for every tool: each key must exist in the config, and a top-level
variable that other values were computed from takes effect everywhere.

mmengine merges ``--cfg-options`` into the *evaluated* config, so ``max_iters=3`` on a config
that says ``max_iters = 200`` and ``train_cfg = dict(max_iters=max_iters)`` only changes the
unused top-level ``max_iters``: the run still goes for 200 iterations.  :func:`load_config`
instead re-evaluates the config files with the new value assigned to such a variable (every
file of the ``_base_`` chain that assigns it at top level), so ``train_cfg``, the LR schedule
and everything else computed from it follow; then the options are merged as mmengine does.

Rules (:func:`check_cfg_options`):

* the first part of every key (``train_cfg`` in ``train_cfg.max_iters``) must be a top-level
  key of the config, otherwise a :class:`~psfusion.errors.ConfigError` lists the valid ones (a
  typo would otherwise be silently added and ignored);
* a plain key naming a top-level variable that other statements of the config use is
  re-evaluated (:func:`config_variables`); with a Config object instead of a file (nothing to
  re-evaluate), such a key is refused with the keys to set instead.
"""
from __future__ import annotations

import ast
import contextlib
import os
import os.path as osp
from typing import Dict, Iterator, List, Mapping, Optional, Set, Union

from mmengine.config import Config

from .errors import ConfigError

__all__ = ['load_config', 'apply_cfg_options', 'check_cfg_options', 'config_variables',
           'config_files']


def _parse(path: str) -> ast.Module:
    with open(path, encoding='utf-8') as handle:
        return ast.parse(handle.read(), filename=path)


def _base_entries(tree: ast.Module) -> List[str]:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == '_base_'):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def config_files(path: str) -> List[str]:
    """``path`` and every file of its ``_base_`` chain (``pkg::`` bases too, found through
    mmengine), depth first; Python configs only."""
    path = osp.abspath(path)
    files: List[str] = []

    def visit(file: str) -> None:
        if file in files or not file.endswith('.py') or not osp.isfile(file):
            return
        files.append(file)
        for base in _base_entries(_parse(file)):
            try:
                base_path, _ = Config._get_cfg_path(base, file)
            except Exception:  # noqa: BLE001 - an unresolvable base: mmengine reports it
                continue
            visit(osp.abspath(base_path))

    visit(path)
    return files


def _top_level_assignments(tree: ast.Module) -> Dict[str, List[ast.Assign]]:
    found: Dict[str, List[ast.Assign]] = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            found.setdefault(node.targets[0].id, []).append(node)
    return found


def _names_read(tree: ast.Module) -> Set[str]:
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def config_variables(path: str) -> Dict[str, List[str]]:
    """Top-level variables that other statements of the config use, with the files that
    assign them: ``{'max_iters': ['/.../psfusion_light_synthetic.py', ...]}``."""
    assigned: Dict[str, List[str]] = {}
    read: Set[str] = set()
    for file in config_files(path):
        tree = _parse(file)
        read |= _names_read(tree)
        for name in _top_level_assignments(tree):
            if not name.startswith('_'):
                assigned.setdefault(name, []).append(file)
    return {name: files for name, files in assigned.items() if name in read}


def _literal(key: str, value) -> str:
    text = repr(value)
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ConfigError(f'--cfg-options {key}: the value {text} is not a Python literal '
                          f'(numbers, strings, lists, tuples, dicts, True/False/None)') from None
    return text


def _rewrite(text: str, values: Mapping[str, str]) -> str:
    """``text`` with the value of each top-level ``NAME = ...`` in ``values`` replaced."""
    tree = ast.parse(text)
    data = text.encode('utf-8')
    offsets = [0]  # byte offset of each line's start (ast's col_offset counts UTF-8 bytes)
    for line in data.split(b'\n'):
        offsets.append(offsets[-1] + len(line) + 1)
    spans = []
    for name, nodes in _top_level_assignments(tree).items():
        if name in values:
            for node in nodes:
                value = node.value
                spans.append((offsets[value.lineno - 1] + value.col_offset,
                              offsets[value.end_lineno - 1] + value.end_col_offset,
                              values[name]))
    for start, end, new in sorted(spans, reverse=True):
        data = data[:start] + new.encode('utf-8') + data[end:]
    return data.decode('utf-8')


@contextlib.contextmanager
def _assigning(files: Set[str], values: Mapping[str, str]) -> Iterator[None]:
    """While mmengine parses configs, give the variables in ``values`` new values in
    ``files`` (its parser copies each file to a temporary one first: the copy is edited)."""
    original = Config.__dict__['_substitute_predefined_vars']

    def substitute(filename: str, temp_config_name: str):
        result = original.__func__(filename, temp_config_name)
        if osp.abspath(filename) in files:
            with open(temp_config_name, encoding='utf-8') as handle:
                text = handle.read()
            with open(temp_config_name, 'w', encoding='utf-8') as handle:
                handle.write(_rewrite(text, values))
        return result

    Config._substitute_predefined_vars = staticmethod(substitute)
    try:
        yield
    finally:
        Config._substitute_predefined_vars = original


def check_cfg_options(cfg: Config, options: Optional[Mapping]) -> None:
    """Refuse keys whose first part is not a top-level key of ``cfg`` (see module doc)."""
    unknown = sorted({key for key in (options or {}) if key.split('.')[0] not in cfg})
    if unknown:
        raise ConfigError(
            f'--cfg-options: {", ".join(unknown)} not in the config '
            f'{cfg.filename or ""}'.rstrip() + '; valid top-level keys: '
            f'{", ".join(sorted(cfg.keys()))}')


def _merge(cfg: Config, options: Mapping) -> None:
    try:
        cfg.merge_from_dict(dict(options))
    except Exception as exc:  # noqa: BLE001 - mmengine raises KeyError/TypeError/...
        raise ConfigError(f'--cfg-options: cannot apply {dict(options)} ({type(exc).__name__}: '
                          f'{exc})') from exc


def load_config(path: Union[str, os.PathLike], cfg_options: Optional[Mapping] = None) -> Config:
    """``Config.fromfile(path)`` with ``cfg_options`` applied (see module doc).

    Raises:
        ConfigError: a key not in the config, or a value that cannot be applied.
    """
    path = osp.abspath(str(path))
    if not osp.isfile(path):
        raise ConfigError(f'config {path} not found')
    options = dict(cfg_options or {})
    variables = config_variables(path) if options else {}
    values = {key: _literal(key, value) for key, value in options.items()
              if key in variables}
    files = {file for key in values for file in variables[key]}
    with _assigning(files, values) if values else contextlib.nullcontext():
        cfg = Config.fromfile(path)
    check_cfg_options(cfg, options)
    _merge(cfg, options)
    return cfg


def apply_cfg_options(cfg: Config, cfg_options: Optional[Mapping]) -> Config:
    """Merge ``cfg_options`` into an already evaluated ``cfg`` (in place; returned).

    A plain key naming a variable that other values of ``cfg``'s file were computed from
    cannot take effect here (nothing to re-evaluate) and is refused; use :func:`load_config`.
    """
    options = dict(cfg_options or {})
    if not options:
        return cfg
    check_cfg_options(cfg, options)
    if cfg.filename and osp.isfile(cfg.filename):
        derived = sorted(set(options) & set(config_variables(cfg.filename)))
        if derived:
            raise ConfigError(
                f'--cfg-options: {", ".join(derived)} is a variable that other values of '
                f'{cfg.filename} were computed from; here it would change nothing else. Load '
                f'the config with psfusion.config_options.load_config, or set the derived keys '
                f'(e.g. train_cfg.max_iters) instead.')
    _merge(cfg, options)
    return cfg
