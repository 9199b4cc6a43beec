"""The UVA/Padova 2008 type 1 patients that simglucose 0.2.11 ships (10 adolescents, 10 adults, 10 children,
docs/references.md, "Virtual patients"), stepped one minute at a time with the insulin the balance measured.

simglucose's own pump model is bypassed (clip-only, with a units bug): the insulin comes from
the real measurement chain. Its CGM model (AR(1) Johnson-SU noise, clipped 39-600 mg/dL) gives the sensor values.
"""

import functools
import importlib.resources
import types
import warnings
from collections.abc import Callable

import numpy as np

STEP_MIN = 1.0  # the model's own step, 1 min (simglucose's T1DPatient.SAMPLE_TIME, checked as it is loaded)


@functools.cache
def _simglucose() -> types.SimpleNamespace:
    """simglucose's patient, action and sensor, loaded with the first patient: it brings pandas, scipy, gym and
    matplotlib (about a second), which a campaign without a virtual patient never needs."""
    with warnings.catch_warnings():
        # simglucose and its gym 0.9.4 import pkg_resources, which warns on setuptools <= 80.9 (the version the lock
        # pins because later ones removed it: docs/references.md, "Virtual patients").
        warnings.simplefilter("ignore")
        from simglucose.patient.t1dpatient import Action, T1DPatient
        from simglucose.sensor.cgm import CGMSensor
    if T1DPatient.SAMPLE_TIME != STEP_MIN:
        raise RuntimeError(f"simglucose steps its patients by {T1DPatient.SAMPLE_TIME} min, this adapter by {STEP_MIN}")
    return types.SimpleNamespace(Action=Action, T1DPatient=T1DPatient, CGMSensor=CGMSensor)


def _params_csv(name: str):
    """One of simglucose's parameter tables, a pandas DataFrame (read from the open resource: pandas takes a file,
    not a resource)."""
    import pandas as pd

    _simglucose()
    with (importlib.resources.files("simglucose") / "params" / name).open("rb") as file:
        return pd.read_csv(file)


def sensor_names() -> tuple[str, ...]:
    return tuple(_params_csv("sensor_params.csv").Name)


class UnknownPatient(ValueError):
    pass


def _model_of(p: types.SimpleNamespace) -> Callable[..., np.ndarray]:
    """simglucose 0.2.11's T1DPatient.model for the parameters `p`: the same operations in the same order on Python
    floats instead of numpy scalars, the parameters read once into the closure instead of from a pandas Series on
    every call, and without its debug message formatted on every call of a bolus: the same numbers to the last bit
    (tests/unit/test_virtual_patient.py compares every minute), about five times as fast. The ODE solver calls it
    about 18 times a model minute, most of a closed loop's time. Built again whenever a parameter changes."""
    BW, b, d_, f, kabs, kmax, kmin = p.BW, p.b, p.d, p.f, p.kabs, p.kmax, p.kmin
    kp1, kp2, kp3, Fsnc, ke1, ke2, k1, k2 = p.kp1, p.kp2, p.kp3, p.Fsnc, p.ke1, p.ke2, p.k1, p.k2
    Vm0, Vmx, Km0, m1, m2, m4, m30, ka1, ka2 = p.Vm0, p.Vmx, p.Km0, p.m1, p.m2, p.m4, p.m30, p.ka1, p.ka2
    Vi, p2u, Ib, ki, kd, ksc = p.Vi, p.p2u, p.Ib, p.ki, p.kd, p.ksc
    array, tanh = np.array, np.tanh

    def model(t, x, action, params, last_Qsto, last_foodtaken):
        x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12 = x.tolist()
        d = action.CHO * 1000
        insulin = action.insulin * 6000 / BW
        qsto = x0 + x1
        Dbar = last_Qsto + last_foodtaken * 1000
        dx0 = -kmax * x0 + d
        if Dbar > 0:
            aa = 5 / (2 * Dbar * (1 - b))
            cc = 5 / (2 * Dbar * d_)
            kgut = kmin + (kmax - kmin) / 2 * (tanh(aa * (qsto - b * Dbar)) - tanh(cc * (qsto - d_ * Dbar)) + 2)
        else:
            kgut = kmax
        dx1 = kmax * x0 - x1 * kgut
        dx2 = kgut * x1 - kabs * x2
        Rat = f * kabs * x2 / BW
        EGPt = kp1 - kp2 * x3 - kp3 * x8
        Uiit = Fsnc
        Et = ke1 * (x3 - ke2) if x3 > ke2 else 0
        dx3 = max(EGPt, 0) + Rat - Uiit - Et - k1 * x3 + k2 * x4
        dx3 = (x3 >= 0) * dx3
        Vmt = Vm0 + Vmx * x6
        Kmt = Km0
        Uidt = Vmt * x4 / (Kmt + x4)
        dx4 = -Uidt + k1 * x3 - k2 * x4
        dx4 = (x4 >= 0) * dx4
        dx5 = -(m2 + m4) * x5 + m1 * x9 + ka1 * x10 + ka2 * x11
        It = x5 / Vi
        dx5 = (x5 >= 0) * dx5
        dx6 = -p2u * x6 + p2u * (It - Ib)
        dx7 = -ki * (x7 - It)
        dx8 = -ki * (x8 - x7)
        dx9 = -(m1 + m30) * x9 + m2 * x5
        dx9 = (x9 >= 0) * dx9
        dx10 = insulin - (ka1 + kd) * x10
        dx10 = (x10 >= 0) * dx10
        dx11 = kd * x10 - ka2 * x11
        dx11 = (x11 >= 0) * dx11
        dx12 = -ksc * x12 + ksc * x3
        dx12 = (x12 >= 0) * dx12
        return array([dx0, dx1, dx2, dx3, dx4, dx5, dx6, dx7, dx8, dx9, dx10, dx11, dx12])

    return model


