"""Safe persistence: save a fitted estimator without pickle, load it without
running code from the file.

A saved model is a directory (format 1)::

    manifest.json                 format and skhash version, the estimator's class
                                  and parameters, the SHA-256 of every other file
    state.json                    the fitted state: a tree of typed JSON nodes
    arrays/<n>.npy                numpy arrays (never of object dtype)
    weights/net<n>.module.safetensors
    weights/net<n>.criterion.safetensors
                                  the state dicts of skorch nets, CPU tensors

Loading reads JSON, ``.npy`` files with ``allow_pickle=False`` and safetensors
only. Classes and functions are stored by import path and resolved only from
an allow-list; a skorch net is rebuilt by its estimator (``_build_module`` /
``_build_criterion`` from the saved parameters and fitted attributes) and
receives the saved weights. See ``docs/persistence.rst``.
"""

import hashlib
import importlib
import inspect
import io
import json
import math
import os
import pathlib
import platform
import re
import shutil
import sys
import uuid
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .codes import HammingSpace, ProductSpace

__all__ = ["save", "load", "FORMAT_VERSION", "READABLE_FORMAT_VERSIONS"]

FORMAT_NAME = "skhash-safe"
#: Version of the format written by :func:`save`.
FORMAT_VERSION = 1
#: Format versions :func:`load` reads.
READABLE_FORMAT_VERSIONS = (1,)

MANIFEST = "manifest.json"
STATE = "state.json"

# Modules whose classes and functions may be referenced by a parameter (a
# backbone class, an optimizer, a learning-rate policy, ...).
REFERENCE_MODULES = ("skhash", "torch.nn", "torch.optim", "skorch.callbacks")
# Modules whose skorch callbacks may be re-created.
CALLBACK_MODULES = ("skhash", "skorch.callbacks")
# scikit-learn estimators that may be saved and re-created besides skhash's
# own (pipeline steps around an encoder): their parameters are JSON, their
# fitted arrays .npy files.
SKLEARN_ESTIMATORS = (
    "sklearn.pipeline:Pipeline",
    "sklearn.frozen:FrozenEstimator",
    "sklearn.preprocessing:StandardScaler",
    "sklearn.preprocessing:MinMaxScaler",
    "sklearn.preprocessing:MaxAbsScaler",
    "sklearn.preprocessing:RobustScaler",
    "sklearn.preprocessing:Normalizer",
    "sklearn.decomposition:PCA",
)
# Code spaces and the constructor arguments they are re-created from.
_CODE_SPACES = {HammingSpace: ("n_bits",), ProductSpace: ("codebooks",)}
# skorch net parameters not stored: the estimator rebuilds them at load.
_NET_REBUILT = frozenset({"module", "criterion", "callbacks", "train_split"})
# skorch net parameters that must keep their defaults (they would run at inference)
_NET_FIXED = frozenset({"dataset", "iterator_train", "iterator_valid"})
# Estimator parameters replaced while the network is rebuilt (the saved weights
# replace what they would load).
_BUILD_OVERRIDES = {"pretrained_weights": None}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH_RE = re.compile(rf"{_NAME}(?:\.{_NAME})*:{_NAME}(?:\.{_NAME})*")
_FILE_RE = re.compile(r"state\.json|arrays/[0-9]+\.npy|weights/[A-Za-z0-9_.-]+\.safetensors")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_NPY_MAGIC = b"\x93NUMPY"
_SCALAR_KINDS = "biufU"
_SCALAR_TYPES = (type(None), bool, int, float, str)


def _allowed_names():
    return ", ".join(m + "." for m in REFERENCE_MODULES)


def _in_modules(module, modules):
    return any(module == m or module.startswith(m + ".") for m in modules)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _is_default(value, default):
    if value is default:
        return True
    simple = (type(None), bool, int, float, str)
    return (type(value) in simple and type(value) is type(default) and value == default)


# =============================================================== import paths
def _public_path(obj, kind):
    """``module:qualname`` of a class or function, through the shallowest
    non-private package on the allow-list of ``kind`` that exports it
    (``torch.optim:Adam``, not ``torch.optim.adam:Adam``), else its defining
    module."""
    module, qualname = obj.__module__, obj.__qualname__
    parts = module.split(".")
    head = qualname.split(".")[0]
    for i in range(1, len(parts)):
        candidate = ".".join(parts[:i])
        if any(p.startswith("_") for p in parts[:i]):
            break
        mod = sys.modules.get(candidate)
        path = f"{candidate}:{qualname}"
        if (mod is not None and getattr(mod, head, None) is _top(obj, qualname, module)
                and _path_allowed(path, kind)):
            return path
    return f"{module}:{qualname}"


def _top(obj, qualname, module):
    """The top-level object of ``qualname`` in ``module`` (obj itself if not nested)."""
    if "." not in qualname:
        return obj
    return getattr(sys.modules.get(module), qualname.split(".")[0], None)


def _check_path_syntax(path):
    if not isinstance(path, str) or not _PATH_RE.fullmatch(path):
        return False
    names = path.replace(":", ".").split(".")
    return not any(n.startswith("__") for n in names)


_KIND_MODULES = {
    "estimator": ("skhash",),
    "callback": CALLBACK_MODULES,
    "net": ("skhash",),
    "code_space": ("skhash",),
    "reference": REFERENCE_MODULES,
}


def _path_allowed(path, kind):
    if kind == "estimator" and path in SKLEARN_ESTIMATORS:
        return True
    return _in_modules(path.split(":")[0], _KIND_MODULES[kind])


