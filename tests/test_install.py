"""A regular install (`pip install .`, a wheel; not `-e`) has everything `bpo-kpi demo` and
`bpo-kpi serve` need: a wheel built from the source, installed into a fresh virtual environment
that sees this interpreter's dependencies but not this checkout, serves the demo from a folder
that is not the repository, with the dashboard's Streamlit settings applied."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# What the dashboard's settings must be wherever it runs (.streamlit/config.toml).
SETTINGS = {
    "client": {"toolbarMode": "viewer", "disableDataExport": True},
    "browser": {"gatherUsageStats": False},
    "server": {"headless": True},
}
PAGES = ["overview", "quality", "tat", "calibration", "vendors", "health", "export", "first_run"]


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=cwd, env=env)
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{run.stdout}\n{run.stderr}"
    return run


def _builds_without_isolation() -> bool:
    """Whether this interpreter's setuptools satisfies the build requirement and makes wheels
    itself (70.1+; the `test` extra installs it), so no build environment is downloaded."""
    try:
        from setuptools.command import bdist_wheel  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the source: pyproject.toml, README.md and the
    packages (copied, so the build writes nothing into the working tree)."""
    src = tmp_path_factory.mktemp("src")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        for package in ROOT.glob(pattern.removesuffix("*")):
            if (package / "__init__.py").exists():
                shutil.copytree(
                    package, src / package.name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )  # fmt: skip
    out = tmp_path_factory.mktemp("wheel")
    isolation = ["--no-build-isolation"] if _builds_without_isolation() else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, str(src), "-w", str(out)])
    (built,) = out.glob("bpo_kpi-*.whl")
    return built


def test_the_wheel_holds_the_app_its_pages_and_settings(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        config = tomllib.loads(z.read("app_pages/streamlit_app/.streamlit/config.toml").decode())
    assert {"app_pages/entry.py", "app_pages/streamlit_app/app.py"} <= names
    assert {f"app_pages/{page}.py" for page in PAGES} <= names
    assert {"sample_data/vendors/northwind.toml", "sample_data/vendors/apex_bpo.toml"} <= names
    assert {n for n in names if n.startswith("sample_data/raw/")} >= {
        "sample_data/raw/northwind/decisions.csv", "sample_data/raw/apex_bpo/decisions.jsonl"
    }  # fmt: skip
    for section, values in SETTINGS.items():
        assert {k: config[section][k] for k in values} == values
    # A clone's `streamlit run app.py` reads the project's copy: the same settings.
    project = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert project == config


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed; it sees this interpreter's installed
    packages through a folder of links to them that leaves out bpo-kpi (this checkout's
    editable install and its finder), so `import kpi` can only find the wheel's copy."""
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    _run([sys.executable, "-m", "venv", str(env_dir)])
    python = env_dir / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(_run([str(python), "-c", code]).stdout.strip())
    deps = root / "base" / "site-packages"  # Streamlit takes any other folder for a checkout
    deps.mkdir(parents=True)
    for folder in {Path(sysconfig.get_path(name)) for name in ("purelib", "platlib")}:
        for entry in folder.iterdir():
            if entry.suffix == ".pth" or re.match(r"(__editable__|bpo_kpi)", entry.name, re.I):
                continue  # .pth files would not run from there anyway; bpo-kpi is the wheel's
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    # A .pth file's folders are added to the module path; .pth files inside them are not run.
    (purelib / "installed_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    # --no-index: every requirement must already be satisfied (a missing one fails here).
    _run([str(python), "-m", "pip", "install", "--no-index", str(wheel)], env=_clean_env(root))
    where = _run(
        [str(python), "-c", "import app_pages, kpi, sample_data; print(kpi.__file__)"],
        cwd=root, env=_clean_env(root),
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(purelib), where
    return env_dir


def _clean_env(home: Path) -> dict[str, str]:
    """The environment less anything pointing at this checkout, with a HOME of its own (no
    personal ~/.streamlit settings or secrets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BPO_KPI_"))}
    return {**env, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The venv's `bpo-kpi demo` serving from an empty folder; yields its URL and stderr file."""
    work = tmp_path_factory.mktemp("demo_cwd")
    port = _free_port()
    stderr = work / "stderr.txt"
    env = {**_clean_env(work), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"}  # never all interfaces
    cmd = [str(venv / "bin" / "bpo-kpi"), "demo", "--decisions", "20000", "--weeks", "2",
           "--port", str(port)]  # fmt: skip
    with stderr.open("w") as err:  # a session of its own: stopping it stops Streamlit too
        proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 75
        while True:
            assert proc.poll() is None, f"bpo-kpi demo exited:\n{stderr.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no dashboard after 75 s:\n{stderr.read_text()}"
            time.sleep(0.3)
        assert (work / "bpo_kpi.duckdb").exists()  # the demo's files go to its working folder
        yield url, stderr
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop `proc` and the Streamlit server it started: its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while True:
        proc.poll()  # reaps the command once it has exited
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return  # nothing of the group is left
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.2)


def _session(url: str) -> list[Any]:
    """The ForwardMsgs of one browser session's first run of the app (the page a browser
    opening `url` gets), read over Streamlit's websocket as its front end does."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    messages: list[Any] = []
    with connect(ws_url, subprotocols=["streamlit"], open_timeout=10) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = ""
        ws.send(back.SerializeToString())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=deadline - time.monotonic()))
            messages.append(msg)
            if msg.WhichOneof("type") == "script_finished":
                break
        else:
            raise AssertionError("the app's first run did not finish in 60 s")
    return messages


def test_the_installed_demo_serves_the_dashboard(demo: tuple[str, Path]) -> None:
    url, stderr = demo
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert "<html" in r.read().decode().lower()

    messages = _session(url)
    kinds = [m.WhichOneof("type") for m in messages]
    (new_session,) = (m.new_session for m in messages if m.WhichOneof("type") == "new_session")
    # The settings shipped beside the packaged script apply (server.headless: it started
    # without asking for an e-mail address; gatherUsageStats, toolbarMode, disableDataExport:
    # what the front end is told).
    assert new_session.config.gather_usage_stats is False
    assert new_session.config.disable_data_export is True
    assert new_session.config.toolbar_mode == new_session.config.VIEWER
    elements = [m.delta.new_element for m in messages if m.WhichOneof("type") == "delta"]
    exceptions = [e.exception for e in elements if e.WhichOneof("type") == "exception"]
    assert exceptions == [], exceptions
    navigation = [m.navigation for m in messages if m.WhichOneof("type") == "navigation"]
    assert navigation, kinds
    titles = [p.page_name for p in navigation[-1].app_pages]
    assert titles[:2] == ["Overview", "Quality & gaps"], titles
    headings = [e.heading.body for e in elements if e.WhichOneof("type") == "heading"]
    assert "Overview" in headings, headings
    assert messages[-1].script_finished == messages[-1].FINISHED_SUCCESSFULLY, kinds

    log = stderr.read_text()
    assert "Traceback" not in log, log
