"""On a terminal the run shows its stage on a spinner line; piped (cron), it
does not. Run under a pseudo-terminal, as a person at a shell would."""
import os
import pty
import subprocess
import time

from conftest import CARBONSTAT, ROOT


def run_on_pty(argv):
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out.decode("utf-8", "replace")


def test_spinner_on_a_terminal_only(tmp_path):
    text = (ROOT / "data-samples" / "pipeline.yaml").read_text(encoding="utf-8")
    text = text.replace("data/", f"{ROOT}/data-samples/data/").replace("../factors", f"{ROOT}/factors")
    text = text.replace("output: ../out", f"output: {tmp_path / 'out'}")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(text, encoding="utf-8")
    code, screen = run_on_pty([CARBONSTAT, "--quiet", "run", "--config", str(cfg), "--force"])
    assert code == 0, screen
    assert "validating" in screen or "computing" in screen, screen[:2000]
    assert "准格尔旗" in screen
    piped = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(cfg), "--force"],
                           capture_output=True, text=True)
    assert piped.returncode == 0
    assert "validating" not in piped.stderr and "computing" not in piped.stderr
    assert "\x1b[" not in piped.stderr
