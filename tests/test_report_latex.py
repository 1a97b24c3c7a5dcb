"""Tests of LaTeX escaping, number formatting, macro files and the LaTeX check."""

import shutil
import subprocess
import sys

import pytest

from aecore.report.latex import (
    LatexMissingError,
    ReportBuildError,
    build_pdf,
    check_latex,
    find_missing_latex,
    format_float,
    format_integer,
    format_parameter_values,
    format_percent,
    format_scientific,
    latex_escape,
    render_macros,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h75_rho0.01", r"h75\_rho0.01"),
        ("50% & more", r"50\% \& more"),
        ("#1 of $2", r"\#1 of \$2"),
        ("{a}", r"\{a\}"),
        ("a~b^c", r"a\textasciitilde{}b\textasciicircum{}c"),
        ("F_<=_FACTR", r"F\_\textless{}=\_FACTR"),
        ("C:\\path", r"C:\textbackslash{}path"),
        ("plain text", "plain text"),
    ],
)
def test_latex_escape_special_characters(text, expected):
    assert latex_escape(text) == expected


def test_latex_escape_does_not_escape_twice():
    # The backslash inserted for '_' must not be escaped again by the '\\' rule.
    assert latex_escape("a_b\\c") == r"a\_b\textbackslash{}c"


def test_format_helpers_missing_values():
    for formatter in (format_float, format_percent, format_integer, format_scientific):
        assert formatter(None) == "n/a"
        assert formatter(float("nan")) == "n/a"


def test_format_helpers_values():
    assert format_float(0.123456, 3) == "0.123"
    assert format_percent(0.4567) == r"45.7\%"
    assert format_integer(10000) == r"10\,000"
    assert format_integer(75.0) == "75"
    assert format_scientific(3.2e-10) == r"$3.2 \times 10^{-10}$"
    assert format_scientific(0.0) == "$0$"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # One value below 0.001 turns the whole list into powers of ten.
        ([0, 1e-4, 0.001, 0.01], ["0", "10^{-4}", "10^{-3}", "10^{-2}"]),
        ([2.5e-4, 0.01], [r"2.5 \times 10^{-4}", "10^{-2}"]),
        ([0.01, 0.2, 3], ["0.01", "0.2", "3"]),
        ([0, 1, 3.0, 10], ["0", "1", "3", "10"]),
        ([1e-4], ["10^{-4}"]),
        ([-0.0005, None], ["-5 \\times 10^{-4}", "n/a"]),
        ([], []),
    ],
)
def test_format_parameter_values_one_style(values, expected):
    assert format_parameter_values(values) == expected


def test_render_macros_defines_macros_and_flags():
    text = render_macros(
        {"resRho": "0.01", "resName": r"h75\_s0"}, {"ifresHaveGpu": False}
    )
    assert r"\newcommand{\resRho}{0.01}" in text
    assert r"\newcommand{\resName}{h75\_s0}" in text
    assert r"\newif\ifresHaveGpu\resHaveGpufalse" in text


@pytest.mark.parametrize("name", ["res_rho", "res1", "", "résumé"])
def test_render_macros_rejects_bad_macro_names(name):
    with pytest.raises(ValueError, match="ASCII letters"):
        render_macros({name: "x"}, {})


def test_render_macros_rejects_flag_without_if():
    with pytest.raises(ValueError, match="starting with 'if'"):
        render_macros({}, {"resHaveGpu": True})


def test_missing_latex_message_names_packages(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda program: None)
    with pytest.raises(LatexMissingError) as excinfo:
        check_latex()
    message = str(excinfo.value)
    assert "program latexmk" in message
    assert "program pdflatex" in message
    assert "apt-get install latexmk texlive-latex-base" in message
    assert "texlive-latex-recommended" in message
    assert "conda install -c conda-forge texlive-core latexmk" in message


def test_missing_style_file_is_named(monkeypatch):
    if shutil.which("kpsewhich") is None:
        pytest.skip("kpsewhich is not installed")
    missing = find_missing_latex(styles=("booktabs.sty", "no-such-style-aecore.sty"))
    assert "style file no-such-style-aecore.sty" in missing
    assert "style file booktabs.sty" not in missing


def test_required_styles_are_installed_here():
    if shutil.which("kpsewhich") is None:
        pytest.skip("kpsewhich is not installed")
    assert find_missing_latex() == []


def test_report_script_prints_message_without_traceback(tmp_path, monkeypatch):
    # A fake PATH without LaTeX tools: the command line fails with the install hint.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "aecore.report", "--check"],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "apt-get install" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_pdf_rejects_unknown_engine(tmp_path):
    with pytest.raises(ValueError, match="engine must be 'pdflatex' or 'lualatex'"):
        build_pdf(tmp_path / "main.tex", tmp_path, [], engine="xelatex")


def test_build_pdf_missing_main_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="main LaTeX file not found"):
        build_pdf(tmp_path / "absent.tex", tmp_path, [])


def test_build_pdf_quotes_latex_error(tmp_path):
    if find_missing_latex():
        pytest.skip("LaTeX is not installed")
    main = tmp_path / "main.tex"
    main.write_text(
        "\\documentclass{article}\n\\begin{document}\n\\noSuchMacro\n\\end{document}\n"
    )
    with pytest.raises(ReportBuildError, match="Undefined control sequence"):
        build_pdf(main, tmp_path / "out", [])


def test_build_pdf_finds_inputs_on_search_path(tmp_path):
    if find_missing_latex():
        pytest.skip("LaTeX is not installed")
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / "macros.tex").write_text("\\newcommand{\\resWord}{found}\n")
    main = tmp_path / "main.tex"
    main.write_text(
        "\\documentclass{article}\n\\input{macros.tex}\n"
        "\\begin{document}\n\\resWord\n\\end{document}\n"
    )
    pdf = build_pdf(main, tmp_path / "out", [generated])
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "found" in text