_KIND_WORDS = {
    "estimator": "skhash estimators and the scikit-learn steps " + ", ".join(SKLEARN_ESTIMATORS),
    "callback": "skorch callbacks from skhash. and skorch.callbacks.",
    "net": "skorch nets from skhash.",
    "code_space": "skhash code spaces",
    "reference": "classes and functions from " + _allowed_names(),
}


def _resolve(path, kind, where):
    """Import the object named by an allow-listed ``module:qualname`` path.

    Nothing is imported before the path has passed the allow-list.
    """
    if not _check_path_syntax(path) or not _path_allowed(path, kind):
        raise ValueError(
            f"refusing to load {where}: {path!r} is not on the allow-list of "
            f"{_KIND_WORDS[kind]} (import paths 'module:name')."
        )
    module, qualname = path.split(":")
    try:
        obj = importlib.import_module(module)
        for name in qualname.split("."):
            obj = getattr(obj, name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {where}: {path!r} cannot be found ({exc}).") from None
    # what a module merely imported (skhash.base imports sklearn's helpers) is not allowed
    home = getattr(obj, "__module__", None)
    if not (kind == "estimator" and path in SKLEARN_ESTIMATORS) and not (
            isinstance(home, str) and _in_modules(home, _KIND_MODULES[kind])):
        raise ValueError(
            f"refusing to load {where}: {path!r} is defined in {home!r}, which is not on the "
            f"allow-list of {_KIND_WORDS[kind]}."
        )
    ok, what = {
        "estimator": (lambda o: isinstance(o, type) and issubclass(o, BaseEstimator),
                      "an estimator class"),
        "callback": (lambda o: isinstance(o, type) and issubclass(o, _callback_base()),
                     "a skorch callback class"),
        "net": (lambda o: isinstance(o, type) and issubclass(o, _net_base()),
                "a skorch net class"),
        "code_space": (lambda o: o in _CODE_SPACES, "a code space class"),
        "reference": (callable, "a class or function"),
    }[kind]
    if not ok(obj):
        raise ValueError(f"refusing to load {where}: {path!r} is not {what}.")
    return obj


def _settable(cls, name):
    """Whether a loaded attribute ``name`` may be set on an instance of ``cls``:
    an identifier, not a dunder, and not shadowing a method or property."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
        return False
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return True
    return not (callable(attr) or hasattr(attr, "__get__"))


def _callback_base():
    from skorch.callbacks import Callback

    return Callback


def _net_base():
    from skorch import NeuralNet

    return NeuralNet


# ==================================================================== writing
class _Writer:
    """Encode objects to typed JSON nodes; arrays and weights to files."""

    def __init__(self):
        self.files = {}
        self._memo = {}  # id(obj) -> node id
        self._open = set()  # node ids being encoded (cycle detection)
        self._keep = []  # keeps encoded objects alive so their ids stay unique
        self._next_id = 0
        self._n_arrays = 0
        self._tensors = {}

    # ------------------------------------------------------------ helpers
    def _refuse(self, where, what):
        raise TypeError(
            f"cannot save {where}: {what}. The safe format stores JSON values, arrays, "
            "tensors, skhash estimators, the scikit-learn steps listed in skhash.save's "
            f"docstring, skorch callbacks, and classes or functions from {_allowed_names()} "
            "(see docs/persistence.rst). joblib can still save this estimator, but loading "
            "a joblib file runs code: use it for trusted files only."
        )

    def _start(self, obj):
        node_id = self._next_id
        self._next_id += 1
        self._memo[id(obj)] = node_id
        self._open.add(node_id)
        self._keep.append(obj)
        return node_id

    def _finish(self, node_id):
        self._open.discard(node_id)

    def _add_file(self, name, data):
        self.files[name] = data

    # ------------------------------------------------------------- encode
    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)) and not isinstance(value, np.generic):
            return value
        if isinstance(value, np.generic):
            return self._scalar(value, where)
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"type": "float", "value": repr(value)}
        if type(value) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"type": "tuple",
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is dict:
            return self._dict(value, where)
        if isinstance(value, pathlib.PurePath):
            return {"type": "path", "value": str(value)}
        if id(value) in self._memo:
            node_id = self._memo[id(value)]
            if node_id in self._open:
                self._refuse(where, "it refers to itself (a cycle)")
            return {"type": "ref", "id": node_id}
        if type(value) is np.ndarray or isinstance(value, np.memmap):
            return self._array(value, where)
        if isinstance(value, torch.Tensor):
            return self._tensor(value, where)
        if type(value) is np.random.RandomState:
            node_id = self._start(value)
            node = {"type": "random_state", "id": node_id,
                    "state": self.encode(value.get_state(legacy=True), f"{where}.state")}
            self._finish(node_id)
            return node
        if type(value) is torch.Generator and value.device.type == "cpu":
            node_id = self._start(value)
            node = {"type": "torch_generator", "id": node_id,
                    "state": self._tensor(value.get_state(), f"{where}.state")}
            self._finish(node_id)
            return node
        if type(value) in _CODE_SPACES:
            return self._code_space(value, where)
        if isinstance(value, _net_base()):
            self._refuse(where, "a skorch net can be saved only as the fitted net_ of a "
                                "skhash deep encoder")
        if isinstance(value, BaseEstimator):
            return self._estimator(value, where)
        if isinstance(value, _callback_base()):
            return self._callback(value, where)
        if isinstance(value, type) or callable(value):
            return {"type": "class", "path": self._reference(value, where)}
        self._refuse(where, f"objects of type {type(value).__module__}.{type(value).__qualname__}"
                            " are not supported")

    def _scalar(self, value, where):
        dtype = value.dtype
        if dtype.kind not in _SCALAR_KINDS:
            self._refuse(where, f"numpy scalars of dtype {dtype} are not supported")
        item = value.item()
        if isinstance(item, float) and not math.isfinite(item):
            item = {"type": "float", "value": repr(item)}
        return {"type": "scalar", "dtype": dtype.str, "value": item}

    def _dict(self, value, where):
        if all(type(k) is str for k in value):
            return {"type": "dict",
                    "items": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
        return {"type": "dict",
                "pairs": [[self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                          for k, v in value.items()]}

    def _array(self, value, where):
        node_id = self._start(value)
        if value.dtype.hasobject:
            flat = value.ravel(order="C").tolist()
            items = []
            for i, v in enumerate(flat):
                if not isinstance(v, _SCALAR_TYPES + (np.generic,)):
                    self._refuse(f"{where}[{i}]", "object arrays may hold only None, bool, int, "
                                                  f"float and str, not {type(v).__name__}")
                items.append(self.encode(v, f"{where}[{i}]"))
            node = {"type": "object_array", "id": node_id, "shape": list(value.shape),
                    "items": items}
        else:
            buf = io.BytesIO()
            np.save(buf, np.asarray(value), allow_pickle=False)
            name = f"arrays/{self._n_arrays}.npy"
            self._n_arrays += 1
            self._add_file(name, buf.getvalue())
            node = {"type": "ndarray", "id": node_id, "file": name}
        self._finish(node_id)
        return node

    def _tensor(self, value, where):
        node_id = self._start(value)
        key = f"t{node_id}"
        self._tensors[key] = value.detach().cpu().contiguous().clone()
        self._finish(node_id)
        return {"type": "tensor", "id": node_id, "file": "weights/tensors.safetensors",
                "key": key}

    def _reference(self, obj, where):
        qualname = getattr(obj, "__qualname__", None)
        module = getattr(obj, "__module__", None)
        if not isinstance(qualname, str) or not isinstance(module, str):
            self._refuse(where, f"{obj!r} is a callable object without an import path, so it is "
                                "not on the allow-list")
        if "<" in qualname:
            self._refuse(where, f"{obj!r} is a local or anonymous class or function without an "
                                "import path, so it is not on the allow-list")
        path = _public_path(obj, "reference")
        if not _check_path_syntax(path) or not _path_allowed(path, "reference"):
            self._refuse(where, f"{module}.{qualname} is not on the allow-list: classes and "
                                f"functions are stored by import path and only those from "
                                f"{_allowed_names()} can be loaded back")
        found = sys.modules.get(path.split(":")[0])
        for name in path.split(":")[1].split("."):
            found = getattr(found, name, None)
        if found is not obj:
            self._refuse(where, f"{obj!r} is not found at its import path {path!r}")
        return path

    def _instantiable(self, obj, kind, where):
        path = _public_path(type(obj), kind)
        if not _check_path_syntax(path) or not _path_allowed(path, kind):
            cls = type(obj)
            self._refuse(where, f"{cls.__module__}.{cls.__qualname__} is not on the allow-list "
                                f"of {_KIND_WORDS[kind]}")
        return path

    def _code_space(self, value, where):
        path = self._instantiable(value, "code_space", where)
        node_id = self._start(value)
        args = {name: self.encode(getattr(value, name), f"{where}.{name}")
                for name in _CODE_SPACES[type(value)]}
        self._finish(node_id)
        return {"type": "code_space", "id": node_id, "class": path, "args": args}

    def _callback(self, value, where):
        path = self._instantiable(value, "callback", where)
        node_id = self._start(value)
        cls = type(value)
        try:
            params = value.get_params(deep=False)
        except Exception as exc:  # noqa: BLE001 -- any failure means "not re-creatable"
            self._refuse(where, f"its parameters cannot be read ({exc})")
        signature = inspect.signature(cls.__init__).parameters
        if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
            extra = getattr(value, "kwargs", None)  # e.g. LRScheduler's policy arguments
            if isinstance(extra, dict):
                params.update(extra)
        encoded = {}
        for name, v in params.items():
            default = signature[name].default if name in signature else inspect.Parameter.empty
            if not _is_default(v, default):
                encoded[name] = self.encode(v, f"{where}.{name}")
        self._finish(node_id)
        return {"type": "callback", "id": node_id, "class": path, "params": encoded}

    def _estimator(self, est, where, *, root=False):
        path = self._instantiable(est, "estimator", where)
        node_id = self._start(est)
        params = est.get_params(deep=False)
        name = type(est).__name__
        enc_params = {k: self.encode(v, f"{name}.{k}" if root else f"{where}.{k}")
                      for k, v in params.items()}
        state, nets = {}, {}
        for key, v in vars(est).items():
            if key in params:
                continue
            if isinstance(v, _net_base()):
                nets[key] = v
                continue
            state[key] = self.encode(v, f"{name}.{key}" if root else f"{where}.{key}")
        # nets last: the loader rebuilds them once the rest of the state is in place
        for key, net in nets.items():
            state[key] = self._net(net, est, f"{name}.{key}" if root else f"{where}.{key}")
        self._finish(node_id)
        return {"type": "estimator", "id": node_id, "class": path, "params": enc_params,
                "state": state}

    def _net(self, net, owner, where):
        from safetensors.torch import save as save_tensors

        if not (hasattr(owner, "_build_module") and hasattr(owner, "_build_criterion")):
            self._refuse(where, "a skorch net can be saved only as the fitted net_ of a "
                                "skhash deep encoder")
        if not getattr(net, "initialized_", False):
            self._refuse(where, "the skorch net is not initialized")
        path = self._instantiable(net, "net", where)
        node_id = self._start(net)
        signature = inspect.signature(type(net).__init__).parameters
        params = {}
        for key, v in net.get_params(deep=False).items():
            if key.startswith("_") or key in _NET_REBUILT:
                continue
            default = signature[key].default if key in signature else inspect.Parameter.empty
            if _is_default(v, default):
                continue
            if key in _NET_FIXED:
                self._refuse(f"{where}.{key}", "only the default skorch dataset and data "
                                               "loaders can be saved")
            params[key] = self.encode(v, f"{where}.{key}")
        files = {}
        for part in ("module", "criterion"):
            state = {k: t.detach().cpu().contiguous().clone()
                     for k, t in getattr(net, part + "_").state_dict().items()}
            name = f"weights/net{node_id}.{part}.safetensors"
            self._add_file(name, save_tensors(state))
            files[part] = name
        criterion_attrs = {k: self.encode(v, f"{where}.criterion_.{k}")
                           for k, v in vars(net.criterion_).items()
                           if not k.startswith("_") and _is_plain(v)}
        # private flags a training schedule sets on the net (plain values only)
        net_attrs = {k: self.encode(v, f"{where}.{k}") for k, v in vars(net).items()
                     if k.startswith("_") and not k.startswith("__") and _is_plain(v)}
        requires_y = bool(getattr(owner, "_requires_y", True))
        n_outputs = int(len(owner.classes_)) if requires_y else None
        node = {
            "type": "net", "id": node_id, "class": path,
            "n_features": int(owner.n_features_in_), "n_outputs": n_outputs,
            "params": params,
            "callbacks": self.encode(net.callbacks, f"{where}.callbacks"),
            "module_weights": files["module"], "criterion_weights": files["criterion"],
            "module_training": bool(net.module_.training),
            "criterion_attrs": criterion_attrs,
            "net_attrs": net_attrs,
            "history": self.encode(list(net.history), f"{where}.history"),
        }
        self._finish(node_id)
        return node

    def finish(self):
        if self._tensors:
            from safetensors.torch import save as save_tensors

            self._add_file("weights/tensors.safetensors", save_tensors(self._tensors))


def _is_plain(value):
    """JSON data (possibly nested in lists, tuples and str-keyed dicts)."""
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return True
    if type(value) in (list, tuple):
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    return False


def _dumps(obj, compact=False):
    layout = dict(separators=(",", ":")) if compact else dict(indent=1)
    return json.dumps(obj, allow_nan=False, ensure_ascii=True, **layout).encode("ascii")


def _environment():
    """Versions of the libraries that wrote the files (informational)."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": platform.python_version(), "numpy": np.__version__,
           "torch": torch.__version__}
    for dist in ("scikit-learn", "skorch", "safetensors"):
        try:
            env[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return env


def save(estimator, path, *, overwrite=False):
    """Save a (fitted) estimator in skhash's safe format: no pickle.

    The model becomes a directory of JSON files, ``.npy`` arrays and
    safetensors weights that :func:`load` reads back without running code
    from the files. Works for every skhash estimator, a fitted
    :class:`~skhash.neighbors.KNeighborsRetriever` (its database codes and
    labels included) and a scikit-learn ``Pipeline`` whose other steps are
    among ``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``,
    ``RobustScaler``, ``Normalizer`` and ``PCA`` (and ``FrozenEstimator``
    around any of these). Anything else is refused here, before a file is
    written. See :doc:`/persistence` for the format and the compatibility
    promise.

    Parameters
    ----------
    estimator : estimator
        The estimator to save, fitted or not.
    path : str or path-like
        The directory to create. It must not exist (or be an empty
        directory) unless ``overwrite=True``.
    overwrite : bool, default=False
        Replace a model previously saved at ``path`` (a directory holding a
        ``manifest.json``; other directories are never deleted).

    Raises
    ------
    TypeError
        When the estimator holds something the format cannot store: a class
        or function outside ``skhash.``, ``torch.nn.``, ``torch.optim.`` and
        ``skorch.callbacks.`` (a custom backbone class, a lambda), an
        estimator that is not on the allow-list, or an unknown object.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.

    See Also
    --------
    load : read a saved model back.

    Notes
    -----
    Format 1 writes ``manifest.json`` (format version, skhash version, the
    estimator's class as an import path, its parameters and the SHA-256 of
    every other file), ``state.json`` (the fitted attributes),
    ``arrays/<n>.npy`` and ``weights/net<n>.{module,criterion}.safetensors``
    (each skorch net's state dicts, as CPU tensors: a model trained on a GPU
    loads on a CPU-only machine). The optimizer's state, the skorch
    callbacks' internal state and a validation split are not stored: the
    loaded model transforms, encodes, predicts and searches exactly as the
    saved one, but is not a checkpoint to resume training from (``fit``
    trains anew). joblib/pickle persistence is unchanged.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import skhash
    >>> from skhash.datasets import load_digits
    >>> from skhash.hashing import CNNBHHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = CNNBHHasher(n_bits=16, hidden_units=(32,), max_epochs=1,
    ...                      random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     skhash.save(hasher, Path(tmp) / "hasher")
    ...     sorted(p.name for p in (Path(tmp) / "hasher").iterdir())
    ...     loaded = skhash.load(Path(tmp) / "hasher")
    ['arrays', 'manifest.json', 'state.json', 'weights']
    >>> bool((loaded.encode(X) == hasher.encode(X)).all())
    True
    """
    if not isinstance(estimator, BaseEstimator):
        raise TypeError(
            f"skhash.save saves scikit-learn estimators, got {type(estimator).__name__}."
        )
    from . import __version__

    writer = _Writer()
    root = writer._estimator(estimator, type(estimator).__name__, root=True)
    writer.finish()
    files = dict(writer.files)
    files[STATE] = _dumps(root["state"], compact=True)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skhash_version": __version__,
        "class": root["class"],
        "params": root["params"],
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
        "environment": _environment(),
    }
    files[MANIFEST] = _dumps(manifest)
    _write_directory(pathlib.Path(os.fspath(path)), files, overwrite)


