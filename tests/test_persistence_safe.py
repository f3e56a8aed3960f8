"""skhash.save / skhash.load: the safe format (safetensors, JSON, .npy; no pickle)."""

import copy
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from _estimators import estimator_ids, make
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler
from skorch.callbacks import EpochScoring, LRScheduler
from torch import nn

import skhash
from skhash import (  # every public estimator is exported at the top level
    CNNBHHasher,
    DPQQuantizer,
    ITQHasher,
    KNeighborsRetriever,
    SSDHHasher,
    load,
    save,
)
from skhash.datasets import load_digits

FAST = dict(max_epochs=2, hidden_units=(8,), batch_size=32, random_state=0)


def _dpq():
    return DPQQuantizer(M=2, K=4, embedding_dim=8, part_hidden_units=(), **FAST)


# every public estimator's test variants (tests/_estimators.py), plus an image network
ESTIMATORS = {
    **{i: (lambda i=i: make(i)) for i in estimator_ids()},
    "CNNBHHasher[image]": lambda: CNNBHHasher(n_bits=8, input_shape=(1, 8, 8), max_epochs=1,
                                              batch_size=32, random_state=0),
}

METHODS = ("transform", "encode", "embed", "predict", "predict_proba", "decision_function",
           "kneighbors")


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:160], y[:160], X[160:200]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return {name: make().fit(X, y) for name, make in ESTIMATORS.items()}


def _outputs(est, Q, y=None):
    out = {}
    for name in METHODS:
        if hasattr(est, name):
            out[name] = getattr(est, name)(Q)
    if hasattr(est, "inverse_transform"):
        out["inverse_transform"] = est.inverse_transform(est.transform(Q))
    if y is not None:
        out["score"] = est.score(Q, y)
    return out


def _assert_same_outputs(a, b):
    assert a.keys() == b.keys()
    for name in a:
        left, right = a[name], b[name]
        if isinstance(left, tuple):
            for u, v in zip(left, right, strict=True):
                np.testing.assert_array_equal(u, v, err_msg=name)
                assert u.dtype == v.dtype, name
        else:
            np.testing.assert_array_equal(left, right, err_msg=name)
            assert np.asarray(left).dtype == np.asarray(right).dtype, name


def _assert_same_state(a, b, where="estimator"):
    assert type(a) is type(b), where
    assert vars(a).keys() == vars(b).keys(), where
    for key, u in vars(a).items():
        v = vars(b)[key]
        at = f"{where}.{key}"
        if key == "net_":
            assert vars(u).keys() == vars(v).keys(), at
            for part in ("module_", "criterion_"):
                su, sv = getattr(u, part).state_dict(), getattr(v, part).state_dict()
                assert su.keys() == sv.keys(), at
                assert all(torch.equal(su[k], sv[k]) for k in su), at
            assert list(u.history) == list(v.history), at
            assert torch.equal(u.iterator_train__generator.get_state(),
                               v.iterator_train__generator.get_state()), at
        elif isinstance(u, np.ndarray):
            np.testing.assert_array_equal(u, v, err_msg=at)
            assert u.dtype == v.dtype, at
        elif isinstance(u, BaseEstimator):
            _assert_same_state(u, v, at)
        elif type(u).__name__ in ("HammingSpace", "ProductSpace"):
            assert repr(u) == repr(v), at
        elif isinstance(u, (type(None), bool, int, float, str, tuple, list)):
            if key == "callbacks" and u:  # callback objects: same classes
                assert [type(c) for c in u] == [type(c) for c in v], at
            else:
                assert u == v and type(u) is type(v), at


