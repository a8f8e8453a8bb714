"""The ``feesim`` command line (:func:`feesim.surfaces.cli.main.main`)."""
