"""Imaging outcomes: X-ray (Kellgren-Lawrence, joint space width) and MRI cartilage scored
MOAKS-style per subregion (domain.md §3.1, §4).

Pure functions, no database.
"""

# MOAKS cartilage subregions (Hunter 2011): patella, trochlea, central and posterior femur,
# anterior, central and posterior tibia, each medial and lateral.
SUBREGIONS = {
    "pm": "Patella, medial",
    "pl": "Patella, lateral",
    "trm": "Trochlea, medial",
    "trl": "Trochlea, lateral",
    "cmf": "Central medial femur",
    "clf": "Central lateral femur",
    "pmf": "Posterior medial femur",
    "plf": "Posterior lateral femur",
    "amt": "Anterior medial tibia",
    "cmt": "Central medial tibia",
    "pmt": "Posterior medial tibia",
    "alt": "Anterior lateral tibia",
    "clt": "Central lateral tibia",
    "plt": "Posterior lateral tibia",
}
# What is scored in each subregion: area of any cartilage loss and of full-thickness loss
# (grades), and optionally thickness and T2 (quantitative).
SUBREGION_PARTS = {
    "area": "area of cartilage loss",
    "full_thickness": "full-thickness loss",
    "thickness_mm": "cartilage thickness (mm)",
    "t2_ms": "T2 (ms)",
}
AREA_GRADES = {0: "0 none", 1: "1 <10%", 2: "2 10-75%", 3: "3 >75%"}
FULL_THICKNESS_GRADES = {0: "0 none", 1: "1 <10%", 2: "2 10-75%", 3: "3 >75%"}
JSW_MAX_MM = 15


def check_cartilage(scores: dict[str, dict]) -> dict[str, str]:
    """Errors by "<subregion>_<part>" for one MRI's cartilage scores."""
    errors = {}
    for code, label in SUBREGIONS.items():
        s = scores.get(code) or {}
        area, full = s.get("area"), s.get("full_thickness")
        if area is None or full is None:
            continue
        if full > area:
            errors[f"{code}_full_thickness"] = (
                f"{label}: full-thickness loss cannot cover more than the area of any loss."
            )
    return errors


def subregions_with_loss(scores: dict[str, dict]) -> int:
    return sum(1 for s in scores.values() if (s or {}).get("area"))
