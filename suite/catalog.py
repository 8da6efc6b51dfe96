"""The architecture catalog: every SPEC architecture described once, as plain data.

Each entry is an engine-neutral list of layers named and parameterised as in Keras, plus
its family, the seed document that introduced it, the data set the seed trained it on,
and the seed's training set-up as default hyperparameters. :func:`model_config` resolves
an entry into Keras's own ``Sequential.get_config()`` form and :func:`compile_config`
into a Keras optimizer config; every engine builds from those dicts (``suite.engines``),
so this module imports no engine, neither scratch_cnn nor Keras.

Public interface
----------------
``ARCHITECTURES``                     name -> :class:`Architecture`
``architecture_names()``              the names, in SPEC order
``get_architecture(name)``            the entry; an unknown name lists the known ones
``hyperparameters(name, **overrides)``  the seed's set-up with overrides applied
``layer_specs(name, num_classes, **overrides)``  the resolved engine-neutral layers
``check_input_shape(name, input_shape, num_classes=None)``  list of problems ([] = fits)
``model_config(name, input_shape, num_classes, dtype=, seed=, **overrides)``  Keras-form model
``compile_config(name, **overrides)``  Keras-form optimizer, loss and metrics
``INITIALIZER_CLASSES``, ``OPTIMIZER_CLASSES``, ``DTYPES``  the project's one table of each

Where the seeds leave a value out, the choice is marked "not stated" next to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

FAMILIES = ("denseNet", "convNet", "LeNet", "VGG")

#: stand-in for the class count in a layer template; replaced by ``num_classes``
NUM_CLASSES = "num_classes"

_RANDOM_NORMAL_PATTERN = re.compile(r"^random_normal\(\s*(?:stddev\s*=\s*)?([0-9.eE+-]+)\s*\)$")


class UnknownArchitectureError(KeyError):
    """An architecture name that is not in the catalog; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class ArchitectureShapeError(ValueError):
    """An architecture that cannot take the requested input shape; ``problems`` says why."""

    def __init__(self, name: str, input_shape: Sequence[int], problems: Sequence[str]) -> None:
        self.problems = list(problems)
        details = "; ".join(self.problems)
        super().__init__(
            f"architecture {name!r} cannot take input shape {tuple(input_shape)}: {details}. "
            "Choose a data set with larger images or another architecture."
        )


