"""The architecture catalog: every SPEC architecture defined once, built by either engine.

Each entry is an engine-neutral list of layers named and parameterised as in Keras (both
engines use Keras's class names and arguments), plus its family, the seed document that
introduced it, the data set the seed trained it on, and the seed's training set-up as
default hyperparameters. ``build`` turns an entry into a compiled ``scratch_cnn`` or Keras
model; ``check_input_shape`` says, before anything is built, why an entry cannot take an
input shape.

Public interface
----------------
``ARCHITECTURES``                     name -> :class:`Architecture`
``architecture_names()``              the names, in SPEC order
``get_architecture(name)``            the entry; an unknown name lists the known ones
``hyperparameters(name, **overrides)``  the seed's set-up with overrides applied
``layer_specs(name, num_classes, **overrides)``  the resolved engine-neutral layers
``check_input_shape(name, input_shape, num_classes=None)``  list of problems ([] = fits)
``build(name, engine, input_shape, num_classes, **overrides)``  a compiled model

Where the seeds leave a value out, the choice is marked "not stated" next to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENGINES = ("scratch", "keras")
FAMILIES = ("denseNet", "convNet", "LeNet", "VGG")
OPTIMIZERS = ("sgd", "adam")
INITIALIZER_NAMES = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "random_normal",
    "zeros",
)
#: stand-in for the class count in a layer template; replaced by ``num_classes``
NUM_CLASSES = "num_classes"
#: ``build`` keyword arguments that are not hyperparameters
BUILD_OPTIONS = ("seed", "dtype", "device", "compile", "name", "keras_backend")

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
    if key in INITIALIZER_NAMES:
        return key, {}
    raise ValueError(
        f"unknown initializer {text!r}; expected one of {', '.join(INITIALIZER_NAMES)} "
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
    if hp.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer is {hp.optimizer!r}, expected one of {OPTIMIZERS}")
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
        Dense/Conv2D options gain ``kernel_initializer`` (a ``(name, arguments)`` pair from
        :func:`parse_initializer`), ``bias_initializer="zeros"`` and ``l2``; Dropout gets
        its ``rate``.
    """
    arch = get_architecture(name)
    hp = hyperparameters(name, **overrides)
    initializer = parse_initializer(hp.initializer)
    resolved = []
    for spec in arch.layers:
        options = dict(spec.options)
        if spec.class_name in ("Dense", "Conv2D"):
            if options.get("units") == NUM_CLASSES:
                options["units"] = int(num_classes)
            options["kernel_initializer"] = initializer
            options["bias_initializer"] = ("zeros", {})
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


def build(
    name: str,
    engine: str,
    input_shape: Sequence[int],
    num_classes: int,
    **overrides: Any,
) -> Any:
    """Build and compile an architecture for one engine.

    Parameters
    ----------
    name : str
        Catalog name.
    engine : {"scratch", "keras"}
    input_shape : sequence of int
        One sample's shape, e.g. ``(28, 28, 1)``.
    num_classes : int
    **overrides
        Hyperparameters (see :class:`Hyperparameters`; ``None`` keeps the default), and
        ``seed`` (weights and dropout), ``dtype`` ("float32"/"float64"), ``device``
        (scratch only), ``compile`` (default True), ``name`` (the model's name),
        ``keras_backend`` (scratch only: compile with the cross-entropy that Keras computes
        on that backend, see :func:`keras_models.transfer.scratch_crossentropy`; the
        clipped form when omitted).
        ``batch_size`` and ``epochs`` are accepted and validated but are the caller's to use.

    Returns
    -------
    scratch_cnn.Sequential or keras.Sequential
        Compiled with the optimizer and learning rate of the set-up, categorical
        cross-entropy and accuracy.

    Raises
    ------
    UnknownArchitectureError, ArchitectureShapeError, ValueError
    """
    options = {key: overrides.pop(key) for key in BUILD_OPTIONS if key in overrides}
    get_architecture(name)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}.")
    hp = hyperparameters(name, **overrides)
    problems = check_input_shape(name, input_shape, num_classes)
    if problems:
        raise ArchitectureShapeError(name, input_shape, problems)
    specs = layer_specs(name, num_classes, **overrides)
    model_name = options.get("name") or name
    seed = options.get("seed")
    dtype = options.get("dtype", "float32")
    compile_model = bool(options.get("compile", True))
    if engine == "keras":
        if options.get("keras_backend") is not None:
            raise ValueError(
                "keras_backend applies to the scratch engine only; Keras uses the backend "
                "it was imported with."
            )
        if options.get("device") not in (None, "cpu"):
            raise ValueError(
                f"device {options['device']!r} applies to the scratch engine only; Keras "
                "picks its device from its backend."
            )
        from keras_models.builders import build_keras_model

        return build_keras_model(
            specs,
            tuple(input_shape),
            hp,
            name=model_name,
            seed=seed,
            dtype=dtype,
            compile_model=compile_model,
        )
    return build_scratch_model(
        specs,
        tuple(input_shape),
        hp,
        name=model_name,
        seed=seed,
        dtype=dtype,
        device=options.get("device"),
        compile_model=compile_model,
        keras_backend=options.get("keras_backend"),
    )


