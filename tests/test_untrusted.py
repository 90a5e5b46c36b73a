"""Untrusted content: model output, server messages, model and run names, and checkpoint files.

- A hostile completion, error message, served model name or run-folder name never becomes markup
  in the HTML report: the page is parsed and must hold no script, no event handler, no
  javascript: URL, and the hostile text must come back as plain text.
- File names derived from model names or user input stay inside the output folder.
- A checkpoint is loaded without executing code: a pickle posing as weights is refused.
"""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from stub_server import StubServer, oracle_answer

from hashhop.core.errors import HashhopError

HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)><svg onload=alert(2)>'
    '<a href="javascript:alert(3)">y</a></pre></details><iframe srcdoc="<script>1</script>">'
    "{{7*7}} ${7*7} <!-- --> ]]> \u202e\x00"
)


def _hashhop(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "hashhop", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


class _Audit(HTMLParser):
    """Collects what a browser would treat as active content."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.active, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (
                name in ("href", "src", "action", "formaction", "srcdoc")
                and value
                and not value.startswith(("#", "data:image/"))
            ):
                self.active.append((tag, name, value))
        if (
            tag in ("script", "iframe", "object", "embed", "form", "base", "meta")
            and not (tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "content-security-policy")
            and not (tag == "meta" and set(dict(attrs)) <= {"charset", "name", "content"})
        ):
            self.active.append((tag, "", ""))

    def handle_data(self, data):
        self.text.append(data)


def _hostile_answer(prompt: str) -> str:
    # Right answer inside the hostile text for some queries (scored ok), hostile only for others.
    return HOSTILE + " " + oracle_answer(prompt) if "follow 1 link" in prompt else HOSTILE


@pytest.mark.slow
def test_hostile_completions_messages_and_names_stay_text_in_the_html_report(tmp_path):
    name = "<img src=x onerror=alert(9)>"  # a model name served back and used in the run folder
    run = tmp_path / name
    with StubServer(models=(name,), answer=_hostile_answer) as s:
        s.script({"status": 500, "message": HOSTILE}, {"status": 500, "message": HOSTILE})
        r = _hashhop(
            "eval",
            "--model",
            f"openai:{name}",
            "--base-url",
            s.url + "/v1",
            "-M",
            "chat_overhead=11",
            "--tokens",
            "600",
            "--hops",
            "1,2",
            "--samples",
            "2",
            "--queries",
            "2",
            "--retries",
            "1",
            "--backoff",
            "0.01",
            "--concurrency",
            "1",
            "-o",
            str(run),
        )  # 1: the retry meets the 2nd 500
        assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    assert any(d["status"] == "error" and "<script>" in d["error"] for d in records)
    assert any(d["status"] == "ok" and not d["correct"] for d in records)  # drawn as chain diagrams
    out = tmp_path / "report.html"
    r = _hashhop("report", str(run), "-o", str(out), "--no-figures")
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    audit = _Audit()
    audit.feed(page)
    assert audit.active == [], audit.active[:5]
    # The report draws its own <svg> diagrams; none of the hostile tags may appear as elements.
    assert not {"script", "img", "iframe", "a"} & set(audit.tags), set(audit.tags)
    text = "".join(audit.text)
    assert '<script>alert("x")</script>' in text  # shown, as text
    assert "onerror=alert(9)" in text  # the model / folder name, as text
    assert "script-src" not in page or "'none'" in page  # the CSP never allows a script


def test_the_html_escaper_turns_every_markup_character_into_an_entity():
    from hashhop.report import chainview, html

    for esc in (html.esc, chainview.esc):
        out = esc(HOSTILE)
        assert "<" not in out and ">" not in out and '"' not in out
        audit = _Audit()
        audit.feed(f'<pre>{out}</pre><a title="{esc(HOSTILE)}">x</a>')
        assert audit.tags == ["pre", "a"] and audit.active == []


# -- names that could climb out of the output folder ----------------------------------------------
def _only_child(parent: Path, child: str):
    assert sorted(os.listdir(parent)) == [child], f"something was written beside {child} in {parent}"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["openai:../../etc", "openai:/tmp/abs", "openai:..", "openai:a/../../../b"])
def test_bench_run_folders_named_from_a_model_stay_inside_the_output_folder(tmp_path, model):
    out = tmp_path / "a" / "b" / "c" / "bench"
    out.parent.mkdir(parents=True)
    with StubServer(models=(model.split(":", 1)[1],)) as s:
        r = _hashhop(
            "bench",
            "--model",
            model,
            "--base-url",
            s.url + "/v1",
            "-M",
            "chat_overhead=11",
            "--sweep",
            str(_tiny_sweep(tmp_path)),
            "--no-figures",
            "-o",
            str(out),
        )
        assert r.returncode == 0, r.stderr
    for parent, child in ((tmp_path / "a", "b"), (tmp_path / "a" / "b", "c"), (out.parent, "bench")):
        _only_child(parent, child)
    for path in out.rglob("*"):
        assert out.resolve() in path.resolve().parents


def _tiny_sweep(tmp_path: Path, name: str = "tiny") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f'name = "{name}"\n[grid]\nlengths = ["600"]\nhops = [1]\nsamples = 1\nqueries = 1\n')
    return path


@pytest.mark.slow
def test_a_sweep_name_with_dots_and_slashes_writes_only_inside_the_output_folder(tmp_path):
    out = tmp_path / "a" / "bench"
    out.parent.mkdir()
    sweep = _tiny_sweep(tmp_path, "../../evil")
    sweep.write_text(sweep.read_text() + '[[models]]\nmodel = "oracle"\n')
    r = _hashhop("bench", "--sweep", str(sweep), "--no-figures", "-o", str(out))
    assert r.returncode == 0, r.stderr
    _only_child(tmp_path / "a", "bench")
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_a_sweep_model_name_pointing_outside_is_refused(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[grid]\nlengths = ["600"]\nhops = [1]\n[[models]]\nmodel = "oracle"\nname = "../../x"\n')
    r = _hashhop("bench", "--sweep", str(sweep), "-o", str(tmp_path / "b"), "--dry-run")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "bad name" in r.stderr


def test_an_eval_model_name_with_dots_writes_only_the_chosen_folder(tmp_path):
    out = tmp_path / "a" / "run"
    out.parent.mkdir()
    with StubServer(models=("../../etc",)) as s:
        r = _hashhop(
            "eval",
            "--model",
            "openai:../../etc",
            "--base-url",
            s.url + "/v1",
            "-M",
            "chat_overhead=11",
            "--tokens",
            "600",
            "-o",
            str(out),
        )
        assert r.returncode == 0, r.stderr
    _only_child(tmp_path / "a", "run")
    assert sorted(os.listdir(tmp_path)) == ["a"]


# -- checkpoints -------------------------------------------------------------------------------
class _Boom:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # what a malicious pickle does when loaded
        return (os.system, (f"touch {self.marker}",))


def _malicious_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    import pickle

    pytest.importorskip("safetensors")
    from hashhop_train import checkpoint

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(checkpoint.BUILTIN / "config.json", ckpt / "config.json")
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Boom(str(marker))})
    (ckpt / "model.safetensors").write_bytes(payload)
    return ckpt, marker


def test_a_pickle_posing_as_checkpoint_weights_is_refused_without_running_it(tmp_path):
    from hashhop_train import checkpoint

    ckpt, marker = _malicious_checkpoint(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do; what matters is the payload never ran
        checkpoint.load(ckpt)
    assert not marker.exists()  # the payload never ran


def test_a_pickle_posing_as_checkpoint_weights_is_a_checkpoint_error(tmp_path):
    from hashhop_train import checkpoint

    ckpt, marker = _malicious_checkpoint(tmp_path)
    with pytest.raises(HashhopError, match="checkpoint"):
        checkpoint.load(ckpt)


def test_the_ltm_backend_never_runs_a_pickle_checkpoint(tmp_path):
    ckpt, marker = _malicious_checkpoint(tmp_path)
    r = _hashhop("eval", "--model", f"ltm:{ckpt}", "--tokens", "600", "-o", str(tmp_path / "run"))
    assert r.returncode != 0 and not marker.exists()


def test_the_ltm_backend_refuses_a_pickle_checkpoint_with_one_error_line(tmp_path):
    ckpt, marker = _malicious_checkpoint(tmp_path)
    r = _hashhop("eval", "--model", f"ltm:{ckpt}", "--tokens", "600", "-o", str(tmp_path / "run"))
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr, r.stderr


def test_no_code_path_unpickles_a_file():
    # safetensors only: torch.load and pickle can run code from the file they read.
    root = Path(__file__).resolve().parents[1] / "src"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for needle in (
            "torch.load(",
            "pickle.load",
            "pickle.loads",
            "joblib.load",
            "weights_only=False",
            "numpy.load(",
            "np.load(",
        ):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