@dataclass(frozen=True)
class LayerSpec:
    """One engine-neutral layer: a Keras/scratch_cnn class name and its arguments.

    ``options`` use Keras's argument names. In a catalog template the final ``Dense`` has
    ``units=NUM_CLASSES``; ``layer_specs`` resolves it, the initializer, L2 and dropout.
    """

    class_name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``Conv2D(32, 5x5, same, relu)``."""
        o = self.options
        if self.class_name == "Conv2D":
            kh, kw = _pair(o["kernel_size"])
            padding, activation = o.get("padding", "valid"), o.get("activation")
            return f"Conv2D({o['filters']}, {kh}x{kw}, {padding}, {activation})"
        if self.class_name in ("MaxPooling2D", "AveragePooling2D"):
            return (
                f"{self.class_name}({_pair(o.get('pool_size', 2))[0]}, {o.get('padding', 'valid')})"
            )
        if self.class_name == "Dense":
            return f"Dense({o['units']}, {o.get('activation')})"
        if self.class_name == "Dropout":
            return f"Dropout({o.get('rate')})"
        return f"{self.class_name}()"


@dataclass(frozen=True)
class Hyperparameters:
    """A training set-up: what the matrix may override per architecture.

    ``l2`` is Keras's convention, penalty ``l2 * sum(W**2)`` on every kernel.
    ``dropout`` is the rate of the architecture's Dropout layers (unused when it has none).
    ``initializer`` is a Keras name, or ``"random_normal(STD)"`` for ``N(0, STD)``.
    """

    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    initializer: str
    l2: float = 0.0
    dropout: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for results records)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Architecture:
    """One catalog entry.

    Attributes
    ----------
    name, family : str
    source : str
        The seed document (``"000"``...``"003"``) that introduced it.
    reference_dataset : str
        The data set its seed trained it on (what ``cnnbench validate`` uses by default).
    layers : tuple of LayerSpec
        The template (final Dense with ``units=NUM_CLASSES``).
    defaults : Hyperparameters
        The seed's training set-up.
    notes : str
        Where each default comes from.
    """

    name: str
    family: str
    source: str
    reference_dataset: str
    layers: tuple[LayerSpec, ...]
    defaults: Hyperparameters
    notes: str = ""

    @property
    def has_dropout(self) -> bool:
        """Whether any layer is a Dropout."""
        return any(spec.class_name == "Dropout" for spec in self.layers)

    def describe(self) -> str:
        """The layers in one line (Dropout shown with the default rate)."""
        return " ".join(
            f"Dropout({self.defaults.dropout:g})"
            if spec.class_name == "Dropout"
            else spec.describe()
            for spec in self.layers
        )


# -- layer template helpers ---------------------------------------------------------------
def _conv(filters: int, size: int, activation: str, padding: str = "same") -> LayerSpec:
    return LayerSpec(
        "Conv2D",
        {
            "filters": filters,
            "kernel_size": (size, size),
            "strides": (1, 1),
            "padding": padding,
            "activation": activation,
        },
    )


def _max_pool(padding: str = "valid") -> LayerSpec:
    return LayerSpec("MaxPooling2D", {"pool_size": (2, 2), "strides": (2, 2), "padding": padding})


def _dense(units: int | str, activation: str) -> LayerSpec:
    return LayerSpec("Dense", {"units": units, "activation": activation})


_FLATTEN = LayerSpec("Flatten")
_DROPOUT = LayerSpec("Dropout", {"rate": None})  # rate from the hyperparameters
_SOFTMAX_OUTPUT = _dense(NUM_CLASSES, "softmax")


def _conv_pool_stack(filters: Sequence[int], activation: str, pool_padding: str) -> list[LayerSpec]:
    stack: list[LayerSpec] = []
    for count in filters:
        stack += [_conv(count, 3, activation), _max_pool(pool_padding)]
    return stack


_VGG_HEAD = (
    _FLATTEN,
    _dense(2048, "relu"),
    _DROPOUT,
    _dense(2048, "relu"),
    _DROPOUT,
    _SOFTMAX_OUTPUT,
)

# -- the seeds' training set-ups ----------------------------------------------------------
# Seed 000 (Fossheim 2022) trains its own nets with SGD (Sec. IV: "stochastic gradient
# descent is implemented as the optimization algorithm") and gives hyperparameters only as
# the list [epochs, batch_size, eta, lmbd] (Sec. III) without values: learning rate, batch
# size and L2 are not stated; 0.1 / 32 / 0 are our choices (as matrices/quick.toml).
# Its own sigmoid nets use N(0, 1) weights (Sec. III "default scheme ... variance of 1";
# Sec. IV: Xavier did not train, variance 1 did). Its Keras models keep Keras's defaults
# (glorot_uniform, SGD learning rate 0.01, batch 32).
_SEED000_OWN = Hyperparameters(
    optimizer="sgd",
    learning_rate=0.1,  # not stated
    batch_size=32,  # not stated
    epochs=200,  # Sec. IV.A, Fig. 7: convNet1_3 ran 200 epochs on MNIST(8x8)
    initializer="random_normal(1.0)",  # Sec. III default scheme, N(0, 1)
)
_SEED000_KERAS = Hyperparameters(
    optimizer="sgd",  # Sec. IV
    learning_rate=0.01,  # not stated: Keras SGD's default
    batch_size=32,  # not stated: Keras fit's default
    epochs=10,  # Sec. IV.B, Fig. 10: convKeras4_20 validated "after 10 epochs"
    initializer="glorot_uniform",  # Keras's default (the Keras models set none)
)
# Seed 001 (Svalheim & Andersen 2019): Adam (Sec. 4.4) with the paper's betas, batch
# N_b = 128 (Sec. 4.4), He initialisation N(0, sqrt(2/N)) (eqs. 37-39; Keras's he_normal
# is the truncated variant), 10 epochs for its Keras CNN (Sec. 5.6/5.7). Its learning rate
# is not stated: Keras Adam's default 1e-3.
_SEED001 = Hyperparameters(
    optimizer="adam",
    learning_rate=1e-3,  # not stated
    batch_size=128,
    epochs=10,
    initializer="he_normal",
)
# Seed 002 (the NumPy CNN notes), Sec. 3.5 train(): Adam lr 0.01, beta1 0.95, beta2 0.99,
# batch 32, 2 epochs. Its initializeFilter/initializeWeight bodies are not shown: Keras's
# default glorot_uniform.
_SEED002 = Hyperparameters(
    optimizer="adam",
    learning_rate=0.01,
    batch_size=32,
    epochs=2,
    initializer="glorot_uniform",  # not stated
    beta_1=0.95,
    beta_2=0.99,
)
# Seed 003 (von Hacht 2017 thesis), Tables 4.2-4.4: Adam lr 5e-4, beta 0.9/0.999,
# regularization lambda 1e-3, batch 100 (model C: 50), dropout 0.5; He initialisation
# (Sec. 2.6 / A.4: N(0, sqrt(2/n))); 20 epochs for models A and B, 40 for C (Sec. 4.2.4.3).
# The thesis penalty is (lambda/2) sum(w^2) (eq. in Sec. 2.5.1), Keras's is l2 sum(w^2):
# l2 = lambda / 2 = 5e-4. (The thesis applies it as decoupled decay inside Adam; the
# catalog uses the coupled L2 both engines implement.)
_SEED003 = Hyperparameters(
    optimizer="adam",
    learning_rate=5e-4,
    batch_size=100,
    epochs=20,
    initializer="he_normal",
    l2=5e-4,
    dropout=0.5,
)

_ARCHITECTURE_LIST = (
    Architecture(
        "densenet2_20",
        "denseNet",
        "000",
        "digits8x8",
        (_FLATTEN, _dense(20, "sigmoid"), _dense(20, "sigmoid"), _SOFTMAX_OUTPUT),
        _SEED000_OWN,
        "seed 000 Sec. IV.A / Fig. 6: sigmoid, std. normal init, MNIST(8x8); epochs not "
        "stated for it (200 as convNet1_3 on the same data)",
    ),
    Architecture(
        "densenet4_300",
        "denseNet",
        "000",
        "mnist",
        (_FLATTEN, *[_dense(300, "sigmoid")] * 4, _SOFTMAX_OUTPUT),
        replace(_SEED000_OWN, epochs=10),
        "seed 000 Sec. IV.B / Fig. 9 on MNIST; N(0,1) as the seed's own DNNs (Sec. IV); "
        "epochs not stated (10 as its MNIST CNN)",
    ),
    Architecture(
        "dnn_128_128_64",
        "denseNet",
        "001",
        "mnist",
        (_FLATTEN, _dense(128, "relu"), _dense(128, "relu"), _dense(64, "relu"), _SOFTMAX_OUTPUT),
        _SEED001,
        "seed 001 Sec. 4.4 'Specification of the DNN': N_h = (128, 128, 64), ReLU, He init",
    ),
    Architecture(
        "convnet1_3",
        "convNet",
        "000",
        "digits8x8",
        (_conv(3, 3, "sigmoid"), _FLATTEN, _dense(20, "sigmoid"), _SOFTMAX_OUTPUT),
        _SEED000_OWN,
        "seed 000 Sec. IV.A / Fig. 7: three 3x3 filters, dense 20, sigmoid, N(0,1), 200 epochs",
    ),
    Architecture(
        "cnn1_3",
        "convNet",
        "001",
        "mnist",
        (
            _conv(3, 3, "relu"),
            _FLATTEN,
            _dense(128, "relu"),
            _dense(64, "relu"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED001,
        "seed 001 Sec. 4.5 'Specification of the CNN': 3 filters 3x3, zero padding 1, "
        "N_h = (128, 64), ReLU",
    ),
    Architecture(
        "cnn1_32",
        "convNet",
        "001",
        "mnist",
        (
            _conv(32, 3, "relu"),
            _FLATTEN,
            _dense(128, "relu"),
            _dense(64, "relu"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED001,
        "seed 001 Sec. 5.9: the one-conv CNN with 32 filters (run in Keras); set-up as cnn1_3",
    ),
    Architecture(
        "convkeras4_20",
        "convNet",
        "000",
        "mnist",
        (
            *_conv_pool_stack((20, 20), "sigmoid", "valid"),
            _FLATTEN,
            _dense(128, "sigmoid"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED000_KERAS,
        "seed 000 Sec. IV.B / Fig. 10: Keras, two 20-filter 3x3 convs each with max pool, "
        "dense 128, sigmoid, 10 epochs",
    ),
    Architecture(
        "numpy_cnn",
        "convNet",
        "002",
        "mnist",
        (
            _conv(8, 5, "relu", padding="valid"),
            _conv(8, 5, "relu", padding="valid"),
            _max_pool("valid"),
            _FLATTEN,
            _dense(128, "relu"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED002,
        "seed 002 Sec. 3.5 / Fig. 8: f=5, num_filt1=num_filt2=8, no padding, pool 2 stride 2, "
        "dense 128; Adam lr 0.01, betas 0.95/0.99, batch 32, 2 epochs",
    ),
    Architecture(
        "lenet2",
        "LeNet",
        "000",
        "svhn",
        (
            *_conv_pool_stack((32, 32, 64, 120), "tanh", "same"),
            _FLATTEN,
            _dense(128, "tanh"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED000_KERAS,
        "seed 000 Sec. IV.C / Fig. 12: Keras on SVHN, 3x3 filters (32, 32, 64, 120) each with "
        "max pool, dense 128, tanh; epochs not stated",
    ),
    Architecture(
        "lenet5",
        "LeNet",
        "003",
        "cifar10",
        (
            _conv(32, 5, "relu"),
            _max_pool("valid"),
            _conv(64, 5, "relu"),
            _max_pool("valid"),
            _FLATTEN,
            _dense(1024, "relu"),
            _DROPOUT,
            _SOFTMAX_OUTPUT,
        ),
        _SEED003,
        "seed 003 Table 3.3 (model A: 5x5 convs 32/64 padding 2, pool 2 stride 2, FC 1024, "
        "dropout 0.5) and Table 4.2 (lr 5e-4, lambda 1e-3, batch 100)",
    ),
    Architecture(
        "vgg12_32",
        "VGG",
        "000",
        "svhn",
        (
            *_conv_pool_stack((32, 32, 64, 64, 128, 128), "relu", "same"),
            _FLATTEN,
            _dense(128, "relu"),
            _SOFTMAX_OUTPUT,
        ),
        _SEED000_KERAS,
        "seed 000 Sec. IV.C / Fig. 13 (convKeras12_32): six 3x3 convs (32,32,64,64,128,128) "
        "each with max pool, ReLU, on SVHN; epochs not stated",
    ),
    Architecture(
        "vgg_b",
        "VGG",
        "003",
        "cifar10",
        (
            _conv(96, 5, "relu"),
            _max_pool("valid"),
            _conv(192, 5, "relu"),
            _max_pool("valid"),
            *_VGG_HEAD,
        ),
        _SEED003,
        "seed 003 Table 3.4 (model B) and Table 4.3 (lr 5e-4, lambda 1e-3, batch 100, dropout 0.5)",
    ),
    Architecture(
        "vgg_c",
        "VGG",
        "003",
        "cifar10",
        (
            _conv(96, 5, "relu"),
            _conv(96, 5, "relu"),
            _max_pool("valid"),
            _conv(192, 5, "relu"),
            _conv(192, 5, "relu"),
            _max_pool("valid"),
            *_VGG_HEAD,
        ),
        replace(_SEED003, batch_size=50, epochs=40),
        "seed 003 Table 3.5 (model C) and Table 4.4 (batch 50); 40 epochs (Sec. 4.2.4.3)",
    ),
)

#: name -> Architecture, in SPEC order
ARCHITECTURES: dict[str, Architecture] = {arch.name: arch for arch in _ARCHITECTURE_LIST}

_HYPERPARAMETER_NAMES = tuple(f.name for f in fields(Hyperparameters))


def architecture_names() -> list[str]:
    """Names of all catalog architectures, in SPEC order.

    Returns
    -------
    list of str
    """
    return list(ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    """Look up a catalog entry.

    Parameters
    ----------
    name : str

    Returns
    -------
    Architecture

    Raises
    ------
    UnknownArchitectureError
        For a name not in the catalog; the message lists the known names.
    """
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise UnknownArchitectureError(
            f"unknown architecture {name!r}; the catalog knows: {', '.join(ARCHITECTURES)}"
        ) from None


def parse_initializer(text: str) -> tuple[str, dict[str, float]]:
    """Split an initializer string into a Keras name and its arguments.

    Parameters
    ----------
    text : str
        A Keras name (``"he_normal"``...) or ``"random_normal(STD)"``.

    Returns
    -------
    (str, dict)
        e.g. ``("random_normal", {"mean": 0.0, "stddev": 1.0})``.

    Raises
    ------
    ValueError
        For an initializer neither engine knows.
    """
    key = str(text).strip().lower()
    match = _RANDOM_NORMAL_PATTERN.match(key)
    if match:
        stddev = float(match.group(1))
        if not stddev > 0:
            raise ValueError(f"initializer {text!r}: the standard deviation must be > 0.")
        return "random_normal", {"mean": 0.0, "stddev": stddev}
    if key == "random_normal":
        return "random_normal", {"mean": 0.0, "stddev": 0.05}  # Keras's default
    if key in INITIALIZER_CLASSES:
        return key, {}
    raise ValueError(
        f"unknown initializer {text!r}; expected one of {', '.join(INITIALIZER_CLASSES)} "
        "or 'random_normal(STD)'."
    )


def hyperparameters(name: str, **overrides: Any) -> Hyperparameters:
    """The architecture's default set-up with ``overrides`` applied.

    Parameters
    ----------
    name : str
        Catalog name.
    **overrides
        Any :class:`Hyperparameters` field; ``None`` keeps the architecture's default.

    Returns
    -------
    Hyperparameters

    Raises
    ------
    ValueError
        For an unknown key or an out-of-range value (the message names both).
    """
    arch = get_architecture(name)
    unknown = sorted(set(overrides) - set(_HYPERPARAMETER_NAMES))
    if unknown:
        raise ValueError(
            f"unknown hyperparameter(s) {unknown} for {name!r}; accepted: "
            f"{', '.join(_HYPERPARAMETER_NAMES)}."
        )
    given = {key: value for key, value in overrides.items() if value is not None}
    hp = replace(arch.defaults, **given)
    problems = _hyperparameter_problems(hp)
    if problems:
        raise ValueError(f"hyperparameters for {name!r}: " + "; ".join(problems) + ".")
    return hp


def _hyperparameter_problems(hp: Hyperparameters) -> list[str]:
    problems = []
    if hp.optimizer not in OPTIMIZER_CLASSES:
        problems.append(
            f"optimizer is {hp.optimizer!r}, expected one of {tuple(OPTIMIZER_CLASSES)}"
        )
    if not (isinstance(hp.learning_rate, int | float) and hp.learning_rate > 0):
        problems.append(f"learning_rate is {hp.learning_rate!r}, expected a number > 0")
    for key in ("batch_size", "epochs"):
        value = getattr(hp, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{key} is {value!r}, expected an integer >= 1")
    if not (isinstance(hp.l2, int | float) and hp.l2 >= 0):
        problems.append(f"l2 is {hp.l2!r}, expected a number >= 0")
    if not (isinstance(hp.dropout, int | float) and 0 <= hp.dropout < 1):
        problems.append(f"dropout is {hp.dropout!r}, expected a rate in [0, 1)")
    if not (isinstance(hp.momentum, int | float) and 0 <= hp.momentum <= 1):
        problems.append(f"momentum is {hp.momentum!r}, expected a number in [0, 1]")
    try:
        parse_initializer(hp.initializer)
    except ValueError as error:
        problems.append(str(error).rstrip("."))
    return problems


def layer_specs(name: str, num_classes: int, **overrides: Any) -> list[LayerSpec]:
    """The architecture's layers with class count, initializer, L2 and dropout filled in.

    Parameters
    ----------
    name : str
    num_classes : int
        Size of the softmax output.
    **overrides
        Hyperparameter overrides (see :func:`hyperparameters`).

    Returns
    -------
    list of LayerSpec
        Dense/Conv2D options gain ``kernel_initializer`` and ``bias_initializer`` (Keras-form
        configs, unseeded; :func:`model_config` seeds them) and ``l2``; Dropout gets its
        ``rate``.
    """
    arch = get_architecture(name)
    hp = hyperparameters(name, **overrides)
    resolved = []
    for spec in arch.layers:
        options = dict(spec.options)
        if spec.class_name in ("Dense", "Conv2D"):
            if options.get("units") == NUM_CLASSES:
                options["units"] = int(num_classes)
            options["kernel_initializer"] = initializer_config(hp.initializer)
            options["bias_initializer"] = initializer_config("zeros")
            options["l2"] = float(hp.l2)
        elif spec.class_name == "Dropout":
            options["rate"] = float(hp.dropout)
        resolved.append(LayerSpec(spec.class_name, options))
    return resolved


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _window_output(size: int, window: int, stride: int, padding: str) -> int:
    """Keras's output length of a sliding window: valid floor, same ceil(size / stride)."""
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1


