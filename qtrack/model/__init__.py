"""Building the QUBO, stage by stage: layers -> doublets -> triplets -> couplers -> qubo.

Each module has one entry point over numpy arrays and a frozen config section
(:func:`~qtrack.model.doublets.build_doublets`, :func:`~qtrack.model.triplets.build_triplets`,
:func:`~qtrack.model.couplers.build_couplers`, :func:`~qtrack.model.qubo.build_qubo`);
:func:`qtrack.build` chains them.
"""
