"""Regenerate ``paper_lib/data/it92.csv``: International Tables (1992) X-ray form-factor fits.

f(s) = sum_{i=1..4} a_i exp(-b_i s^2) + c, with s = sin(theta)/lambda = |q| / (4 pi) in 1/Angstrom.
The coefficients are read from gemmi (``gemmi.Element(Z).it92``), which carries the published table;
run this only to refresh the file: ``python scripts/make_it92_table.py``.
"""
from pathlib import Path

import gemmi

OUT = Path(__file__).resolve().parents[1] / "paper_lib" / "data" / "it92.csv"


def main() -> None:
    lines = ["Z,symbol,a1,a2,a3,a4,b1,b2,b3,b4,c"]
    for z in range(1, 119):
        element = gemmi.Element(z)
        coef = element.it92
        if coef is None:
            break
        values = coef.get_coefs()
        lines.append(f"{z},{element.name}," + ",".join(f"{v:.7g}" for v in values))
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({len(lines) - 1} elements)")


if __name__ == "__main__":
    main()
