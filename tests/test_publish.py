"""Installed, published and cited: the lock, Binder, the publish workflow, the PDF tools,
CITATION.cff and the version shown everywhere.

No network and no build: the lock is checked against the requirement files, the workflow is
parsed, scripts/assemble_site.sh runs on small stand-in builds, CITATION.cff is validated
against the vendored CFF 1.2.0 schema (tests/schemas/).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

import iclbook

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def _script(name: str) -> ModuleType:  # scripts/ is not a package
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lock = _script("lock_requirements")


# ------------------------------------------------------------------ the lock


def lock_text() -> str:
    return (ROOT / "requirements-lock.txt").read_text(encoding="utf-8")


def test_lock_pins_every_requirement_within_its_range() -> None:
    reqs = lock.project_requirements()
    names = {r.name.lower() for r in reqs}
    assert {"torch", "numpy", "jupyter-book", "nbval", "transformers"} <= names
    problems = lock.check(reqs, lock_text())
    assert problems == [], "\n".join(problems) + (
        "\nregenerate the lock: .venv/bin/python scripts/lock_requirements.py")


def test_lock_check_fails_on_a_missing_pin() -> None:
    text = re.sub(r"^numpy==.*\n", "", lock_text(), flags=re.M)
    assert "numpy==" not in text
    problems = lock.check(lock.project_requirements(), text)
    assert any(p.startswith("numpy") and "not pinned" in p for p in problems), problems


def test_lock_check_fails_on_a_pin_outside_the_range() -> None:
    text = re.sub(r"^torch==.*$", "torch==2.14.0", lock_text(), flags=re.M)
    problems = lock.check([Requirement("torch>=2.3,<2.14")], text)
    assert problems == ["torch<2.14,>=2.3: the lock pins torch==2.14.0, outside the range"]


def test_lock_check_rejects_loose_and_duplicate_lines() -> None:
    problems = lock.check([], "numpy>=1.26\nsympy==1.14.0\nsympy==1.13.0\n")
    assert len(problems) == 2
    assert "not an exact pin" in problems[0] and "pinned twice" in problems[1]


def test_lock_names_torch_without_a_local_label() -> None:
    # torch==X.Y.Z matches PyTorch's CPU wheel (X.Y.Z+cpu) and PyPI's wheel alike.
    pins, problems = lock.parse_lock(lock_text())
    assert problems == []
    assert pins["torch"].local is None
    assert not any(name == "iclbook" for name in pins)


def test_requirement_files_of_every_install_path_are_read() -> None:
    # binder/requirements.txt is covered too (comments and pip options dropped).
    lines = lock.requirement_lines(ROOT / "binder" / "requirements.txt")
    assert lines and all(not line.startswith(("-", "#")) for line in lines)
    assert "binder/requirements.txt" in lock.REQUIREMENT_FILES


# ------------------------------------------------------------------ installers use the lock


def test_env_script_installs_with_the_lock() -> None:
    text = (ROOT / "scripts" / "_env.sh").read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")  # shell line continuations
    install = [line for line in joined.splitlines()
               if "-m pip install" in line and "-r " in line]
    assert install and all("-c requirements-lock.txt" in line for line in install), install
    assert "requirements-lock.txt" in re.search(r"^reqs=\((.*)\)$", text, re.M).group(1)


def test_env_script_rejects_an_unknown_torch_choice() -> None:
    proc = subprocess.run(["bash", "-c", "source scripts/_env.sh"], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "ICLBOOK_TORCH": "cuda"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ICLBOOK_TORCH must be 'cpu' or unset, got 'cuda'"


def test_binder_pins_python_and_uses_the_lock() -> None:
    runtime = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == "python-3.11", runtime  # the stored outputs' Python
    reqs = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    constraint = [line.split(maxsplit=1)[1] for line in reqs if line.startswith("-c ")]
    # pip resolves a nested file's path relative to the file that names it.
    assert constraint and (ROOT / "binder" / constraint[0]).resolve() == \
        ROOT / "requirements-lock.txt"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in reqs
    post = (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")
    assert "-c requirements-lock.txt -e ." in post


def colab_cell() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    m = re.search(r"```python\n(# Set-up:.*?)```", text, flags=re.S)
    assert m, "CONTRIBUTING.md has no set-up cell template"
    return m.group(1)


def test_colab_cell_installs_the_released_version_with_the_lock() -> None:
    cell = colab_cell()
    tag = f"v{iclbook.__version__}"
    assert f'"iclbook @ git+https://github.com/iclbook/iclbook@{tag}"' in cell
    assert (f"-c https://raw.githubusercontent.com/iclbook/iclbook/{tag}/requirements-lock.txt"
            in cell)
    assert "git+https://github.com/iclbook/iclbook\"" not in cell  # not the moving head


# ------------------------------------------------------------------ the publish workflow


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def run_commands() -> list[str]:
    return [step["run"] for job in workflow()["jobs"].values()
            for step in job.get("steps", []) if "run" in step]


def test_workflow_calls_only_scripts_that_exist() -> None:
    called = [m.group(1) for cmd in run_commands()
              for m in re.finditer(r"(?:bash|python|sh)\s+((?:scripts|\.ci)/[\w./-]+)", cmd)]
    assert len(called) >= 4, called
    missing = [path for path in called if not (ROOT / path).is_file()]
    assert not missing, f"the workflow calls scripts that do not exist: {missing}"
    # Only the repository's scripts: every run step is one `bash scripts/...` command.
    assert all(re.fullmatch(r"bash scripts/[\w.-]+\.sh( [\w/.-]+)*", cmd.strip())
               for cmd in run_commands()), run_commands()


def test_workflow_publishes_both_editions_to_pages() -> None:
    wf = workflow()
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = wf.get("on", wf.get(True))
    assert "push" in triggers and "workflow_dispatch" in triggers
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    cmds = run_commands()
    assert "bash scripts/build_book.sh" in cmds  # executes every chapter
    assert "bash scripts/build_student_edition.sh" in cmds
    assert "--stored-outputs" not in " ".join(cmds)
    assemble = [c for c in cmds if c.startswith("bash scripts/assemble_site.sh")]
    assert len(assemble) == 1
    site = assemble[0].split()[-1]
    order = [cmds.index("bash scripts/build_book.sh"),
             cmds.index("bash scripts/build_student_edition.sh"), cmds.index(assemble[0])]
    assert order == sorted(order)
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == site
    deploy_job = [name for name, job in wf["jobs"].items()
                  if any(s.get("uses", "").startswith("actions/deploy-pages")
                         for s in job["steps"])]
    assert len(deploy_job) == 1
    assert wf["jobs"][deploy_job[0]]["environment"]["name"] == "github-pages"
    assert wf["jobs"][deploy_job[0]]["needs"] == "build"


def test_baseurl_is_the_published_address() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    baseurl = config["html"]["baseurl"]
    assert baseurl == BASEURL  # the address scripts/assemble_site.sh reads
    assert baseurl.startswith("https://") and baseurl.endswith("/")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["url"] == baseurl
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert baseurl in readme and "student/" in readme  # where readers find both editions


BASEURL = "https://iclbook.github.io/iclbook/"
CANONICAL = f'<link rel="canonical" href="{BASEURL}book/02_puzzle.html" />'


def _fake_build(path: Path, marker: str) -> None:
    path.mkdir(parents=True)
    (path / "index.html").write_text(f"<p>{marker}</p>", encoding="utf-8")
    (path / "book").mkdir()
    (path / "book" / "02_puzzle.html").write_text(CANONICAL, encoding="utf-8")
    (path / "_static").mkdir()
    (path / "_static" / "x.js").write_text(marker, encoding="utf-8")


def test_assemble_site_puts_the_student_edition_under_student(tmp_path: Path) -> None:
    book, student, pdf = tmp_path / "html", tmp_path / "student", tmp_path / "book.pdf"
    _fake_build(book, "book")
    _fake_build(student, "student")
    pdf.write_bytes(b"%PDF-1.5")
    env = {"PATH": "/usr/bin:/bin", "ICLBOOK_BOOK_HTML": str(book),
           "ICLBOOK_STUDENT_HTML": str(student), "ICLBOOK_PDF": str(pdf)}
    site = tmp_path / "site"
    subprocess.run(["bash", "scripts/assemble_site.sh", str(site)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=60)
    assert (site / "index.html").read_text(encoding="utf-8") == "<p>book</p>"
    assert (site / "_static" / "x.js").read_text(encoding="utf-8") == "book"
    assert (site / "student" / "index.html").read_text(encoding="utf-8") == "<p>student</p>"
    assert (site / "student" / "_static" / "x.js").read_text(encoding="utf-8") == "student"
    assert (site / "iclbook.pdf").read_bytes() == b"%PDF-1.5"
    # Canonical links: the book's pages name themselves, the student pages theirs.
    assert (site / "book" / "02_puzzle.html").read_text(encoding="utf-8") == CANONICAL
    assert (site / "student" / "book" / "02_puzzle.html").read_text(encoding="utf-8") == \
        CANONICAL.replace(BASEURL, f"{BASEURL}student/")


def test_assemble_site_fails_without_the_student_edition(tmp_path: Path) -> None:
    _fake_build(tmp_path / "html", "book")
    env = {"PATH": "/usr/bin:/bin", "ICLBOOK_BOOK_HTML": str(tmp_path / "html"),
           "ICLBOOK_STUDENT_HTML": str(tmp_path / "nothing")}
    proc = subprocess.run(["bash", "scripts/assemble_site.sh", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "nothing/index.html is missing" in proc.stderr
    assert not (tmp_path / "site").exists()


def test_ci_runs_the_test_command_and_the_pdf_check() -> None:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/run_tests.sh" in text
    assert "bash scripts/build_pdf.sh" in text


# ------------------------------------------------------------------ the PDF tools

check_pdf = _script("check_pdf")
pdf_sources = _script("pdf_sources")


def test_pdf_check_reads_every_toc_title() -> None:
    pages = check_pdf.toc_pages()
    titles = [check_pdf.title(p) for p in pages]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    assert len(titles) == 1 + sum(len(part["chapters"]) for part in toc["parts"])
    assert "Deriving the optimal rank-r solution with SymPy" in titles  # "$r$" made plain


def test_pdf_check_samples_numbers_but_not_wall_times(tmp_path: Path) -> None:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "", "outputs": [
        {"output_type": "stream", "name": "stdout",
         "text": "wall time: 12.345 s\nrisk 0.4375 and 1.9547\nhalf 0.5\n"}]},
        {"cell_type": "code", "metadata": {"tags": ["remove-output"]}, "source": "",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "7.777\n"}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert check_pdf.sample_numbers(path) == ["0.4375", "1.9547"]


def test_pdf_sources_find_the_shown_frame_of_a_widget() -> None:
    png = {name: base64.b64encode(name.encode()).decode() for name in ("a", "b")}
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_html",
                                                                  "IPY_MODEL_stack"]}},
        "html": {"model_name": "HTMLModel", "state": {"value": "<b>t</b>"}},
        "stack": {"model_name": "StackModel",
                  "state": {"children": ["IPY_MODEL_ia", "IPY_MODEL_ib"], "selected_index": 1}},
        "ia": {"model_name": "ImageModel", "state": {},
               "buffers": [{"path": ["value"], "encoding": "base64", "data": png["a"]}]},
        "ib": {"model_name": "ImageModel", "state": {},
               "buffers": [{"path": ["value"], "encoding": "base64", "data": png["b"]}]},
    }
    assert pdf_sources.default_frame(state, "box") == b"b"  # the Stack shows child 1
    state["stack"]["state"]["selected_index"] = 0
    assert pdf_sources.default_frame(state, "box") == b"a"
    assert pdf_sources.default_frame(state, "html") is None


def test_every_stored_widget_has_a_frame_for_the_pdf() -> None:
    import nbformat

    counts = [pdf_sources.add_frames(nbformat.read(p, as_version=4))
              for p in sorted((ROOT / "book").glob("*.ipynb"))]
    seen = sum(c[0] for c in counts)
    assert seen > 0 and all(added == widgets for widgets, added in counts), counts


# ------------------------------------------------------------------ citation and version


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def cff_errors(data: dict) -> list[str]:
    schema = json.loads((ROOT / "tests" / "schemas" / "citation-file-format-1.2.0.json")
                        .read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]


def test_citation_file_is_valid_cff_1_2_0() -> None:
    assert cff_errors(citation()) == []


@pytest.mark.parametrize("plant", ["no authors", "bad orcid", "bad date"])
def test_citation_check_fails_on_a_planted_error(plant: str) -> None:
    data = citation()
    if plant == "no authors":
        del data["authors"]
    elif plant == "bad orcid":
        data["references"][0]["authors"][0]["orcid"] = "0000-0000"
    else:
        data["date-released"] = "2 December 2026"
    assert cff_errors(data), plant


def test_citation_cites_the_book_and_the_paper() -> None:
    data = citation()
    assert data["title"].startswith("iclbook")
    paper = data["references"][0]
    assert paper["title"] == "Why Larger Language Models Do In-context Learning Differently?"
    assert [a["family-names"] for a in paper["authors"]] == ["Shi", "Wei", "Xu", "Liang"]


def test_one_version_everywhere() -> None:
    tomllib = lock.tomllib  # the standard library's, or tomli on Python 3.10
    version = iclbook.__version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == version
    assert str(citation()["version"]) == version
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["parse"]["myst_substitutions"]["version"] == version
    assert "{{ version }}" in (ROOT / "book" / "index.md").read_text(encoding="utf-8")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[([^\]]+)\]", changelog, flags=re.M)
    assert first and first.group(1) == version


@pytest.mark.parametrize("page", ["README.md", "book/index.md"])
def test_how_to_cite_names_the_paper_and_the_book(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    # The front page uses a rubric, not a section: in the PDF a section of the root page
    # would become a chapter of its own, after the last one.
    heading = r"^## How to cite\n" if page == "README.md" else r"^:::\{rubric\} How to cite\n"
    m = re.search(heading + r"(.*?)(?=^## |^```\{tableofcontents\}|\Z)", text,
                  flags=re.M | re.S)
    assert m, f"{page} has no 'How to cite' heading"
    section = m.group(1)
    assert "Why Larger Language Models Do In-context" in section
    assert "iclbook: Why larger models learn in context differently" in section