def build_scratch_model(
    specs: Sequence[LayerSpec],
    input_shape: tuple[int, ...],
    hp: Hyperparameters,
    *,
    name: str,
    seed: int | None = None,
    dtype: str = "float32",
    device: Any = None,
    compile_model: bool = True,
    keras_backend: str | None = None,
) -> Any:
    """Build a ``scratch_cnn.Sequential`` from resolved layer specs.

    Parameters
    ----------
    specs : sequence of LayerSpec
        From :func:`layer_specs`.
    input_shape : tuple of int
    hp : Hyperparameters
    name, seed, dtype, device, compile_model, keras_backend
        As for :func:`build`.

    Returns
    -------
    scratch_cnn.Sequential
    """
    import scratch_cnn as sc

    layers: list[Any] = [sc.Input(input_shape)]
    for spec in specs:
        options = dict(spec.options)
        if spec.class_name in ("Dense", "Conv2D"):
            options["kernel_initializer"] = _scratch_initializer(options["kernel_initializer"])
            options["bias_initializer"] = _scratch_initializer(options["bias_initializer"])
            l2 = options.pop("l2", 0.0)
            options["kernel_regularizer"] = sc.regularizers.L2(l2) if l2 else None
        layers.append(getattr(sc.layers, spec.class_name)(**options))
    model = sc.Sequential(layers, name=name, dtype=dtype, seed=seed, device=device)
    model.build()
    if compile_model:
        loss: Any = "categorical_crossentropy"
        if keras_backend is not None:
            from keras_models.transfer import scratch_crossentropy

            loss = scratch_crossentropy(keras_backend)
        model.compile(optimizer=scratch_optimizer(hp), loss=loss, metrics=["accuracy"])
    return model


def _scratch_initializer(initializer: tuple[str, dict[str, float]]) -> Any:
    import scratch_cnn as sc

    name, arguments = initializer
    if name == "random_normal":
        return sc.initializers.RandomNormal(**arguments)
    return name


def scratch_optimizer(hp: Hyperparameters) -> Any:
    """A fresh scratch_cnn optimizer for a set-up.

    Parameters
    ----------
    hp : Hyperparameters

    Returns
    -------
    scratch_cnn.optimizers.SGD or scratch_cnn.optimizers.Adam
    """
    import scratch_cnn as sc

    if hp.optimizer == "sgd":
        return sc.optimizers.SGD(
            learning_rate=hp.learning_rate, momentum=hp.momentum, nesterov=hp.nesterov
        )
    return sc.optimizers.Adam(
        learning_rate=hp.learning_rate, beta_1=hp.beta_1, beta_2=hp.beta_2, epsilon=hp.epsilon
    )


__all__ = [
    "ARCHITECTURES",
    "ENGINES",
    "NUM_CLASSES",
    "Architecture",
    "ArchitectureShapeError",
    "Hyperparameters",
    "LayerSpec",
    "UnknownArchitectureError",
    "architecture_names",
    "build",
    "build_scratch_model",
    "check_input_shape",
    "get_architecture",
    "hyperparameters",
    "layer_specs",
    "parse_initializer",
    "scratch_optimizer",
]
