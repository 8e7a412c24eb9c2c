"""The jobs: each module has a ``Params`` model (its task parameters) and ``run(ctx, params)``."""
