import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, liqtools, liqtools.analysis, liqtools.data;"
        "heavy = [m for m in ('ccxt', 'bokeh', 'statsmodels', 'ipywidgets', 'jupyter_bokeh') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_public_api_is_typed_and_listed():
    import liqtools

    for name in liqtools.__all__:
        assert hasattr(liqtools, name), name
    from importlib import resources

    assert resources.files("liqtools").joinpath("py.typed").is_file()
