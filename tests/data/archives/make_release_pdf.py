"""Writes release.pdf, the two-page press release the loading tests read (fpdf2: pip install fpdf2).

Kept so the sample can be made again; the tests read the committed file and do not need fpdf2.
"""

from pathlib import Path

from fpdf import FPDF

PAGE_ONE = [
    "Pressemitteilung",
    "Außenministerium der Beispielrepublik, Referat Ostasien",
    "Der russische Außenminister Sergej Lawrow ist am Mittwoch zu einem zweitägigen Besuch in "
    "Pjöngjang eingetroffen. Er werde Gespräche mit seiner nordkoreanischen Amtskollegin Choe Son Hui "
    "führen, teilte das Ministerium in Moskau mit. Es ist Lawrows erster Besuch in Nordkorea seit 2018.",
    "Die Regierung in Moskau bemüht sich seit Beginn des Krieges gegen die Ukraine um engere "
    "Beziehungen zu Staaten, die den Vereinigten Staaten feindlich gesinnt sind.",
]
PAGE_TWO = [
    "Beobachter werten den Besuch als Vorbereitung einer Reise von Präsident Wladimir Putin nach "
    "Nordkorea. Ein Termin für diese Reise wurde bislang nicht bekannt gegeben.",
    "Für Rückfragen steht die Pressestelle zur Verfügung.",
]


def main() -> None:
    pdf = FPDF()
    pdf.set_title("Lawrow zu Gesprächen in Pjöngjang")
    pdf.set_author("Pressestelle")
    pdf.set_creation_date(__import__("datetime").datetime(2023, 10, 18, 9, 30))
    for page in (PAGE_ONE, PAGE_TWO):
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        for paragraph in page:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(4)
    pdf.output(str(Path(__file__).with_name("release.pdf")))


if __name__ == "__main__":
    main()
