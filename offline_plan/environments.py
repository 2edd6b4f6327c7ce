"""The plan's view of the user environments: which environment each profile runs, by digest, when it
was built, its compressed size and its scan summary (settings/environments.py)."""

from __future__ import annotations

from settings import Settings


def _size(compressed_bytes: int | None) -> str:
    return f"{compressed_bytes / 1024**3:.2f} GiB compressed" if compressed_bytes else "size not recorded"


def environment_lines(settings: Settings) -> list[str]:
    user = settings.jupyterhub.user_servers
    slugs: list[str | None] = [p.slug for p in user.profiles] or [None]
    users_of: dict[str, list[str]] = {}
    by_tag: list[str] = []
    for slug in slugs:
        label = slug or "every server"
        environment = settings.environment_of(slug)
        if environment is None:
            profile = next((p for p in user.profiles if p.slug == slug), None)
            image = profile.image if profile is not None and profile.image is not None else user.image
            source = "this stack's ECR repository" if image.from_registry else image.name
            by_tag.append(f"  {label}: image by tag {image.tag} from {source} (not pinned by digest)")
            continue
        users_of.setdefault(environment[0], []).append(label)
    lines = [f"User environments of '{settings.stack}' (jhub-eks:environments):"]
    for name, labels in users_of.items():
        pin = settings.environments[name]
        lines.append(f"  {', '.join(labels)} -> {name}: {pin.repository}@{pin.digest or pin.tag}")
        built = f"built {pin.built}" if pin.built else "build date not recorded"
        lines.append(f"      {built}; {_size(pin.compressed_size_bytes)}; scan: {pin.scan or 'none recorded'}")
    unused = sorted(set(settings.environments) - set(users_of))
    if unused:
        lines.append(f"  pinned, run by no profile: {', '.join(unused)}")
    return lines + by_tag
