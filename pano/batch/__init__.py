"""``pano-pan batch``: one run per video of a library, resumable, on local worker processes or Ray.

The pieces, in the order a batch uses them: :mod:`~pano.batch.inputs` turns folders, globs and lists
into videos with their mirrored output folders (and a shard's share of them); the
:mod:`~pano.batch.manifest` records each video's state in OUTDIR so a rerun skips what is complete;
:mod:`~pano.batch.job` runs one video (in a worker process or a Ray task); :mod:`~pano.batch.local`
and :mod:`~pano.batch.ray_engine` hand videos to workers; :mod:`~pano.batch.report` writes the CSV
and HTML report; :mod:`~pano.batch.batch` ties them together.
"""
