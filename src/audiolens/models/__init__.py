"""Model zoo and the architecture-agnostic model contract (see :mod:`audiolens.models.introspect`)."""
