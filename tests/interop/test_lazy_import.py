"""escnn stays optional: never imported by eqcnn itself, a clear message when it is missing."""

import subprocess
import sys

import pytest


def test_import_eqcnn_does_not_import_escnn():
    code = "import sys, eqcnn, eqcnn.interop, eqcnn.nn; print('escnn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_escnn_gives_install_hint():
    code = (
        "import sys; sys.modules['escnn'] = None\n"
        "try:\n"
        "    import eqcnn.interop.escnn\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'eqcnn[escnn]' && pip install --no-deps escnn" in out.stdout


@pytest.mark.escnn
def test_import_is_quiet():
    pytest.importorskip("escnn", exc_type=ImportError)
    code = "import warnings; warnings.simplefilter('error'); import eqcnn.interop.escnn"
    subprocess.run([sys.executable, "-c", code], check=True)
