"""The training entry point that ``ftspec apply`` launches: ``accelerate launch ... -m ftspec.train RUN_DIR``.

One readable file per method (``sft.py``, ``dpo.py``, ``cpt.py``; each method's ``Method.training_entry`` names it),
each a short function that builds a TRL trainer from ``RUN_DIR/plan.json``. What they share: ``job.py`` (the job,
model, tokenizer and data), ``callbacks.py``, ``loop.py`` (train, resume, write ``train_result.json`` and the final
weights) and ``results.py``. Exit codes and file names are the run folder's (``ftspec.runfolder.contract``).
"""