def check_input_shape(
    name: str, input_shape: Sequence[int], num_classes: int | None = None
) -> list[str]:
    """Say why an architecture cannot take an input shape, before anything is built.

    Parameters
    ----------
    name : str
        Catalog name.
    input_shape : sequence of int
        One sample's shape, ``(height, width, channels)`` for images.
    num_classes : int, optional
        Checked to be at least 2 when given.

    Returns
    -------
    list of str
        One sentence per problem, naming the layer; empty when the architecture fits.
    """
    arch = get_architecture(name)
    problems: list[str] = []
    shape = tuple(input_shape)
    if num_classes is not None and (int(num_classes) != num_classes or num_classes < 2):
        problems.append(f"num_classes is {num_classes!r}; a softmax classifier needs >= 2")
    if not shape or any(int(size) != size or size < 1 for size in shape):
        return [*problems, f"input shape {shape} must be positive integers"]
    needs_images = any(
        spec.class_name in ("Conv2D", "MaxPooling2D", "AveragePooling2D") for spec in arch.layers
    )
    if needs_images and len(shape) != 3:
        return [
            *problems,
            f"input shape {shape} is not (height, width, channels), which its Conv2D and "
            "pooling layers need",
        ]
    for index, spec in enumerate(arch.layers):
        if spec.class_name == "Flatten":
            shape = (math.prod(shape),)
            continue
        if spec.class_name not in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            continue
        options = spec.options
        window = _pair(options["kernel_size"] if "filters" in options else options["pool_size"])
        strides = _pair(options.get("strides") or window)
        padding = options.get("padding", "valid")
        height, width = shape[0], shape[1]
        if padding == "valid" and (height < window[0] or width < window[1]):
            problems.append(
                f"layer {index} {spec.describe()} needs at least {window[0]}x{window[1]} "
                f"inputs but gets {height}x{width} (input {tuple(input_shape)})"
            )
            return problems
        out_h = _window_output(height, window[0], strides[0], padding)
        out_w = _window_output(width, window[1], strides[1], padding)
        channels = options.get("filters", shape[2])
        shape = (out_h, out_w, channels)
    return problems


