"""A printable handout for a lesson: the students' pages (each step, its question with boxes to tick
and space to write), then the teacher's pages (notes, timings, what usually happens on each model,
and what to say for each possible answer), starting on a new page. As HTML or PDF.

Every text is escaped: the handout shows lesson words as text, never as markup.

Example::

    >>> from latent.lessons import load_lessons
    >>> html_ = handout_html(load_lessons()["queen-hive"])
    >>> "Which sense will the model put a bare 'queen' nearest?" in html_ or "bare &#x27;queen&#x27;" in html_
    True
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from latent.lessons import Lesson, LessonError
from latent.lessons.words import t

_MD = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*")
FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
         "/usr/share/fonts/dejavu/DejaVuSans.ttf", "/Library/Fonts/Arial Unicode.ttf", "C:/Windows/Fonts/arial.ttf")
# the fifth word is the unit as it reads after a number ("14 minutes", German nouns capitalised: "14 Minuten")
HEADINGS = {
    "en": ("Name: ________________________   Date: ____________", "My prediction", "What the model said",
           "Teacher's pages", "minutes", "What to say", "What usually happens", "Total time", "Question"),
    "de": ("Name: ________________________   Datum: ____________", "Meine Vorhersage", "Was das Modell sagte",
           "Seiten für die Lehrkraft", "Minuten", "Was man sagt", "Was meist passiert", "Gesamtzeit", "Frage"),
    "es": ("Nombre: ______________________   Fecha: ____________", "Mi predicción", "Lo que dijo el modelo",
           "Páginas para el docente", "minutos", "Qué decir", "Qué suele pasar", "Tiempo total", "Pregunta"),
}


def _plain(text: str) -> str:
    """Lesson markdown (bold, italics) as plain text.

    >>> _plain("the **bee** and *which* queen")
    'the bee and which queen'
    """
    return _MD.sub(lambda m: m.group(1) or m.group(2), str(text))


def _h(lang: str) -> tuple:
    return HEADINGS.get(lang, HEADINGS["en"])


def handout_html(lesson: Lesson) -> str:
    name_line, mine, model, teacher, minutes, say, expect, total, question = _h(lesson.lang)
    e = lambda s: html.escape(_plain(s))  # noqa: E731
    out = [f"<!doctype html><html lang='{e(lesson.lang)}'><head><meta charset='utf-8'><title>{e(lesson.title)}</title>",
           "<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;line-height:1.45}"
           ".box{border:1px solid #888;border-radius:4px;height:3.2rem;margin:.3rem 0 1rem}"
           ".opt{display:inline-block;margin-right:1.2rem}.teacher{page-break-before:always;break-before:page}"
           "h2{margin-top:1.6rem}.muted{color:#555}</style></head><body>",
           f"<h1>{e(lesson.title)}</h1><p>{e(lesson.summary)}</p><p>{e(name_line)}</p>"]
    for i, s in enumerate(lesson.steps, start=1):
        out.append(f"<h2>{e(t('step_of', lesson.lang, i=i, n=len(lesson.steps)).capitalize())}</h2><p>{e(s.text)}</p>")
        if s.ask:
            opts = "".join(f"<span class='opt'>&#9744; {e(s.label(o))}</span>" for o in s.options)
            out.append(f"<p><b>{e(question)}:</b> {e(s.ask)}</p><p>{opts}</p>"
                       f"<p>{e(mine)}:</p><div class='box'></div><p>{e(model)}:</p><div class='box'></div>")
    out.append(f"<section class='teacher'><h1>{e(teacher)}: {e(lesson.title)}</h1>"
               f"<p class='muted'>{e(total)}: {lesson.minutes:g} {e(minutes)}</p>")
    for i, s in enumerate(lesson.steps, start=1):
        out.append(f"<h2>{e(t('step_of', lesson.lang, i=i, n=len(lesson.steps)).capitalize())} · {s.minutes:g} "
                   f"{e(minutes)}</h2>")
        if s.notes:
            out.append(f"<p>{e(s.notes)}</p>")
        if s.expect:
            out.append(f"<p><b>{e(expect)}:</b></p><ul>" + "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in s.expect.items())
                       + "</ul>")
        if s.say:
            out.append(f"<p><b>{e(say)}:</b></p><ul>" + "".join(f"<li><b>{e(s.label(o))}</b>: {e(s.say_text(o))}</li>"
                                                                 for o in s.options) + "</ul>")
    out.append("</section></body></html>")
    return "".join(out)


def _font(pdf) -> str:
    for f in FONTS:
        if Path(f).exists():
            pdf.add_font("body", "", f)
            bold = f.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
            pdf.add_font("body", "B", bold if Path(bold).exists() else f)
            return "body"
    return ""


NEARLY_BLANK = 0.2       # a part's last page filled less than this is tightened onto the pages before it
NBSP = "\u00a0"
SCALES = (1.0, 0.94, 0.88, 0.82, 0.76)


def handout_pdf(lesson: Lesson) -> bytes:
    """The same handout as a PDF (A4). Uses a Unicode font where the system has one (DejaVu Sans);
    otherwise Helvetica, with characters outside Latin-1 replaced. Each part (the students' pages, the
    teacher's pages) is set a little tighter where its last page would be nearly blank: a line or two
    that ran over (:func:`pdf_layout`)."""
    return bytes(pdf_layout(lesson)["pdf"].output())


def pdf_layout(lesson: Lesson) -> dict:
    """The handout's PDF laid out: ``pdf`` (an ``FPDF``), ``scale`` (its type and spacing, 1 at full size),
    ``parts`` (per part: its pages and how full its last page is, 0 to 1) and ``lines`` (the text written,
    in order). The first of :data:`SCALES` that leaves no part's last page nearly blank, else the tightest."""
    out = None
    for scale in SCALES:
        out = _render(lesson, scale)
        if all(pages == 1 or full >= NEARLY_BLANK for pages, full in out["parts"]):
            break
    return out


def _render(lesson: Lesson, scale: float) -> dict:
    from fpdf import FPDF  # noqa: PLC0415 - only the handout needs it

    name_line, mine, model, teacher, minutes, say, expect, total, question = _h(lesson.lang)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    family = _font(pdf)
    fix = (lambda s: _plain(s)) if family else (lambda s: _plain(s).encode("latin-1", "replace").decode("latin-1"))
    family = family or "helvetica"
    lines, parts = [], []

    def text(s, size=11, bold=False, gap=2):
        s = fix(s)
        lines.append(s)
        pdf.set_font(family, "B" if bold else "", size * scale)
        pdf.multi_cell(0, size * 0.5 * scale, s, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap * scale)

    def box():
        pdf.rect(pdf.l_margin, pdf.get_y(), pdf.w - pdf.l_margin - pdf.r_margin, 14 * scale)
        pdf.ln(17 * scale)

    def part_ends(first_page):
        usable = pdf.h - pdf.t_margin - pdf.b_margin
        parts.append((pdf.page_no() - first_page + 1, max(0.0, pdf.get_y() - pdf.t_margin) / usable))

    pdf.add_page()
    text(lesson.title, 18, True)
    text(lesson.summary)
    text(name_line, gap=4)
    for i, s in enumerate(lesson.steps, start=1):
        text(t("step_of", lesson.lang, i=i, n=len(lesson.steps)).capitalize(), 13, True)
        text(s.text)
        if s.ask:
            text(f"{question}: {s.ask}", bold=True)
            text("    ".join(f"[  ] {s.label(o)}".replace(" ", NBSP) for o in s.options))    # a box stays with its answer
            text(f"{mine}:", gap=0)
            box()
            text(f"{model}:", gap=0)
            box()
    part_ends(1)
    pdf.add_page()
    first = pdf.page_no()
    text(f"{teacher}: {lesson.title}", 16, True)
    text(f"{total}: {lesson.minutes:g} {minutes}")
    for i, s in enumerate(lesson.steps, start=1):
        text(f"{t('step_of', lesson.lang, i=i, n=len(lesson.steps)).capitalize()} · {s.minutes:g} {minutes}", 13, True)
        if s.notes:
            text(s.notes)
        for k, v in s.expect.items():
            text(f"{expect} ({k}): {v}")
        if s.say:
            text(f"{say}:", bold=True, gap=0)
            for o in s.options:
                text(f"- {s.label(o)}: {s.say_text(o)}", 10, gap=1)
    part_ends(first)
    return {"pdf": pdf, "scale": scale, "parts": parts, "lines": lines}


def write_handout(lesson: Lesson, out: str | Path) -> Path:
    """Write the handout to ``out``: ``.html`` or ``.pdf`` by its suffix."""
    out = Path(out)
    if out.suffix.lower() == ".pdf":
        out.write_bytes(handout_pdf(lesson))
    elif out.suffix.lower() in (".html", ".htm"):
        out.write_text(handout_html(lesson), encoding="utf-8")
    else:
        raise LessonError(f"{out.name}: the handout is written as .html or .pdf.")
    return out