def patient_names() -> list[str]:
    return list(_params_csv("vpatient_params.csv").Name)


class VirtualPatient:
    """One patient and its CGM sensor. `step(insulin_U)` advances the model by one minute with that much insulin
    (as a constant rate over the minute); `cgm()` reads the sensor at its sample instants."""

    def __init__(self, name: str, sensor: str = "GuardianRT", seed: int = 1):
        if name not in patient_names():
            raise UnknownPatient(f"no virtual patient '{name}' (simglucose ships {', '.join(patient_names())})")
        if sensor not in (sensors := sensor_names()):
            raise UnknownPatient(f"no CGM sensor model '{sensor}' (simglucose ships {', '.join(sensors)})")
        simglucose = _simglucose()
        self.name = name
        self._model = simglucose.T1DPatient.withName(name)
        # The parameters as a plain namespace: the ODE right-hand side reads them as attributes on every call,
        # and a pandas Series makes that 10x slower; the values, and so the results, are the same (unit test).
        self._model._params = types.SimpleNamespace(**self._model._params.to_dict())
        self._model._odesolver.f = _model_of(self._model._params)  # the same right-hand side, faster
        self._sensor = simglucose.CGMSensor.withName(sensor, seed=seed)
        self._action = simglucose.Action
        quest = _params_csv("Quest.csv").set_index("Name").loc[name]
        assert quest.ndim == 1  # one row: the table names each patient once
        self.correction_factor_mg_dl_per_U = float(quest.CF)
        self.carb_ratio_g_per_U = float(quest.CR)
        self.total_daily_insulin_U = float(quest.TDI)

    @property
    def params(self) -> types.SimpleNamespace:
        """The model's parameters, read (scale_insulin_sensitivity changes them: the right-hand side holds them)."""
        return self._model._params

    @property
    def basal_U_per_h(self) -> float:
        """The basal that holds the patient at its steady state (u2ss, pmol/kg/min, to U/h)."""
        return self.params.u2ss * self.params.BW / 6000.0 * 60.0

    @property
    def t_min(self) -> float:
        return float(self._model.t)

    @property
    def glucose_mg_dl(self) -> float:
        """Subcutaneous glucose, the quantity the CGM measures (simglucose's BG observation)."""
        return float(self._model.observation.Gsub)

    @property
    def cgm_interval_min(self) -> float:
        return float(self._sensor.sample_time)

    def scale_insulin_sensitivity(self, factor: float) -> None:
        """Insulin-dependent glucose utilisation (Vmx) and insulin suppression of glucose production (kp3) times
        factor: the two insulin-sensitivity parameters of the 2008 model."""
        self.params.Vmx *= factor
        self.params.kp3 *= factor
        self._model._odesolver.f = _model_of(self.params)

    def step(self, insulin_U: float, carbs_g: float = 0.0) -> None:
        self._model.step(self._action(CHO=carbs_g / STEP_MIN, insulin=insulin_U / STEP_MIN))

    def cgm(self) -> float:
        """The sensor value now; only defined at the sensor's sample instants."""
        if self.t_min % self._sensor.sample_time:
            raise ValueError(
                f"{self._sensor.name} samples every {self.cgm_interval_min:g} min, not at {self.t_min:g} min"
            )
        return float(self._sensor.measure(self._model))