def _write_directory(path, files, overwrite):
    if path.exists() or path.is_symlink():
        empty_dir = path.is_dir() and not path.is_symlink() and not any(path.iterdir())
        if not empty_dir:
            if not overwrite:
                raise FileExistsError(
                    f"{str(path)!r} exists; pass overwrite=True to replace a saved model."
                )
            if path.is_symlink() or not path.is_dir() or not (path / MANIFEST).is_file():
                raise FileExistsError(
                    f"{str(path)!r} exists and is not a model saved by skhash.save; "
                    "refusing to replace it."
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if path.is_dir():
            if any(path.iterdir()):
                shutil.rmtree(path)
            else:
                path.rmdir()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ==================================================================== reading
def _no_constants(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _parse_json(data, name):
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants,
                          object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"cannot load: {name} is not valid JSON ({exc}).") from None


class _Reader:
    """Verify a saved directory and decode its nodes."""

    def __init__(self, path, device):
        self.path = path
        self.device = device
        self.memo = {}
        self.blobs = {}
        self.manifest = None

    # ----------------------------------------------------------- checking
    def fail(self, message):
        raise ValueError(f"cannot load {str(self.path)!r}: {message}")

    def verify(self):
        path = self.path
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a directory"
            self.fail(f"it {what}; skhash.save writes a directory (format {FORMAT_VERSION}).")
        manifest_file = path / MANIFEST
        if not manifest_file.is_file() or manifest_file.is_symlink():
            self.fail(f"no {MANIFEST}: not a model saved by skhash.save.")
        manifest = _parse_json(manifest_file.read_bytes(), MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            self.fail(f"{MANIFEST} does not describe a skhash model (format {FORMAT_NAME!r}).")
        version = manifest.get("format_version")
        if type(version) is not int:
            self.fail(f"{MANIFEST}: format_version must be an integer, got {version!r}.")
        if version not in READABLE_FORMAT_VERSIONS:
            self.fail(
                f"format version {version} (written by skhash {manifest.get('skhash_version')!r}); "
                f"this skhash reads format versions {list(READABLE_FORMAT_VERSIONS)}."
            )
        expected = {"format": str, "format_version": int, "skhash_version": str, "class": str,
                    "params": dict, "files": dict, "environment": dict}
        if set(manifest) != set(expected):
            missing = sorted(set(expected) - set(manifest))
            extra = sorted(set(manifest) - set(expected))
            self.fail(f"{MANIFEST} does not match the schema of format {version} "
                      f"(missing {missing}, unexpected {extra}).")
        for key, kind in expected.items():
            if not isinstance(manifest[key], kind):
                self.fail(f"{MANIFEST}: {key!r} must be a {kind.__name__}.")
        files = manifest["files"]
        for name, digest in files.items():
            if not _FILE_RE.fullmatch(name):
                self.fail(f"{MANIFEST} lists an unexpected file name {name!r}.")
            if not isinstance(digest, str) or not _SHA_RE.fullmatch(digest):
                self.fail(f"{MANIFEST}: the checksum of {name!r} is not a SHA-256 hex digest.")
        if STATE not in files:
            self.fail(f"{MANIFEST} does not list {STATE}.")
        present = set()
        for root, dirs, names in os.walk(path):
            for entry in dirs + names:
                full = pathlib.Path(root) / entry
                if full.is_symlink():
                    self.fail(f"{full.relative_to(path).as_posix()!r} is a symbolic link.")
            for entry in names:
                present.add((pathlib.Path(root) / entry).relative_to(path).as_posix())
        present.discard(MANIFEST)
        for name in sorted(set(files) - present):
            self.fail(f"{name!r}, listed in {MANIFEST}, is missing.")
        for name in sorted(present - set(files)):
            self.fail(f"unexpected file {name!r}, not listed in {MANIFEST}.")
        for name, digest in files.items():
            data = (path / name).read_bytes()
            if _sha256(data) != digest:
                self.fail(f"the SHA-256 checksum of {name!r} does not match {MANIFEST}: the "
                          "file was modified or corrupted; refusing to load it.")
            self.blobs[name] = data
        self.manifest = manifest

    # ----------------------------------------------------------- decoding
    def _fields(self, node, required, where, optional=()):
        keys = set(node)
        if not set(required) <= keys or not keys <= set(required) | set(optional) | {"type"}:
            self.fail(f"{where}: a {node.get('type')!r} node must have the fields "
                      f"{sorted(required)}, got {sorted(keys - {'type'})}.")

    def _blob(self, name, prefix, where):
        if not isinstance(name, str) or not name.startswith(prefix) or name not in self.blobs:
            self.fail(f"{where}: {name!r} is not a file listed in {MANIFEST}.")
        return self.blobs[name]

    def _register(self, node, obj, where):
        node_id = node["id"]
        if type(node_id) is not int or node_id in self.memo:
            self.fail(f"{where}: invalid or repeated node id {node_id!r}.")
        self.memo[node_id] = obj
        return obj

    def decode(self, node, where):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if type(node) is not dict or not isinstance(node.get("type"), str):
            self.fail(f"{where}: not a valid node ({type(node).__name__}).")
        kind = node["type"]
        method = getattr(self, "_decode_" + kind, None) if kind.isidentifier() else None
        if method is None:
            self.fail(f"{where}: unknown node type {kind!r}.")
        return method(node, where)

    def _decode_ref(self, node, where):
        self._fields(node, ("id",), where)
        if type(node["id"]) is not int or node["id"] not in self.memo:
            self.fail(f"{where}: reference to an unknown node {node['id']!r}.")
        return self.memo[node["id"]]

    def _decode_float(self, node, where):
        self._fields(node, ("value",), where)
        if node["value"] not in ("nan", "inf", "-inf"):
            self.fail(f"{where}: invalid float {node['value']!r}.")
        return float(node["value"])

    def _decode_tuple(self, node, where):
        self._fields(node, ("items",), where)
        if type(node["items"]) is not list:
            self.fail(f"{where}: tuple items must be a list.")
        return tuple(self.decode(v, f"{where}[{i}]") for i, v in enumerate(node["items"]))

    def _decode_dict(self, node, where):
        if "items" in node:
            self._fields(node, ("items",), where)
            if type(node["items"]) is not dict:
                self.fail(f"{where}: dict items must be an object.")
            return {k: self.decode(v, f"{where}[{k!r}]") for k, v in node["items"].items()}
        self._fields(node, ("pairs",), where)
        if type(node["pairs"]) is not list:
            self.fail(f"{where}: dict pairs must be a list.")
        out = {}
        for i, pair in enumerate(node["pairs"]):
            if type(pair) is not list or len(pair) != 2:
                self.fail(f"{where}: dict pairs must be [key, value] lists.")
            key = self.decode(pair[0], f"{where} key {i}")
            try:
                out[key] = self.decode(pair[1], f"{where}[{key!r}]")
            except TypeError:
                self.fail(f"{where}: unhashable dict key {key!r}.")
        return out

    def _decode_path(self, node, where):
        self._fields(node, ("value",), where)
        if type(node["value"]) is not str:
            self.fail(f"{where}: a path must be a string.")
        return pathlib.Path(node["value"])

    def _decode_scalar(self, node, where):
        self._fields(node, ("dtype", "value"), where)
        try:
            dtype = np.dtype(node["dtype"]) if type(node["dtype"]) is str else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in _SCALAR_KINDS:
            self.fail(f"{where}: unsupported scalar dtype {node['dtype']!r}.")
        value = self.decode(node["value"], where)
        ok = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}[dtype.kind]
        if type(value) not in ok:
            self.fail(f"{where}: a {dtype} scalar cannot hold {value!r}.")
        try:
            return dtype.type(value)
        except (OverflowError, ValueError):
            self.fail(f"{where}: a {dtype} scalar cannot hold {value!r}.")

    def _decode_ndarray(self, node, where):
        self._fields(node, ("id", "file"), where)
        data = self._blob(node["file"], "arrays/", where)
        if not data.startswith(_NPY_MAGIC):
            self.fail(f"{where}: {node['file']!r} is not a .npy file.")
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            self.fail(f"{where}: cannot read {node['file']!r} ({exc}).")
        if type(array) is not np.ndarray:
            self.fail(f"{where}: {node['file']!r} does not hold one array.")
        return self._register(node, array, where)

    def _decode_object_array(self, node, where):
        self._fields(node, ("id", "shape", "items"), where)
        shape, items = node["shape"], node["items"]
        if (type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape)
                or type(items) is not list or len(items) != math.prod(shape)):
            self.fail(f"{where}: invalid object array.")
        array = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            value = self.decode(item, f"{where}[{i}]")
            if not isinstance(value, _SCALAR_TYPES + (np.generic,)):
                self.fail(f"{where}[{i}]: object arrays hold only scalars.")
            array[i] = value
        return self._register(node, array.reshape(shape), where)

    def _decode_tensor(self, node, where):
        self._fields(node, ("id", "file", "key"), where)
        tensors = self._tensors(node["file"], where)
        if node["key"] not in tensors:
            self.fail(f"{where}: tensor {node['key']!r} is not in {node['file']!r}.")
        return self._register(node, tensors[node["key"]], where)

    def _tensors(self, name, where):
        from safetensors.torch import load as load_tensors

        data = self._blob(name, "weights/", where)
        try:
            return load_tensors(data)
        except Exception as exc:  # noqa: BLE001 -- safetensors raises its own errors
            self.fail(f"{where}: {name!r} is not a valid safetensors file ({exc}).")

    def _decode_torch_generator(self, node, where):
        self._fields(node, ("id", "state"), where)
        state = node["state"]
        if type(state) is not dict or state.get("type") != "tensor":
            self.fail(f"{where}: a generator state must be a tensor.")
        generator = torch.Generator()
        try:
            generator.set_state(self.decode(state, f"{where}.state"))
        except (TypeError, RuntimeError) as exc:
            self.fail(f"{where}: invalid generator state ({exc}).")
        return self._register(node, generator, where)

    def _decode_random_state(self, node, where):
        self._fields(node, ("id", "state"), where)
        state = self.decode(node["state"], f"{where}.state")
        rs = np.random.RandomState()
        try:
            rs.set_state(state)
        except (TypeError, ValueError) as exc:
            self.fail(f"{where}: invalid RandomState state ({exc}).")
        return self._register(node, rs, where)

    def _decode_class(self, node, where):
        self._fields(node, ("path",), where)
        return _resolve(node["path"], "reference", where)

    def _decode_code_space(self, node, where):
        self._fields(node, ("id", "class", "args"), where)
        cls = _resolve(node["class"], "code_space", where)
        args = node["args"]
        if type(args) is not dict or set(args) != set(_CODE_SPACES[cls]):
            self.fail(f"{where}: {cls.__name__} takes the arguments {list(_CODE_SPACES[cls])}.")
        values = {k: self.decode(v, f"{where}.{k}") for k, v in args.items()}
        try:
            space = cls(**values)
        except (TypeError, ValueError) as exc:
            self.fail(f"{where}: invalid {cls.__name__} ({exc}).")
        return self._register(node, space, where)

    def _params(self, node, where, cls=None):
        params = node["params"]
        if type(params) is not dict or not all(
                _settable(cls, k) if cls is not None else k.isidentifier() for k in params):
            self.fail(f"{where}: parameters must be an object of names (not shadowing methods).")
        return {k: self.decode(v, f"{where}.{k}") for k, v in params.items()}

    def _decode_callback(self, node, where):
        self._fields(node, ("id", "class", "params"), where)
        cls = _resolve(node["class"], "callback", where)
        params = self._params(node, where, cls)
        try:
            callback = cls(**params)
        except TypeError as exc:
            self.fail(f"{where}: the parameters do not match {cls.__name__} ({exc}).")
        return self._register(node, callback, where)

    def _decode_estimator(self, node, where):
        self._fields(node, ("id", "class", "params", "state"), where)
        cls = _resolve(node["class"], "estimator", where)
        params = self._params(node, where)
        try:
            est = cls(**params)
        except TypeError as exc:
            self.fail(f"{where}: the parameters do not match {cls.__name__} ({exc}).")
        state = node["state"]
        if type(state) is not dict or not all(_settable(cls, k) for k in state):
            self.fail(f"{where}: the state must be an object of attribute names (not shadowing "
                      "methods).")
        nets = {}
        for key, value in state.items():
            if type(value) is dict and value.get("type") == "net":
                nets[key] = value
            else:
                vars(est)[key] = self.decode(value, f"{where}.{key}")
        for key, value in nets.items():
            vars(est)[key] = self._net(value, est, f"{where}.{key}")
        return self._register(node, est, where)

    def _decode_net(self, node, where):
        self.fail(f"{where}: a skorch net may only be an attribute of a deep encoder.")

    # -------------------------------------------------------------- nets
    def _device(self, saved):
        from .base import resolve_device

        if self.device is not None:
            return resolve_device(self.device)
        if not isinstance(saved, str):
            self.fail(f"invalid saved device {saved!r}.")
        try:
            return resolve_device(saved)
        except ValueError as exc:
            warnings.warn(
                f"the model was saved from device {saved!r}, which is not available here "
                f"({exc}); loading it on the CPU.", UserWarning, stacklevel=4,
            )
            return "cpu"

    def _net(self, node, owner, where):
        self._fields(node, ("id", "class", "n_features", "n_outputs", "params", "callbacks",
                            "module_weights", "criterion_weights", "module_training",
                            "criterion_attrs", "net_attrs", "history"), where)
        cls = _resolve(node["class"], "net", where)
        if not (hasattr(owner, "_build_module") and hasattr(owner, "_build_criterion")):
            self.fail(f"{where}: {type(owner).__name__} does not build networks.")
        n_features, n_outputs = node["n_features"], node["n_outputs"]
        if type(n_features) is not int or not (n_outputs is None or type(n_outputs) is int):
            self.fail(f"{where}: n_features and n_outputs must be integers.")
        params = self._params(node, where)
        forbidden = sorted(set(params) & (_NET_REBUILT | _NET_FIXED))
        if forbidden:
            self.fail(f"{where}: the net parameters {forbidden} cannot be loaded.")
        callbacks = self.decode(node["callbacks"], f"{where}.callbacks")
        module_state = self._tensors(node["module_weights"], where)
        criterion_state = self._tensors(node["criterion_weights"], where)
        params["device"] = self._device(params.get("device", "cpu"))
        try:
            with torch.random.fork_rng(devices=[]), _overridden(owner, _BUILD_OVERRIDES):
                module = owner._build_module(n_features, n_outputs)
                criterion = owner._build_criterion(n_outputs)
            net = cls(module=module, criterion=criterion, callbacks=callbacks,
                      train_split=None, **params)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*initialized.*", category=UserWarning)
                net.initialize()
        except (TypeError, ValueError, AttributeError, RuntimeError) as exc:
            self.fail(f"{where}: cannot rebuild the network of {type(owner).__name__} from its "
                      f"parameters ({type(exc).__name__}: {exc}).")
        self._load_state(net.module_, module_state, f"{where}.module_")
        self._load_state(net.criterion_, criterion_state, f"{where}.criterion_")
        if type(node["module_training"]) is not bool:
            self.fail(f"{where}: module_training must be a boolean.")
        net.module_.train(node["module_training"])
        attrs = node["criterion_attrs"]
        if type(attrs) is not dict:
            self.fail(f"{where}: criterion_attrs must be an object.")
        for key, value in attrs.items():
            if key.startswith("_") or key not in vars(net.criterion_):
                self.fail(f"{where}: the criterion has no attribute {key!r}.")
            value = self.decode(value, f"{where}.criterion_.{key}")
            if not _is_plain(value):
                self.fail(f"{where}.criterion_.{key}: not a plain value.")
            setattr(net.criterion_, key, value)
        attrs = node["net_attrs"]
        if type(attrs) is not dict:
            self.fail(f"{where}: net_attrs must be an object.")
        for key, value in attrs.items():
            if not key.startswith("_") or key.startswith("__") or not key.isidentifier():
                self.fail(f"{where}: invalid net attribute {key!r}.")
            value = self.decode(value, f"{where}.{key}")
            if not _is_plain(value):
                self.fail(f"{where}.{key}: not a plain value.")
            vars(net)[key] = value
        from skorch.history import History

        history = self.decode(node["history"], f"{where}.history")
        if type(history) is not list or not all(type(row) is dict for row in history):
            self.fail(f"{where}: the history must be a list of objects.")
        net.history_ = History(history)
        return self._register(node, net, where)

    def _load_state(self, module, state, where):
        buffers = dict(module.named_buffers())
        for key, tensor in state.items():
            if key in buffers and buffers[key].shape != tensor.shape:
                # a buffer whose size is set by training (e.g. fitted codebooks)
                prefix, _, leaf = key.rpartition(".")
                owner = module.get_submodule(prefix) if prefix else module
                owner._buffers[leaf] = torch.empty(tensor.shape, dtype=tensor.dtype,
                                                   device=buffers[key].device)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            self.fail(f"{where}: the saved weights do not fit the network rebuilt from the "
                      f"parameters ({exc}).")

    # -------------------------------------------------------------- root
    def load_root(self):
        manifest = self.manifest
        state = _parse_json(self.blobs[STATE], STATE)
        root = {"type": "estimator", "id": 0, "class": manifest["class"],
                "params": manifest["params"], "state": state}
        cls_name = manifest["class"].rpartition(":")[2] or "estimator"
        try:
            return self.decode(root, cls_name)
        except RecursionError:
            self.fail("the state is nested too deeply.")


