"""Chat tokenization without torch or transformers: ``chat.ChatTokenizer`` renders a model's chat template as
transformers does and encodes with its tokenizer.json, so lint and plan count what training sees."""
