"""The user docs: every example in README.md and docs/*.md runs and does what it says.

Conventions for the Markdown (a block that breaks them fails
`test_doc_follows_the_conventions`; nothing is skipped silently):

* An example opens with an HTML comment stating its outcome:
  `<!-- expect: passed=2 failed=1 -->`. The keys are those of
  `RunResult.assert_outcomes` (passed, failed, errors, skipped, xfailed,
  xpassed, warnings, deselected) plus `exit=N`, the exit code; a run that
  stops before any test (a usage error) states only `exit=`. Unstated
  counts are 0, warnings included, and such a run must write nothing to
  stderr (where Python reports coroutines never awaited, after pytest's
  summary); deselected is checked only when stated. Further lines
  inside the comment, one `key: value` each, add:

      match: <fnmatch pattern>  a line the output must contain (repeatable, in order)
      python: 3.11              the example needs this Python or newer (skipped otherwise)
      requires: uvloop          the example needs this module (skipped without it)
      run: subprocess           run pytest in a subprocess (default: in-process)

* The example is the fenced blocks after the comment, up to the next heading
  or `expect` comment:

  - ```` ```python ````, ```` ```ini ````, ```` ```toml ```` and ```` ```cfg ````
    blocks are files; their first line is a comment naming the path,
    e.g. `# test_orders.py`, `# conftest.py`, `# pytest.ini`;
  - a ```` ```bash ```` block holding one `pytest ...` line gives the
    command-line arguments;
  - a ```` ```text ```` block is output: each of its lines (but `...`) must
    appear, in order, in what pytest printed.

* Outside examples only ```` ```bash ```` blocks may appear; they are not run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REQUIRED_DOCS = ("loops.md", "fixtures.md", "configuration.md")
#: Pages with nothing for pytest to run (their commands are shown as `bash` blocks).
NO_EXAMPLES = ("docs/benchmarks.md",)
CI_RUN = ROOT / ".ci" / "run"

Run = Callable[..., pytest.RunResult]

OUTCOME_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
OPTIONAL_OUTCOME_KEYS = ("warnings", "deselected")
FILE_SUFFIXES = {"python": ".py", "ini": ".ini", "toml": ".toml", "cfg": ".cfg"}
OPTION_KEYS = ("match", "python", "requires", "run")

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")
_HEADING = re.compile(r"^#{1,6} ")
_FILE_LINE = re.compile(r"^# (?P<path>[\w][\w./-]*)$")


@dataclasses.dataclass
class Block:
    """One fenced code block."""

    lang: str
    text: str
    line: int
    heading: str


@dataclasses.dataclass
class Example:
    """An `expect` comment and the blocks after it."""

    doc: str
    line: int
    outcomes: dict[str, int]
    exit: int | None = None
    matches: list[str] = dataclasses.field(default_factory=list)
    python: tuple[int, ...] | None = None
    requires: list[str] = dataclasses.field(default_factory=list)
    subprocess: bool = False
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    args: list[str] = dataclasses.field(default_factory=list)
    output: list[str] = dataclasses.field(default_factory=list)
    blocks: int = 0

    @property
    def id(self) -> str:
        """Return the test id: the doc and the line of the `expect` comment."""
        return f"{self.doc}:{self.line}"


@dataclasses.dataclass
class Doc:
    """What one Markdown file holds."""

    examples: list[Example]
    blocks: list[Block]
    problems: list[str]


def fenced_blocks(text: str) -> Iterator[Block | tuple[int, str]]:
    """Yield the fenced blocks of a Markdown text, and its other lines as (number, line)."""
    lines = text.splitlines()
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence is None:
            if _HEADING.match(line):
                heading = line.lstrip("#").strip()
            yield i + 1, line
            i += 1
            continue
        ticks = fence["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].startswith(ticks) and lines[j].strip("`").strip() == ""
        ):
            body.append(lines[j])
            j += 1
        info = fence["info"].strip()
        lang = info.split()[0] if info else ""
        yield Block(lang, "\n".join(body) + "\n", i + 1, heading)
        i = j + 1


def _parse_expect(comment: list[str], doc: str, line: int, problems: list[str]) -> Example:
    """Turn the lines of an `expect` comment into an (empty) example."""
    where = f"{doc}:{line}"
    first = comment[0].split("expect:", 1)[1].replace("-->", "").strip()
    example = Example(doc, line, {})
    for token in first.split():
        key, sep, value = token.partition("=")
        if not sep or not value.isdigit():
            problems.append(f"{where}: expected key=number in 'expect:', got {token!r}")
        elif key == "exit":
            example.exit = int(value)
        elif key in OUTCOME_KEYS or key in OPTIONAL_OUTCOME_KEYS:
            example.outcomes[key] = int(value)
        else:
            problems.append(f"{where}: unknown outcome {key!r}")
    if not example.outcomes and example.exit is None:
        problems.append(f"{where}: an example states its outcomes or its exit code")
    for raw in comment[1:]:
        text = raw.replace("-->", "").strip()
        if not text:
            continue
        key, sep, value = (part.strip() for part in text.partition(":"))
        if not sep or key not in OPTION_KEYS or not value:
            problems.append(f"{where}: expected one of {', '.join(OPTION_KEYS)}: ..., got {text!r}")
        elif key == "match":
            example.matches.append(value)
        elif key == "python":
            example.python = tuple(int(part) for part in value.split("."))
        elif key == "requires":
            example.requires.extend(value.split())
        elif value in ("subprocess", "inprocess"):
            example.subprocess = value == "subprocess"
        else:
            problems.append(f"{where}: 'run:' is subprocess or inprocess, got {value!r}")
    return example


def _add_block(example: Example, block: Block, doc: str, problems: list[str]) -> None:
    """Add a block to the example it belongs to."""
    where = f"{doc}:{block.line}"
    example.blocks += 1
    if block.lang in FILE_SUFFIXES:
        first = block.text.split("\n", 1)[0]
        named = _FILE_LINE.match(first)
        if named is None:
            problems.append(
                f"{where}: a {block.lang} block starts with a comment naming its file, "
                f"e.g. '# test_example{FILE_SUFFIXES[block.lang]}'; got {first!r}"
            )
            return
        path = named["path"]
        if ".." in path.split("/") or not path.endswith(FILE_SUFFIXES[block.lang]):
            problems.append(f"{where}: {path!r} is not a {block.lang} file inside the example")
        elif path in example.files:
            problems.append(f"{where}: {path!r} appears twice in one example")
        else:
            example.files[path] = block.text
    elif block.lang == "bash":
        words = shlex.split(block.text)
        if not words or words[0] != "pytest" or block.text.strip().count("\n"):
            problems.append(f"{where}: a bash block in an example is one 'pytest ...' line")
        elif example.args:
            problems.append(f"{where}: an example has one command line")
        else:
            example.args = words[1:]
    elif block.lang == "text":
        example.output.extend(
            line.strip() for line in block.text.splitlines() if line.strip() not in ("", "...")
        )
    else:
        problems.append(f"{where}: unexpected block language {block.lang!r} in an example")


def parse_doc(text: str, doc: str) -> Doc:
    """Find the examples of a Markdown text and every departure from the conventions.

    Args:
        text: The Markdown.
        doc: Its name in messages and example ids.

    Returns:
        The examples, every fenced block, and the problems found.

    """
    examples: list[Example] = []
    blocks: list[Block] = []
    problems: list[str] = []
    current: Example | None = None
    comment: list[str] | None = None
    comment_line = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            if current.blocks == 0:
                problems.append(f"{doc}:{current.line}: an 'expect' comment with no example")
            elif not current.files:
                problems.append(f"{doc}:{current.line}: an example writes no file")
            else:
                examples.append(current)
        current = None

    for item in fenced_blocks(text):
        if isinstance(item, Block):
            blocks.append(item)
            if current is not None:
                _add_block(current, item, doc, problems)
            elif item.lang != "bash":
                problems.append(
                    f"{doc}:{item.line}: a {item.lang or 'plain'!s} block outside an example; "
                    "precede it with <!-- expect: ... --> (or make it a bash block)"
                )
            continue
        number, line = item
        if comment is not None:
            comment.append(line)
            if "-->" in line:
                current = _parse_expect(comment, doc, comment_line, problems)
                comment = None
        elif _HEADING.match(line):
            close()
        elif line.lstrip().startswith("<!--") and "expect:" in line:
            close()
            comment, comment_line = [line], number
            if "-->" in line:
                current = _parse_expect(comment, doc, comment_line, problems)
                comment = None
    if comment is not None:
        problems.append(f"{doc}:{comment_line}: an 'expect' comment is never closed")
    close()
    return Doc(examples, blocks, problems)


PARSED = {
    path.relative_to(ROOT).as_posix(): parse_doc(
        path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix()
    )
    for path in DOCS
    if path.exists()
}
EXAMPLES = [example for doc in PARSED.values() for example in doc.examples]


def _developers_commands() -> str:
    """Return the bash block under "The two commands" in DEVELOPERS.md."""
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    for item in fenced_blocks(text):
        if isinstance(item, Block) and item.heading == "The two commands":
            return item.text
    raise AssertionError("DEVELOPERS.md has no bash block under '## The two commands'")


def _test_command(commands: str) -> str:
    """Return the command on the line after the '# Tests:' comment."""
    lines = commands.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("# Tests:"):
            return lines[i + 1]
    raise AssertionError(f"no '# Tests:' line in:\n{commands}")


# -- the docs follow the conventions ---------------------------------------------------------


def test_required_docs_exist() -> None:
    """README.md and the guides users are sent to exist, and each shows examples."""
    for name in REQUIRED_DOCS:
        assert (ROOT / "docs" / name).is_file(), f"docs/{name} is missing"
    for doc, parsed in PARSED.items():
        if doc not in NO_EXAMPLES:
            assert parsed.examples, f"{doc} has no runnable example"
    assert "README.md" in PARSED


@pytest.mark.parametrize("doc", sorted(PARSED))
def test_doc_follows_the_conventions(doc: str) -> None:
    """Every Python, ini and TOML block belongs to an example the docs test runs."""
    problems = PARSED[doc].problems
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", sorted(PARSED))
def test_relative_links_point_at_files(doc: str) -> None:
    """Links from one doc to another name files that exist."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    for target in re.findall(r"\]\((?!https?://|#|mailto:)([^)#\s]+)", text):
        assert ((ROOT / doc).parent / target).exists(), f"{doc} links to missing {target}"


_BROKEN = {
    "block outside an example": (
        "```python\n# test_x.py\nasync def test_x(): pass\n```\n",
        "doc.md:1: a python block outside an example",
    ),
    "block without a file line": (
        "<!-- expect: passed=1 -->\n\n```python\nasync def test_x(): pass\n```\n",
        "doc.md:3: a python block starts with a comment naming its file",
    ),
    "block without a language": (
        "<!-- expect: passed=1 -->\n\n```\n# test_x.py\n```\n",
        "doc.md:3: unexpected block language ''",
    ),
    "file of the wrong kind": (
        "<!-- expect: passed=1 -->\n\n```ini\n# test_x.py\n```\n",
        "doc.md:3: 'test_x.py' is not a ini file",
    ),
    "file outside the example": (
        "<!-- expect: passed=1 -->\n\n```python\n# ../test_x.py\n```\n",
        "doc.md:3: a python block starts with a comment naming its file",
    ),
    "expect with no example": (
        "<!-- expect: passed=1 -->\n\n## Next\n",
        "doc.md:1: an 'expect' comment with no example",
    ),
    "example writing no file": (
        "<!-- expect: passed=1 -->\n\n```bash\npytest -v\n```\n",
        "doc.md:1: an example writes no file",
    ),
    "unknown outcome": (
        "<!-- expect: won=1 -->\n\n```python\n# test_x.py\n```\n",
        "doc.md:1: unknown outcome 'won'",
    ),
    "no outcome": (
        "<!-- expect: -->\n\n```python\n# test_x.py\n```\n",
        "doc.md:1: an example states its outcomes or its exit code",
    ),
    "unknown option": (
        "<!-- expect: passed=1\ntimeout: 3\n-->\n\n```python\n# test_x.py\n```\n",
        "doc.md:1: expected one of match, python, requires, run: ..., got 'timeout: 3'",
    ),
    "bash block that is not pytest": (
        "<!-- expect: passed=1 -->\n\n```python\n# test_x.py\n```\n\n```bash\nls\n```\n",
        "doc.md:7: a bash block in an example is one 'pytest ...' line",
    ),
    "text block outside an example": (
        "```text\noutput\n```\n",
        "doc.md:1: a text block outside an example",
    ),
    "unclosed comment": (
        "<!-- expect: passed=1\n\n```python\n# test_x.py\n```\n",
        "doc.md:1: an 'expect' comment is never closed",
    ),
}


@pytest.mark.parametrize(("markdown", "problem"), _BROKEN.values(), ids=list(_BROKEN))
def test_blocks_breaking_the_conventions_are_reported(markdown: str, problem: str) -> None:
    """A block the docs test cannot run is a reported problem, not a silent skip."""
    problems = parse_doc(markdown, "doc.md").problems
    assert any(found.startswith(problem) for found in problems), problems


def test_a_well_formed_example_is_parsed() -> None:
    """Files, command line, options and output of an example are read as written."""
    markdown = (
        "# Title\n\n<!-- expect: passed=2 warnings=1\nmatch: *ok*\npython: 3.11\n"
        "requires: uvloop\nrun: subprocess\n-->\n\n"
        "```ini\n# pytest.ini\n[pytest]\n```\n\n"
        "```python\n# pkg/test_x.py\nasync def test_x(): pass\n```\n\n"
        "```bash\npytest -v -k 'x or y'\n```\n\n"
        "```text\nline one\n...\n  line two\n```\n\n"
        "## Install\n\n```bash\npip install awaitest\n```\n"
    )
    doc = parse_doc(markdown, "doc.md")
    assert doc.problems == []
    [example] = doc.examples
    assert example.id == "doc.md:3"
    assert example.outcomes == {"passed": 2, "warnings": 1}
    assert example.matches == ["*ok*"]
    assert example.python == (3, 11)
    assert example.requires == ["uvloop"]
    assert example.subprocess
    assert list(example.files) == ["pytest.ini", "pkg/test_x.py"]
    assert example.files["pytest.ini"] == "# pytest.ini\n[pytest]\n"
    assert example.args == ["-v", "-k", "x or y"]
    assert example.output == ["line one", "line two"]


# -- every example does what the docs say --------------------------------------------------


def _check_output(result: pytest.RunResult, example: Example) -> None:
    """Check the example's `match:` patterns and its ```text output block."""
    lines = result.outlines + result.errlines
    if example.matches:
        pytest.LineMatcher(lines).fnmatch_lines(example.matches)
    position = 0
    for expected in example.output:
        for index in range(position, len(lines)):
            if expected in lines[index]:
                position = index + 1
                break
        else:
            shown = "\n".join(lines)
            pytest.fail(
                f"{example.id}: the docs show the output line\n  {expected}\n"
                f"which pytest did not print (after line {position}):\n{shown}",
                pytrace=False,
            )


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_doc_example(
    example: Example, pytester: pytest.Pytester, run: Run, run_subprocess: Run
) -> None:
    """A documented example, run with pytest, has the outcome and output the docs state."""
    if example.python is not None and sys.version_info < example.python:
        pytest.skip(f"needs Python {'.'.join(map(str, example.python))} or newer")
    for module in example.requires:
        pytest.importorskip(module)
    for name, text in example.files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    result = (run_subprocess if example.subprocess else run)(*example.args)
    if example.exit is not None:
        assert result.ret == example.exit, "\n".join(result.outlines + result.errlines)
    if example.outcomes:
        # An example runs clean unless it says otherwise: no warnings, nothing on stderr
        # (where Python reports coroutines never awaited, after pytest's summary).
        counts = {key: example.outcomes.get(key, 0) for key in (*OUTCOME_KEYS, "warnings")}
        if "deselected" in example.outcomes:
            counts["deselected"] = example.outcomes["deselected"]
        result.assert_outcomes(**counts)
        assert not result.errlines, "pytest wrote to stderr:\n" + "\n".join(result.errlines)
    _check_output(result, example)


# -- the README's commands and .ci/run -----------------------------------------------------


def test_readme_quick_start_is_the_two_commands_of_developers_md() -> None:
    """The README's Quick start block is DEVELOPERS.md's two commands, verbatim."""
    commands = _developers_commands()
    assert len([line for line in commands.splitlines() if line.startswith("python3 ")]) == 2
    readme_bash = [block.text for block in PARSED["README.md"].blocks if block.lang == "bash"]
    assert commands in readme_bash


def _ci_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        ["bash", str(root / ".ci" / "run"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_ci_run_is_strict_bash() -> None:
    """.ci/run is an executable bash script with strict error handling and valid syntax."""
    assert os.access(CI_RUN, os.X_OK), ".ci/run is not executable"
    text = CI_RUN.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    checked = subprocess.run(
        ["bash", "-n", str(CI_RUN)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_ci_run_runs_the_readme_test_command() -> None:
    """.ci/run's test command is the README's, which is DEVELOPERS.md's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = _test_command(_developers_commands())
    assert _test_command(readme) == expected
    result = _ci_run(ROOT, "--print-test-command")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"


def test_ci_run_refuses_a_readme_without_a_test_command(tmp_path: Path) -> None:
    """.ci/run stops, naming the README, when the README has no '# Tests:' command."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(CI_RUN, tmp_path / ".ci" / "run")
    (tmp_path / "README.md").write_text("# A project\n\nNo commands here.\n", encoding="utf-8")
    result = _ci_run(tmp_path, "--print-test-command")
    assert result.returncode != 0
    assert "README.md has no test command" in result.stderr


def test_ci_run_fails_when_pytest_collects_nothing(tmp_path: Path) -> None:
    """.ci/run fails on exit code 5 (no tests collected) and says so."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(CI_RUN, tmp_path / ".ci" / "run")
    (tmp_path / ".venv").mkdir()
    (tmp_path / "README.md").write_text("```bash\n# Tests: run them.\nexit 5\n```\n")
    result = _ci_run(tmp_path)
    assert result.returncode != 0
    assert "no tests were collected (pytest exit code 5)" in result.stdout
    assert not (tmp_path / ".venv").exists(), ".ci/run reused an existing .venv"


def test_doc_examples_do_not_shadow_the_project_test_modules() -> None:
    """Inner files named like tests/ modules break in-process runs (pytest's import mismatch)."""
    ours = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            if line.startswith("# test_") and line.endswith(".py"):
                assert line[2:] not in ours, f"{doc.name}: rename the example file {line[2:]}"
