"""The examples in reporter's docstrings run, as tests of the package that is installed.

Collected here rather than with ``--doctest-modules``: that imports each file by its path, and
in CI (``pip install .``, not editable) the files of the checkout are not the package the rest
of the suite imports. Examples that need a file or the network are marked ``+SKIP`` and say so.
"""

import doctest
import importlib
import pkgutil

import pytest

import reporter


def package_modules() -> list[str]:
    """Every module of reporter, except ``__main__`` files (importing one runs the command)."""
    names = [reporter.__name__]
    for module in pkgutil.walk_packages(reporter.__path__, prefix=f"{reporter.__name__}."):
        if module.name.rsplit(".", 1)[-1] != "__main__":
            names.append(module.name)
    return sorted(names)


def docstring_examples() -> list[doctest.DocTest]:
    """The docstrings with examples, in every module, in an order the same on every worker."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in package_modules():
        module = importlib.import_module(name)
        found += [test for test in finder.find(module, name) if test.examples]
    return sorted(found, key=lambda test: test.name)


EXAMPLES = docstring_examples()


def test_the_docstrings_have_examples_to_run():
    assert len(EXAMPLES) >= 20
    assert sum(len(test.examples) for test in EXAMPLES) >= 40


@pytest.mark.parametrize("test", EXAMPLES, ids=[test.name for test in EXAMPLES])
def test_docstring_examples(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    if result.attempted == 0:
        pytest.skip("every example here needs a file or the network (+SKIP)")
