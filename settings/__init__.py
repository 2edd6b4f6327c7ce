"""Stack settings: every Pulumi config key this program reads, as one strict, typed model.

The model is validated before any resource is declared. Anything wrong (an unknown key, a malformed
CIDR, a prod stack without OAuth, a secret set in plain text) stops the run with one message that
names each key, says what is wrong and how to fix it — never a traceback.

Layout of a stack file (``stacks/Pulumi.<stack>.yaml``)::

    config:
      aws:region: eu-west-1
      jhub-eks:environment: prod
      jhub-eks:network: {vpcCidr: ..., availabilityZones: [...], ...}
      jhub-eks:cluster: {...}
      jhub-eks:nodeGroups: {core: {...}, user: {...}}
      jhub-eks:encryption: {...}
      jhub-eks:data: {...}
      jhub-eks:jupyterhub: {...}
      # secrets, set with `pulumi config set --secret <key> <value>`:
      jhub-eks:oauthClientId: {secure: ...}
      jhub-eks:oauthClientSecret: {secure: ...}

One module per concern, in the order of the platform's layers:

- ``base``: the strict model base, ``SettingsError``, field types and shared parsers;
- ``network``, ``cluster`` (control plane, autoscaler, add-on pins), ``nodes`` (node groups, GPU pool);
- ``data`` (keys, bucket, backup, registry), ``login`` and ``hub`` (JupyterHub and its user servers);
- ``operations`` (detection, alarms, cost, incident);
- ``root``: the one root model ``Settings`` and the checks that span concerns;
- ``loading``: Pulumi config in, validated settings or one readable error out.

Settings are the bottom layer: nothing here imports from components/, policies/, offline_plan/ or
hub_config/ (tests/test_settings_structure.py). The reference in ``docs/settings.md`` is generated
from the model (``python -m maintenance.settings_doc``) and a test fails when the two differ.

This module re-exports the names the rest of the repository imports, so they import ``settings``.
"""

from settings.base import PROJECT, SettingsError, version_key
from settings.cluster import ADDON_VERSIONS, AUTOSCALER_CHARTS, USER_SCHEDULER_IMAGE_TAGS, addon_pin_problem
from settings.hub import ImageSettings, JupyterHubSettings
from settings.loading import load_settings, parse_settings
from settings.login import OPENING_TRAITS, opening_traits
from settings.network import KUBERNETES_SERVICE_CIDR, NetworkSettings
from settings.nodes import GPU_FAMILIES, NVIDIA_AMI_TYPE, STANDARD_AMI_TYPE, NodeGroupSettings
from settings.operations import AlarmSettings
from settings.root import SECRET_KEYS, Settings

__all__ = [
    "ADDON_VERSIONS",
    "AUTOSCALER_CHARTS",
    "GPU_FAMILIES",
    "KUBERNETES_SERVICE_CIDR",
    "NVIDIA_AMI_TYPE",
    "OPENING_TRAITS",
    "PROJECT",
    "SECRET_KEYS",
    "STANDARD_AMI_TYPE",
    "USER_SCHEDULER_IMAGE_TAGS",
    "AlarmSettings",
    "ImageSettings",
    "JupyterHubSettings",
    "NetworkSettings",
    "NodeGroupSettings",
    "Settings",
    "SettingsError",
    "addon_pin_problem",
    "load_settings",
    "opening_traits",
    "parse_settings",
    "version_key",
]
