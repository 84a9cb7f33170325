"""The studio resource: the backends a film's profile names, built once per process."""

from __future__ import annotations

import dagster as dg

from filmgen_dagster.profiles import DEFAULT_PROFILE, Backends, Profile, build_backends, load_profile


class FilmStudio(dg.ConfigurableResource):
    """Films registered without a profile (e.g. from the UI) use ``default_profile``."""

    default_profile: str = DEFAULT_PROFILE

    def backends(self, profile: str | None = None, device: str | None = None) -> Backends:
        """``device``: the GPU the step leased (gpus.gpu_lease); model backends set to ``auto`` use it."""
        return build_backends(profile or self.default_profile, device)

    def profile(self, ref: str | None = None) -> Profile:
        return load_profile(ref or self.default_profile)
