"""scikit-learn's ``check_estimator`` on every skhash estimator with its DEFAULT parameters.

``tests/test_common.py`` runs the same conformance suite with fast settings
(tiny networks, two epochs), which is what the test suite can afford; this
script runs it with the defaults a user gets. Only ``random_state`` is set,
and ``K`` is lowered where the default needs more training rows than the
checks use (``K=8`` for ``DeepQuanHasher`` and ``ProductQuantizer``, whose
default of 256 codewords needs 256 rows), as is ``ITQHasher``'s ``n_bits``
(it keeps ``n_bits`` principal components, so ``n_bits=2`` for the checks'
two-feature data, as PCA's ``n_components``). The retrievers wrap the default
encoders. Known failures of the fast settings (``EXPECTED_FAILED_CHECKS`` of
``tests/test_common.py``) are not excused here.

It takes minutes: every check fits the estimator, with the default epochs
and layer widths (``DeepSOMQuantizer``'s defaults alone take about two).

    python benchmarks/check_defaults.py                    # every estimator
    python benchmarks/check_defaults.py ProductQuantizer   # some of them, by name
    python benchmarks/check_defaults.py --list             # the names

Prints one line per estimator (pass / FAIL, checks run, seconds), then for
each failing check its name and the first line of its error; exits with
status 1 when a check failed.
"""

import argparse
import sys
import time
import warnings

from sklearn.utils.estimator_checks import check_estimator

from skhash.hashing import CNNBHHasher
from skhash.quantization import DPQQuantizer
from skhash.utils import all_estimators

# what the checks need besides random_state=0 (see the module docstring)
LOWERED = {
    "DeepQuanHasher": {"K": 8},
    "ProductQuantizer": {"K": 8},
    "ITQHasher": {"n_bits": 2},
}
# the retriever wraps default encoders, one of each code space
RETRIEVERS = {
    "KNeighborsRetriever(CNNBHHasher)": lambda cls: cls(CNNBHHasher(random_state=0)),
    "KNeighborsRetriever(DPQQuantizer)": lambda cls: cls(DPQQuantizer(random_state=0),
                                                         asymmetric=True),
}


def _estimators():
    """name -> factory of the estimator with its defaults, for every public estimator."""
    table = {}
    for name, cls in all_estimators():
        if name == "KNeighborsRetriever":
            table.update({key: (lambda f=f, cls=cls: f(cls)) for key, f in RETRIEVERS.items()})
        else:
            table[name] = lambda cls=cls, name=name: cls(random_state=0, **LOWERED.get(name, {}))
    return table


ESTIMATORS = _estimators()


def _first_line(exception):
    text = f"{type(exception).__name__}: {exception}".strip()
    return text.splitlines()[0][:200] if text else type(exception).__name__


def run(name, verbose=False):
    """Run the checks on estimator ``name``; return (failures, n_checks, seconds)."""
    estimator = ESTIMATORS[name]()
    start = time.perf_counter()

    def progress(estimator=None, check_name=None, exception=None, status=None, **kwargs):
        if verbose:
            print(f"    {status:7s} {check_name}", flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None, on_skip=None, callback=progress)
    failures = [r for r in results if r["status"] == "failed"]
    return failures, len(results), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="estimators to check (default: all)")
    parser.add_argument("--list", action="store_true", help="print the estimator names")
    parser.add_argument("--verbose", action="store_true", help="print every check as it ends")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(ESTIMATORS))
        return 0
    unknown = [n for n in args.names if n not in ESTIMATORS]
    if unknown:
        parser.error(f"unknown estimator(s) {unknown}; see --list")
    report = {}
    for name in args.names or ESTIMATORS:
        print(f"{name} ...", flush=True)
        failures, n_checks, seconds = run(name, verbose=args.verbose)
        report[name] = failures
        verdict = "pass" if not failures else f"FAIL ({len(failures)} failed)"
        print(f"{name}: {verdict}, {n_checks} checks, {seconds:.1f} s", flush=True)
        for r in failures:
            print(f"    {r['check_name']}: {_first_line(r['exception'])}", flush=True)
    failed = [name for name, failures in report.items() if failures]
    print(f"\n{len(report) - len(failed)} of {len(report)} estimators pass every check"
          + (f"; failing: {', '.join(failed)}" if failed else "."))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
