"""The data pipeline: a spec's datasets read, split, mixed and tokenized into exactly the rows the trainer will see
(``prepare``), with their counts (``prepared``), without a tokenizer where the model is not on this machine
(``untokenized``), and the optimizer-step arithmetic of the Trainer (``steps``)."""
