"""What every settings module shares: the strict model base, the one error type, field types and
the small parsers more than one concern needs.

Settings are the bottom layer of the program: this package imports nothing from components/,
policies/, offline_plan/ or hub_config/ (tests/test_settings_structure.py checks it); what it shares with
them lives here or in data/.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from catalog.instance_types import quantity

# The repository's data/ (pinned versions, calendars, tables with their sources).
DATA = Path(__file__).resolve().parent.parent / "data"

PROJECT = "jhub-eks"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip


class SettingsError(Exception):
    """A stack setting is wrong. The message names the key, the problem and the fix.

    Raised before any resource is declared; ``__main__`` turns it into a ``pulumi.RunError``, which
    the Pulumi engine reports as one message without a traceback.
    """


def _ipv4_network(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError) as exc:
        raise ValueError(f"'{value}' is not an IPv4 CIDR block such as 10.40.0.0/16 ({exc})") from None
    except ValueError:
        raise ValueError(
            f"'{value}' has host bits set; use the network address, e.g. {ipaddress.IPv4Network(value, strict=False)}"
        ) from None
    return str(network)


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch Logs retention period; use one of {LOG_RETENTION_DAYS}")
    return value


Cidr = Annotated[str, AfterValidator(_ipv4_network)]
RetentionDays = Annotated[int, AfterValidator(_retention)]
IamRoleArn = Annotated[
    str,
    Field(pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]+$"),
]


class _Model(BaseModel):
    """Strict base: camelCase keys as in the stack file, unknown keys rejected, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class _FieldError(ValueError):
    """A model validator's complaint about one field; `loading._format_errors` prefixes the key path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _cpu_cores(value: Any) -> Any:
    """CPU as Kubernetes writes it (2, 1.5, "500m"), in cores."""
    if isinstance(value, str):
        return float(quantity(value))
    return value


def _memory(value: Any) -> Any:
    """Memory as Kubernetes writes it. A bare decimal suffix (4G) is refused: KubeSpawner reads it as
    GiB and Kubernetes as 10^9 bytes, so a value would not mean what one of them says."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a Kubernetes quantity: write memory as 4Gi or 512Mi")
    text = str(value).strip()
    ambiguous = re.fullmatch(r"(\d+(\.\d+)?)([kKMGTPE])", text)
    if ambiguous:
        number, unit = ambiguous.group(1), ambiguous.group(3).upper()
        raise ValueError(
            f"{text!r} is ambiguous (KubeSpawner reads {unit} as a power of 1024, Kubernetes as a power of 1000); "
            f"write {number}{unit}i"
        )
    quantity(text)  # raises with the forms Kubernetes accepts
    return text


CpuCores = Annotated[float, BeforeValidator(_cpu_cores), Field(gt=0, le=192)]
"""CPU cores: a number or a Kubernetes quantity ("500m")."""
Memory = Annotated[str, BeforeValidator(_memory)]
"""Memory: a Kubernetes quantity in binary units (4Gi, 512Mi) or bytes."""
