"""What a bolus calculator should advise, from its label's equations (Omnipod 5's SmartBolus calculator,
docs/references.md, "The bolus calculator"), stated independently of any pump: the meal's carbohydrate over the
insulin-to-carb ratio, and the glucose's distance from the target over the correction factor; the insulin on board
comes off a correction above the target, and what it leaves over off the meal; a correction below the target (a
reverse correction) comes off the meal; the sum is never below 0. Unrounded: how a pump rounds is its claim. One
insulin on board, the label's correction insulin on board: the suite's bolus is given outside the calculator (the
label's meal insulin on board, of a meal bolus the calculator advised, never comes off a meal; no test gives one)."""


def labelled_dose_U(
    carbs_g: float,
    glucose_mg_dl: float | None,
    iob_U: float,
    carb_ratio_g_per_U: float,
    correction_factor_mg_dl_per_U: float,
    target_mg_dl: float,
) -> float:
    """The unrounded dose; without a glucose the meal bolus alone, with no insulin on board taken off (Omnipod 5
    subtracts it only when the glucose is known)."""
    meal = carbs_g / carb_ratio_g_per_U
    if glucose_mg_dl is None:
        return meal
    correction = (glucose_mg_dl - target_mg_dl) / correction_factor_mg_dl_per_U
    if correction < 0:
        return max(0.0, meal + correction - iob_U)
    return max(0.0, meal + min(0.0, correction - iob_U)) + max(0.0, correction - iob_U)