#: catalog initializer name -> Keras initializer class name (the project's one table; both
#: engines read Keras-form initializer configs)
INITIALIZER_CLASSES = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "random_normal": "RandomNormal",
    "zeros": "Zeros",
}

#: catalog optimizer name -> (Keras class name, the Hyperparameters fields it takes)
OPTIMIZER_CLASSES = {
    "sgd": ("SGD", ("learning_rate", "momentum", "nesterov")),
    "adam": ("Adam", ("learning_rate", "beta_1", "beta_2", "epsilon")),
}

#: float types a model may be built in
DTYPES = ("float32", "float64")


def initializer_config(text: str, seed: int | None = None) -> dict[str, Any]:
    """A Keras-form initializer config from a catalog initializer string.

    Parameters
    ----------
    text : str
        A Keras name or ``"random_normal(STD)"``.
    seed : int, optional
        Kept in the config (Keras seeds its initializer with it; scratch_cnn draws from
        the model's generator instead).

    Returns
    -------
    dict
        ``{"class_name": ..., "config": {...}}``.
    """
    name, arguments = parse_initializer(text)
    class_name = INITIALIZER_CLASSES[name]
    config: dict[str, Any] = dict(arguments)
    if class_name != "Zeros":
        config["seed"] = seed
    return {"class_name": class_name, "config": config}