@contextmanager
def _overridden(obj, values):
    """Temporarily set the attributes of ``obj`` named in ``values`` (those it has)."""
    saved = {k: vars(obj)[k] for k in values if k in vars(obj)}
    try:
        for k in saved:
            vars(obj)[k] = values[k]
        yield
    finally:
        vars(obj).update(saved)


def load(path, *, device=None):
    """Load a model saved by :func:`save`, without pickle.

    The directory is verified before anything is built: the manifest's
    format and schema, the SHA-256 checksum of every file, and that no
    file is missing or added. Arrays are read with
    ``numpy.load(allow_pickle=False)``, weights with safetensors, everything
    else is JSON. Classes are imported only from the allow-list (skhash
    estimators and code spaces, the scikit-learn steps listed in
    :func:`save`, skorch callbacks, and classes or functions of
    ``skhash.``, ``torch.nn.``, ``torch.optim.`` and ``skorch.callbacks.``);
    the estimator is re-created from its parameters, its fitted attributes
    are set, and each skorch net is rebuilt by the estimator from them and
    receives the saved weights (``net_.initialize()``, then
    ``load_state_dict``). See :doc:`/persistence`.

    Compatibility: this version reads format 1 (the format it writes).

    Parameters
    ----------
    path : str or path-like
        A directory written by :func:`save`.
    device : str or None, default=None
        Device of the loaded networks ("cpu", "cuda", "cuda:N"). None: the
        device the net was trained on when it is available here, else the
        CPU (with a warning), so a model trained on a GPU loads on a
        CPU-only machine. The estimator's ``device`` parameter keeps its
        saved value either way (it is where ``fit`` trains).

    Returns
    -------
    estimator : estimator
        The saved estimator, with the same outputs (``transform``,
        ``encode``, ``predict``, ``kneighbors``, ...) as when it was saved.

    Raises
    ------
    ValueError
        When the directory is not a skhash model, was modified (a checksum
        does not match), does not match the schema, names a class outside
        the allow-list, or was written in a format this version cannot read.

    See Also
    --------
    save : write a model.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import skhash
    >>> from skhash.datasets import load_digits
    >>> from skhash.neighbors import KNeighborsRetriever
    >>> from skhash.quantization import ProductQuantizer
    >>> X, y = load_digits(return_X_y=True)
    >>> retriever = KNeighborsRetriever(ProductQuantizer(M=4, K=16, random_state=0),
    ...                                 n_neighbors=5).fit(X[100:], y[100:])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     skhash.save(retriever, Path(tmp) / "index")
    ...     loaded = skhash.load(Path(tmp) / "index")
    >>> np.array_equal(loaded.kneighbors(X[:5])[1], retriever.kneighbors(X[:5])[1])
    True
    >>> np.array_equal(loaded.predict(X[:5]), retriever.predict(X[:5]))
    True
    """
    reader = _Reader(pathlib.Path(os.fspath(path)), device)
    reader.verify()
    return reader.load_root()