def _rehash(path):
    """Recompute the manifest's checksums (what a deliberate tamperer would do)."""
    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_json(path, name, edit, rehash=True):
    doc = json.loads((path / name).read_text())
    edit(doc)
    (path / name).write_text(json.dumps(doc))
    if rehash and name != "manifest.json":
        _rehash(path)


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_round_trip_identical(name, fitted, data, tmp_path):
    _, _, Q = data
    est = fitted[name]
    save(est, tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert type(loaded) is type(est)
    assert repr(loaded.get_params()) == repr(est.get_params())
    _assert_same_state(est, loaded)
    _assert_same_outputs(_outputs(est, Q), _outputs(loaded, Q))
    if hasattr(est, "net_"):
        assert loaded.net_.device == "cpu"
        assert len(loaded.history_) == len(est.history_)
    # joblib / pickle of the loaded model work as before
    _assert_same_outputs(_outputs(est, Q), _outputs(pickle.loads(pickle.dumps(loaded)), Q))


def test_manifest_contents(fitted, tmp_path):
    est = fitted["DPQQuantizer"]
    save(est, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["format"] == "skhash-safe"
    assert manifest["format_version"] == 1 == skhash._persistence.FORMAT_VERSION
    assert manifest["skhash_version"] == skhash.__version__
    assert manifest["class"] == "skhash:DPQQuantizer"
    assert manifest["params"]["M"] == 2 and manifest["params"]["device"] == "cpu"
    files = {p.relative_to(tmp_path / "m").as_posix()
             for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    assert any(f.endswith(".safetensors") for f in files)
    for f, digest in manifest["files"].items():
        assert hashlib.sha256((tmp_path / "m" / f).read_bytes()).hexdigest() == digest


def test_retriever_keeps_codes_labels_and_shared_space(data, tmp_path):
    X, y, Q = data
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"], dtype=object)[y]  # object dtype: stored as JSON
    retriever = KNeighborsRetriever(ITQHasher(n_bits=8, random_state=0), n_neighbors=4).fit(
        X, labels)
    assert retriever.classes_.dtype == object
    save(retriever, tmp_path / "r")
    loaded = load(tmp_path / "r")
    np.testing.assert_array_equal(loaded.codes_, retriever.codes_)
    np.testing.assert_array_equal(loaded._y, retriever._y)
    assert loaded.classes_.dtype == object and list(loaded.classes_) == list(retriever.classes_)
    assert loaded.code_space_ is loaded.encoder_.code_space_
    np.testing.assert_array_equal(loaded.predict(Q), retriever.predict(Q))
    for a, b in zip(loaded.kneighbors(), retriever.kneighbors()):  # X=None: the database
        np.testing.assert_array_equal(a, b)
    assert loaded.score(Q, labels[:40]) == retriever.score(Q, labels[:40])


def test_frozen_encoder_and_random_state_instance(data, tmp_path):
    X, y, Q = data
    encoder = ITQHasher(n_bits=8, random_state=np.random.RandomState(3)).fit(X)
    retriever = KNeighborsRetriever(FrozenEstimator(encoder), n_neighbors=2).fit(X, y)
    save(retriever, tmp_path / "f")
    loaded = load(tmp_path / "f")
    assert isinstance(loaded.encoder, FrozenEstimator)
    rs = loaded.encoder.estimator.random_state
    assert isinstance(rs, np.random.RandomState)
    assert rs.randint(1000) == copy.deepcopy(encoder.random_state).randint(1000)
    np.testing.assert_array_equal(loaded.kneighbors(Q)[1], retriever.kneighbors(Q)[1])


def test_unfitted_estimator(tmp_path):
    est = SSDHHasher(n_bits=12, hidden_units=(16, 8), optimizer=torch.optim.SGD)
    save(est, tmp_path / "u")
    loaded = load(tmp_path / "u")
    assert loaded.get_params() == est.get_params()
    assert loaded.optimizer is torch.optim.SGD and loaded.hidden_units == (16, 8)
    assert not hasattr(loaded, "net_")


def test_pipeline_with_sklearn_preprocessing(data, tmp_path):
    X, y, Q = data
    pipe = make_pipeline(StandardScaler(), PCA(n_components=16, random_state=0), MinMaxScaler(),
                         _dpq()).fit(X, y)
    save(pipe, tmp_path / "p")
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["class"] == "sklearn.pipeline:Pipeline"
    loaded = load(tmp_path / "p")
    assert [type(s) for _, s in loaded.steps] == [type(s) for _, s in pipe.steps]
    for a, b in zip(pipe.steps, loaded.steps):
        _assert_same_state(a[1], b[1])
    for method in ("transform", "predict", "decision_function"):
        np.testing.assert_array_equal(getattr(loaded, method)(Q), getattr(pipe, method)(Q))
    np.testing.assert_array_equal(loaded[:-1].transform(Q), pipe[:-1].transform(Q))


def test_pipeline_with_other_step_refused(data, tmp_path):
    X, y, _ = data
    pipe = make_pipeline(FunctionTransformer(np.sqrt), ITQHasher(n_bits=8)).fit(X, y)
    with pytest.raises(TypeError, match="FunctionTransformer is not on the allow-list"):
        save(pipe, tmp_path / "p")
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------ fresh process
def test_identical_in_fresh_process_without_pickle(fitted, data, tmp_path):
    """A deep estimator and a retriever, loaded in a new interpreter where
    pickle and torch.load are disabled."""
    _, _, Q = data
    names = ("DeepSOMQuantizer", "KNeighborsRetriever[hamming]")
    np.save(tmp_path / "Q.npy", Q)
    for i, name in enumerate(names):
        save(fitted[name], tmp_path / f"model{i}")
    script = textwrap.dedent(f"""
        import pickle, torch
        import numpy as np
        import skhash

        def refuse(*args, **kwargs):
            raise AssertionError("pickle was used")

        class NoUnpickler(pickle.Unpickler):
            __init__ = refuse

        saved = pickle.load, pickle.loads, pickle.Unpickler, torch.load
        tmp = {str(tmp_path)!r}
        Q = np.load(tmp + "/Q.npy", allow_pickle=False)
        for i in range({len(names)}):
            # no unpickling while loading (numba's cache unpickles later, at search)
            pickle.load = pickle.loads = torch.load = refuse
            pickle.Unpickler = NoUnpickler
            est = skhash.load(f"{{tmp}}/model{{i}}")
            pickle.load, pickle.loads, pickle.Unpickler, torch.load = saved
            for name in ("transform", "encode", "predict"):
                if hasattr(est, name):
                    np.save(f"{{tmp}}/{{i}}-{{name}}.npy", getattr(est, name)(Q))
            if hasattr(est, "kneighbors"):
                dist, ind = est.kneighbors(Q)
                np.save(f"{{tmp}}/{{i}}-dist.npy", dist)
                np.save(f"{{tmp}}/{{i}}-ind.npy", ind)
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    for i, name in enumerate(names):
        est = fitted[name]
        for method in ("transform", "encode", "predict"):
            if hasattr(est, method):
                np.testing.assert_array_equal(np.load(tmp_path / f"{i}-{method}.npy"),
                                              getattr(est, method)(Q))
        if hasattr(est, "kneighbors"):
            dist, ind = est.kneighbors(Q)
            np.testing.assert_array_equal(np.load(tmp_path / f"{i}-dist.npy"), dist)
            np.testing.assert_array_equal(np.load(tmp_path / f"{i}-ind.npy"), ind)


# ------------------------------------------------- classes, callables, callbacks
class _LocalBackbone(nn.Module):
    def __init__(self, n_features, out_features=8):
        super().__init__()
        self.out_features = out_features
        self.layer = nn.Linear(n_features, out_features)

    def forward(self, x):
        return self.layer(x)


@pytest.mark.parametrize("params, culprit", [
    (dict(backbone=_LocalBackbone), "backbone"),
    (dict(callbacks=[EpochScoring(lambda net, X, y: 0.0)]), "callbacks"),
    (dict(callbacks=[EpochScoring(np.mean)]), "callbacks"),
])
def test_non_allow_listed_callable_refused_at_save(params, culprit, tmp_path):
    est = CNNBHHasher(n_bits=8, **params)
    with pytest.raises(TypeError, match=rf"cannot save CNNBHHasher\.{culprit}.*allow-list"):
        save(est, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_allowed_classes_and_callbacks_round_trip(data, tmp_path):
    X, y, Q = data
    est = CNNBHHasher(
        n_bits=8, optimizer=torch.optim.SGD, lr=0.01, lr_schedule="cosine", verbose=0,
        validation_fraction=0.2, early_stopping=True, n_iter_no_change=1,
        callbacks=[("step", LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=1,
                                        gamma=0.5))],
        **{k: v for k, v in FAST.items()},
    ).fit(X, y)
    save(est, tmp_path / "c")
    loaded = load(tmp_path / "c")
    assert loaded.optimizer is torch.optim.SGD
    name, callback = loaded.callbacks[0]
    assert name == "step" and callback.policy is torch.optim.lr_scheduler.StepLR
    assert callback.kwargs == {"step_size": 1, "gamma": 0.5}
    assert [n for n, _ in loaded.net_.callbacks] == [n for n, _ in est.net_.callbacks]
    assert type(loaded.net_.optimizer_) is torch.optim.SGD
    np.testing.assert_array_equal(loaded.transform(Q), est.transform(Q))


# --------------------------------------------------------- refusals at load
@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model"
    save(fitted["DeepSOMQuantizer"], path)
    return path


def test_every_tampered_file_refused(saved, tmp_path):
    files = sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file())
    files.remove("manifest.json")
    assert {f.split("/")[0] for f in files} == {"arrays", "weights", "state.json"}
    for name in files:
        copy_ = tmp_path / "copy"
        shutil.copytree(saved, copy_)
        data = bytearray((copy_ / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy_ / name).write_bytes(bytes(data))
        with pytest.raises(ValueError, match=f"checksum of '{name}' does not match"):
            load(copy_)
        shutil.rmtree(copy_)


@pytest.mark.parametrize("path", ["os.system", "os:system", "builtins:eval",
                                  "skhash.__main__:main", "sklearn.cluster:KMeans",
                                  "torch.nn:Linear", "skhash_evil_module:Model",
                                  "skhash.quantization._pq:KMeans", "skhash.base:BaseEstimator"])
def test_manifest_class_outside_allow_list_refused(saved, path):
    _edit_json(saved, "manifest.json", lambda m: m.update({"class": path}))
    with pytest.raises(ValueError, match="allow-list|is not an estimator class"):
        load(saved)
    assert "skhash_evil_module" not in sys.modules


def test_state_class_outside_allow_list_refused(saved):
    """Checksums stop accidents; the allow-list stops a tamperer who rewrites them."""
    def edit(state):
        state["code_space_"]["class"] = "subprocess:Popen"
        state["net_"]["params"]["optimizer"]["path"] = "os:system"

    _edit_json(saved, "state.json", edit)
    with pytest.raises(ValueError, match="'subprocess:Popen' is not on the allow-list"):
        load(saved)


def test_pickled_array_refused(saved):
    """An object array (pickle inside .npy) is never unpickled."""
    with open(saved / "arrays" / "0.npy", "wb") as f:
        np.save(f, np.array([print], dtype=object), allow_pickle=True)
    _rehash(saved)
    with pytest.raises(ValueError, match="cannot read 'arrays/0.npy'"):
        load(saved)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(format_version=2), r"format version 2 .* reads format versions \[1\]"),
    (lambda m: m.update(format="something-else"), "does not describe a skhash model"),
    (lambda m: m.pop("files"), r"does not match the schema.*missing \['files'\]"),
    (lambda m: m.update(extra=1), r"unexpected \['extra'\]"),
    (lambda m: m["files"].update({"../outside.npy": "0" * 64}), "unexpected file name"),
    (lambda m: m["params"].update(n_bits=3), "do not match DeepSOMQuantizer"),
])
def test_manifest_schema_mismatch_refused(saved, edit, message):
    _edit_json(saved, "manifest.json", edit)
    with pytest.raises(ValueError, match=message):
        load(saved)


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(grid_={"type": "exec", "code": "1"}), "unknown node type 'exec'"),
    (lambda s: s["classes_"].update(extra="x"), "must have the fields"),
    (lambda s: s["classes_"].update(file="arrays/99.npy"), "not a file listed"),
    (lambda s: s.update(map_shape_={"type": "ref", "id": 999}), "unknown node 999"),
    (lambda s: s["net_"].update(n_outputs=7), "do not fit the network"),
    (lambda s: s.update(transform={"type": "class", "path": "torch.nn.functional:relu"}),
     "not shadowing methods"),
    (lambda s: s["net_"]["params"].update(dataset={"type": "class", "path": "torch.nn:Linear"}),
     r"net parameters \['dataset'\] cannot be loaded"),
    (lambda s: s["net_"]["params"].update(optimizer={"type": "class",
                                                     "path": "skhash.base:train_test_split"}),
     "defined in 'sklearn.model_selection._split'"),
])
def test_state_schema_mismatch_refused(saved, edit, message):
    _edit_json(saved, "state.json", edit)
    with pytest.raises(ValueError, match=message):
        load(saved)


def test_missing_or_extra_file_refused(saved):
    (saved / "arrays" / "extra.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="unexpected file 'arrays/extra.npy'"):
        load(saved)
    (saved / "arrays" / "extra.npy").unlink()
    (saved / "arrays" / "0.npy").unlink()
    with pytest.raises(ValueError, match="'arrays/0.npy', listed in manifest.json, is missing"):
        load(saved)


def test_not_a_saved_model(tmp_path, fitted):
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no manifest.json"):
        load(tmp_path / "empty")
    with pytest.raises(TypeError, match="saves scikit-learn estimators"):
        save(np.zeros(3), tmp_path / "z")


def test_overwrite(fitted, tmp_path):
    path = tmp_path / "m"
    save(fitted["LSHHasher"], path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(fitted["ITQHasher"], path)
    save(fitted["ITQHasher"], path, overwrite=True)
    assert isinstance(load(path), ITQHasher)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a model saved by skhash.save"):
        save(fitted["ITQHasher"], other, overwrite=True)
    assert (other / "keep.txt").exists()
    (tmp_path / "empty").mkdir()
    save(fitted["ITQHasher"], tmp_path / "empty")  # an empty directory is used as is
    assert isinstance(load(tmp_path / "empty"), ITQHasher)


# ---------------------------------------------------------------------- devices
def test_cuda_model_loads_on_cpu_only_machine(fitted, data, tmp_path, monkeypatch):
    _, _, Q = data
    expected = fitted["SSDHHasher"].transform(Q)
    est = copy.deepcopy(fitted["SSDHHasher"])
    est.set_params(device="cuda")
    est.net_.device = "cuda"  # as if trained on a GPU (the tensors are saved on the CPU)
    save(est, tmp_path / "gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="saved from device 'cuda'.*loading it on the CPU"):
        loaded = load(tmp_path / "gpu")
    assert loaded.device == "cuda"  # the parameter is kept: it is where fit trains
    assert loaded.net_.device == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_array_equal(loaded.transform(Q), expected)
    with pytest.raises(ValueError, match="CUDA is not available"):
        load(tmp_path / "gpu", device="cuda")
    assert load(tmp_path / "gpu", device="cpu").net_.device == "cpu"
