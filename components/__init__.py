"""Pulumi components of the JupyterHub-on-EKS platform, one concern per module.

Components take typed args and expose outputs; none reads Pulumi config (see the ``settings`` package).
"""
