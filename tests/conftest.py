import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).parent))  # noqa: E401,E702

from support.fixtures import *  # noqa


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the expected outputs of tests/golden/<pair>/<case>/ from the translators")
