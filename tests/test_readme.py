import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (running the README is the test)
    out = capsys.readouterr().out
    assert "90361.44" in out and "Shorts: $" in out and "distance_pct" in out


def test_quickstart_commands_are_the_ci_commands():
    bash = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    assert len(bash) == 2
    main_job, test_cmd = (b.strip() for b in bash)
    assert "liqtools clusters" in main_job and "liqtools dashboard" in main_job and "pip install '.[app]'" in main_job
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci, ".ci/run must run the README's test command verbatim"
    assert "set -euo pipefail" in ci  # any failure, including pytest's exit 5 for "no tests", fails CI