def optimizer_config(hp: Hyperparameters) -> dict[str, Any]:
    """The set-up's optimizer as a Keras-form config (``keras.optimizers.get`` takes it).

    Parameters
    ----------
    hp : Hyperparameters

    Returns
    -------
    dict
        ``{"class_name": "SGD" | "Adam", "config": {...}}``.
    """
    class_name, keys = OPTIMIZER_CLASSES[hp.optimizer]
    return {"class_name": class_name, "config": {key: getattr(hp, key) for key in keys}}


def keras_layer_name(class_name: str, used: dict[str, int]) -> str:
    """Per-model layer names as a fresh Keras model gives them (``dense``, ``dense_1``...).

    Keras's own counters are process-wide; per-model names make two runs' records name the
    same weights alike, in both engines.
    """
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", class_name).lower().replace("2_d", "2d")
    count = used.get(base, 0)
    used[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def model_config(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    dtype: str = "float32",
    seed: int | None = None,
    model_name: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The architecture as a ``keras.Sequential.get_config()``-shaped dict.

    Both engines build from it (``scratch_cnn.Sequential.from_config``,
    ``keras.Sequential.from_config``), so an architecture is written down once.

    Parameters
    ----------
    name : str
        Catalog name.
    input_shape : sequence of int
        One sample's shape, e.g. ``(28, 28, 1)``.
    num_classes : int
    dtype : {"float32", "float64"}
    seed : int, optional
        Layer ``i`` gets seed ``seed * 1000 + i`` (initializer or dropout): deterministic
        and distinct per layer.
    model_name : str, optional
        The model's name (the architecture's name when omitted).
    **overrides
        Hyperparameters (see :func:`hyperparameters`).

    Returns
    -------
    dict
        ``{"name", "trainable", "dtype", "layers": [...], "build_input_shape"}``.

    Raises
    ------
    UnknownArchitectureError, ArchitectureShapeError, ValueError
    """
    get_architecture(name)
    if dtype not in DTYPES:
        raise ValueError(f"dtype is {dtype!r}; expected one of {DTYPES}.")
    hp = hyperparameters(name, **overrides)
    problems = check_input_shape(name, input_shape, num_classes)
    if problems:
        raise ArchitectureShapeError(name, input_shape, problems)
    batch_shape = [None, *(int(size) for size in input_shape)]
    layers: list[dict[str, Any]] = [
        _layer_entry(
            "InputLayer", {"batch_shape": batch_shape, "dtype": dtype, "name": "input_layer"}
        )
    ]
    used: dict[str, int] = {}
    for index, spec in enumerate(layer_specs(name, num_classes, **overrides)):
        layer_seed = None if seed is None else int(seed) * 1000 + index
        options = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in spec.options.items()
        }
        if spec.class_name in ("Dense", "Conv2D"):
            options["kernel_initializer"] = initializer_config(hp.initializer, layer_seed)
            options["bias_initializer"] = initializer_config("zeros")
            l2 = options.pop("l2", 0.0)
            options["kernel_regularizer"] = (
                {"class_name": "L2", "config": {"l2": float(l2)}} if l2 else None
            )
        elif spec.class_name == "Dropout":
            options["seed"] = layer_seed
        config = {"name": keras_layer_name(spec.class_name, used), "dtype": dtype, **options}
        layers.append(_layer_entry(spec.class_name, config))
    return {
        "name": model_name or name,
        "trainable": True,
        "dtype": dtype,
        "layers": layers,
        "build_input_shape": batch_shape,
    }


def compile_config(name: str, **overrides: Any) -> dict[str, Any]:
    """What both engines compile with: optimizer config, loss and metrics.

    Parameters
    ----------
    name : str
        Catalog name.
    **overrides
        Hyperparameters (see :func:`hyperparameters`).

    Returns
    -------
    dict
        ``{"optimizer": {...}, "loss": "categorical_crossentropy", "metrics": ["accuracy"]}``.
    """
    return {
        "optimizer": optimizer_config(hyperparameters(name, **overrides)),
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
    }


def _layer_entry(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }


__all__ = [
    "ARCHITECTURES",
    "DTYPES",
    "INITIALIZER_CLASSES",
    "NUM_CLASSES",
    "OPTIMIZER_CLASSES",
    "Architecture",
    "ArchitectureShapeError",
    "Hyperparameters",
    "LayerSpec",
    "UnknownArchitectureError",
    "architecture_names",
    "check_input_shape",
    "compile_config",
    "get_architecture",
    "hyperparameters",
    "initializer_config",
    "keras_layer_name",
    "layer_specs",
    "model_config",
    "optimizer_config",
    "parse_initializer",
]
