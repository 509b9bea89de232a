"""The ablation study of a recipe (``conf/ablation.yaml``): its systems, their runs and their summary.

- ``spec``: the ablation config read and checked: which systems run, with which method and plan, over which seeds;
- ``runs``: each run's small outputs copied into the layout committed with the recipe;
- ``summary``: ``summary.json``, curves, paired comparisons, plots and the RESULTS.md section;
- ``section``: the RESULTS.md section and its captions;
- ``expectations``: what the config says each system should show, checked against the summary.

Entry point: ``python -m lamer.bin.ablation``.
"""
