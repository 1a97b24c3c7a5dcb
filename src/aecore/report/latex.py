"""LaTeX text, macro files, and the PDF build with latexmk.

The report's prose quotes numbers only through macros that :func:`render_macros`
writes. The build runs ``latexmk`` with ``TEXINPUTS`` pointing at the report sources,
the generated files and the collated results. The LaTeX sources therefore name results
by their place under ``results/`` (``tables/training.tex``), not by an absolute path.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DEBIAN_PACKAGES",
    "CONDA_PACKAGES",
    "REQUIRED_STYLES",
    "LatexMissingError",
    "ReportBuildError",
    "latex_escape",
    "format_float",
    "format_scientific",
    "format_percent",
    "format_integer",
    "format_parameter_values",
    "render_macros",
    "write_text_atomic",
    "find_missing_latex",
    "check_latex",
    "build_pdf",
]

#: Debian packages that provide everything the report uses, including the command
#: line tools of the build and of the checks (pdftotext, pdfimages, pdftoppm).
DEBIAN_PACKAGES = (
    "latexmk",
    "texlive-latex-base",
    "texlive-latex-recommended",
    "lmodern",
    "poppler-utils",
)

#: conda-forge packages with pdflatex and latexmk.
CONDA_PACKAGES = ("texlive-core", "latexmk")

#: Style files the preamble loads, each with the Debian package that ships it.
REQUIRED_STYLES = {
    "amsmath.sty": "texlive-latex-base",
    "amssymb.sty": "texlive-base",
    "bm.sty": "texlive-latex-base",
    "graphicx.sty": "texlive-latex-base",
    "geometry.sty": "texlive-latex-base",
    "hyperref.sty": "texlive-latex-base",
    "longtable.sty": "texlive-latex-base",
    "array.sty": "texlive-latex-base",
    "colortbl.sty": "texlive-latex-base",
    "booktabs.sty": "texlive-latex-recommended",
    "caption.sty": "texlive-latex-recommended",
    "etoolbox.sty": "texlive-latex-recommended",
    "fancyvrb.sty": "texlive-latex-recommended",
    "float.sty": "texlive-latex-recommended",
    "microtype.sty": "texlive-latex-recommended",
    "xcolor.sty": "texlive-latex-recommended",
    "lmodern.sty": "lmodern",
}

# Characters with a special meaning in LaTeX text mode and their text-mode forms.
_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_ESCAPE_RE = re.compile("|".join(re.escape(char) for char in _ESCAPES))
_MACRO_NAME_RE = re.compile(r"[A-Za-z]+")

MISSING = "n/a"


class LatexMissingError(RuntimeError):
    """Raised when latexmk, the TeX engine or a style file of the report is missing."""


class ReportBuildError(RuntimeError):
    """Raised when latexmk fails on the report; the message carries the LaTeX error."""


def latex_escape(text: object) -> str:
    """Escape a value for LaTeX text mode.

    Parameters
    ----------
    text : object
        Any value; it is converted with :func:`str` first.

    Returns
    -------
    str
        The text with ``\\ & % $ # _ { } ~ ^ < >`` replaced by commands that print
        them, so names such as ``h75_rho0.01`` or ``50% & more`` typeset as written.
    """
    return _ESCAPE_RE.sub(lambda match: _ESCAPES[match.group(0)], str(text))


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def format_float(value: object, digits: int = 3) -> str:
    """Format a number with ``digits`` decimals, or ``n/a`` when it is missing."""
    if _is_missing(value):
        return MISSING
    return f"{float(value):.{digits}f}"


def format_scientific(value: object, digits: int = 1) -> str:
    """Format a number as LaTeX math (``$3.2 \\times 10^{-10}$``), or ``n/a``."""
    if _is_missing(value):
        return MISSING
    number = float(value)
    if number == 0.0:
        return "$0$"
    if not math.isfinite(number):
        return latex_escape(str(number))
    mantissa, exponent = f"{number:.{digits}e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    if mantissa in ("1", "-1"):
        return f"${mantissa[:-1]}{power}$"
    return rf"${mantissa} \times {power}$"


#: Smallest nonzero magnitude that a list of parameter values shows in decimals.
PLAIN_PARAMETER_MIN = 1e-3


def format_parameter_values(values: Sequence[object]) -> list[str]:
    """Format the values of one model parameter in one style, as LaTeX math.

    When a nonzero value is below ``PLAIN_PARAMETER_MIN`` in magnitude, every
    nonzero value is written as a power of ten (``10^{-4}``, ``2.5 \\times
    10^{-3}``). Otherwise every value is written in decimals (``0.01``, ``3``).
    Zero is ``0`` in both styles. Each number keeps the digits it needs to read
    back exactly.

    Parameters
    ----------
    values : sequence
        Numbers, or None or NaN for a missing value.

    Returns
    -------
    list of str
        One string per value, without ``$`` delimiters, or ``n/a`` for a missing
        value.
    """
    numbers = [None if _is_missing(value) else float(value) for value in values]
    nonzero = [abs(number) for number in numbers if number]
    scientific = bool(nonzero) and min(nonzero) < PLAIN_PARAMETER_MIN
    texts = []
    for number in numbers:
        if number is None:
            texts.append(MISSING)
        elif number == 0.0:
            texts.append("0")
        elif scientific:
            texts.append(_power_of_ten(number))
        elif number.is_integer():
            texts.append(str(int(number)))
        else:
            texts.append(repr(number))
    return texts


def _power_of_ten(number: float) -> str:
    """Write a nonzero number as mantissa times a power of ten, in LaTeX math."""
    # Use the minimum number of mantissa digits that reads back as the same float.
    for digits in range(17):
        text = f"{number:.{digits}e}"
        if float(text) == number:
            break
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    if mantissa in ("1", "-1"):
        return f"{mantissa[:-1]}{power}"
    return rf"{mantissa} \times {power}"


def format_percent(value: object, digits: int = 1) -> str:
    """Format a fraction in [0, 1] as a percentage (``0.4567`` gives ``45.7\\%``)."""
    if _is_missing(value):
        return MISSING
    return f"{100.0 * float(value):.{digits}f}\\%"


def format_integer(value: object) -> str:
    """Format an integer with thin spaces between thousands (``10\\,000``)."""
    if _is_missing(value):
        return MISSING
    return f"{int(round(float(value))):,}".replace(",", r"\,")


def render_macros(macros: Mapping[str, str], flags: Mapping[str, bool]) -> str:
    """Render macro definitions and boolean flags as a LaTeX file.

    Parameters
    ----------
    macros : mapping of str to str
        Macro name (letters only, without the backslash) to its LaTeX body. Bodies
        are inserted as they are, so text from the results must be escaped with
        :func:`latex_escape` before it gets here.
    flags : mapping of str to bool
        Flag name (letters only) to its value. Each flag ``Name`` becomes a TeX
        conditional used as ``\\ifName ... \\else ... \\fi``.

    Returns
    -------
    str
        The file's text: one ``\\newcommand`` per macro and one ``\\newif`` per flag,
        sorted by name.

    Raises
    ------
    ValueError
        If a name contains anything other than ASCII letters, or a flag name does not
        start with ``if``.
    """
    lines = ["% Generated by aecore.report from the run's results. Do not edit.", ""]
    for name in sorted(flags):
        if not name.startswith("if") or not _MACRO_NAME_RE.fullmatch(name):
            raise ValueError(
                f"flag name must be ASCII letters starting with 'if'; got {name!r}"
            )
        state = "true" if flags[name] else "false"
        lines.append(f"\\newif\\{name}\\{name[2:]}{state}")
    lines.append("")
    for name in sorted(macros):
        if not _MACRO_NAME_RE.fullmatch(name):
            raise ValueError(f"macro name must be ASCII letters only; got {name!r}")
        lines.append(f"\\newcommand{{\\{name}}}{{{macros[name]}}}")
    return "\n".join(lines) + "\n"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def find_missing_latex(
    engine: str = "pdflatex", styles: Sequence[str] = tuple(REQUIRED_STYLES)
) -> list[str]:
    """List what the report build needs and this machine lacks.

    Parameters
    ----------
    engine : str
        The TeX engine latexmk runs, ``"pdflatex"`` or ``"lualatex"``.
    styles : sequence of str
        Style files to look up with ``kpsewhich``.

    Returns
    -------
    list of str
        One entry per missing program or style file; empty when all are present.
    """
    missing = [
        f"program {program}"
        for program in ("latexmk", engine, "kpsewhich")
        if shutil.which(program) is None
    ]
    if shutil.which("kpsewhich") is None:
        return missing
    result = subprocess.run(
        ["kpsewhich", *styles], capture_output=True, text=True, check=False
    )
    found = {Path(line).name for line in result.stdout.split()}
    missing.extend(f"style file {name}" for name in styles if name not in found)
    return missing


def _install_hint() -> str:
    return (
        "Install on Debian or Ubuntu: apt-get install "
        + " ".join(DEBIAN_PACKAGES)
        + "; or with conda: conda install -c conda-forge "
        + " ".join(CONDA_PACKAGES)
        + "."
    )


def check_latex(engine: str = "pdflatex") -> None:
    """Raise :class:`LatexMissingError` unless the report can be built here.

    Parameters
    ----------
    engine : str
        The TeX engine latexmk runs, ``"pdflatex"`` or ``"lualatex"``.

    Raises
    ------
    LatexMissingError
        If latexmk, the engine, kpsewhich or a style file of the preamble is missing.
        The message names what is missing and the Debian and conda packages to install.
    """
    missing = find_missing_latex(engine)
    if missing:
        raise LatexMissingError(
            "Cannot build the PDF report: missing "
            + ", ".join(missing)
            + ". "
            + _install_hint()
        )


def _latex_error_excerpt(log_path: Path, lines: int = 6) -> str:
    """Return the first LaTeX error of a log and the lines after it."""
    if not log_path.exists():
        return f"(no LaTeX log at {log_path})"
    text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(text):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+:", line):
            return "\n".join(text[number : number + lines])
    return "\n".join(text[-lines:])


def build_pdf(
    main_tex: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    search_dirs: Sequence[str | os.PathLike[str]],
    *,
    engine: str = "pdflatex",
    log: str | os.PathLike[str] | None = None,
) -> Path:
    """Build a PDF from a LaTeX file with latexmk.

    Parameters
    ----------
    main_tex : path
        The main ``.tex`` file.
    out_dir : path
        Directory for the PDF and latexmk's auxiliary files.
    search_dirs : sequence of paths
        Directories put first on ``TEXINPUTS``, in order, before the main file's
        own directory and the TeX installation's defaults.
    engine : str
        ``"pdflatex"`` (default) or ``"lualatex"``.
    log : path, optional
        File that receives latexmk's output; by default it is discarded after a
        successful build and quoted in the error after a failed one.

    Returns
    -------
    Path
        The built PDF, ``out_dir / (main_tex stem + ".pdf")``.

    Raises
    ------
    ValueError
        If ``engine`` is neither ``"pdflatex"`` nor ``"lualatex"``.
    FileNotFoundError
        If ``main_tex`` does not exist.
    LatexMissingError
        If LaTeX tools or style files are missing (see :func:`check_latex`).
    ReportBuildError
        If latexmk fails; the message quotes the first LaTeX error from the log.
    """
    flags = {"pdflatex": "-pdf", "lualatex": "-lualatex"}
    if engine not in flags:
        raise ValueError(f"engine must be 'pdflatex' or 'lualatex'; got {engine!r}")
    main_tex = Path(main_tex).resolve()
    if not main_tex.is_file():
        raise FileNotFoundError(f"main LaTeX file not found: {main_tex}")
    check_latex(engine)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    dirs = [str(Path(d).resolve()) for d in search_dirs] + [str(main_tex.parent)]
    env = dict(os.environ)
    # The trailing separator keeps the installation's default search path.
    env["TEXINPUTS"] = os.pathsep.join(dirs) + os.pathsep
    # Long log lines unwrapped, so that error messages can be quoted whole.
    env["max_print_line"] = "10000"
    command = [
        "latexmk",
        flags[engine],
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        f"-outdir={out_dir}",
        str(main_tex),
    ]
    result = subprocess.run(
        command,
        cwd=main_tex.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if log is not None:
        write_text_atomic(log, result.stdout + result.stderr)
    pdf = out_dir / f"{main_tex.stem}.pdf"
    if result.returncode != 0 or not pdf.exists():
        excerpt = _latex_error_excerpt(out_dir / f"{main_tex.stem}.log")
        raise ReportBuildError(
            f"latexmk failed on {main_tex} (exit status {result.returncode}). "
            f"First LaTeX error:\n{excerpt}"
        )
    return pdf
