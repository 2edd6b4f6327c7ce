"""The platform's layers, each a function of the settings, the pre-flight's facts and the layers below.

foundation (keys, network) -> cluster (control plane, nodes, add-ons) -> hub (data, identity, registry,
the JupyterHub release) -> operations (detection, alarms, dashboard, budget, backups). A layer imports
components and the layers below it, never one above (tests/test_layers.py reads the imports).
See docs/architecture.md.
"""
