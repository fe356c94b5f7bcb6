"""Published peak-memory (and, where stated, time) measurements of real fine-tuning runs.

Research data for validating ftspec's cost model (ftspec/plan/estimate.py). Every row was copied from a file
or page that was read; ``quote`` holds the exact text (table row / comment) it comes from. Nothing here
imports ftspec.

Conventions
- ``memory`` is PER GPU in ``unit`` (as the source states it; "GB?" = the source writes "G"/"GB" without saying
  whether it means 10^9 or 2^30). Where a source states a total over several GPUs, ``memory`` is that total
  divided by ``gpus`` and ``memory_all_gpus`` keeps the stated total.
- ``kind``: "memory" (a measured figure), "fits" (the source only says the run needs / runs on cards of
  ``memory`` ``unit``), "oom" (the source reports out-of-memory on ``gpu``).
- ``seq_len``: tokens per sample the run was configured for (max length). ``packed`` True = packed to that
  length (every sample is full); False with ``padded`` True = padded to that length; False/False = the cap
  only, real samples can be shorter (``typical_len`` notes it when the dataset is known to be short).
- ``assumed``: the fields that the source does not state and were filled in from the framework's defaults or
  by judgement. ``config``: architecture numbers for models ftspec's catalogue does not know, with their source.
- Rows are listed in the order they were found (``order``). HELD_BACK = every 4th row in that order
  (order % 4 == 3), fixed before any prediction was looked at; VALIDATION = the rest.
"""

SOURCES = {
    "qwen1_readme": {
        "title": "QwenLM/Qwen README, 'Profiling of Memory and Speed' (finetuning)",
        "where": "github.com/QwenLM/Qwen README.md (section 'Profiling of Memory and Speed'); scripts finetune/*.sh, finetune.py",
        "commit": "2df8e8ac450fa185c421a08b0090ef81826caa6e",
        "measures": "'memory (GB) and speed (s/iter)'; single A100-SXM4-80G unless stated, CUDA 11.8, PyTorch 2.0, "
                    "flash-attention 2, batch 1 x grad-accum 8. Multi-GPU rows are the SUM over GPUs (7B full on 2 GPUs "
                    "reads 162.0G, more than one 80 GB card). Unit written 'G'; tool not stated (nvidia-smi-like).",
    },
    "litgpt_config_hub": {
        "title": "Lightning-AI/litgpt config_hub/finetune/README.md performance table",
        "where": "github.com/Lightning-AI/litgpt config_hub/finetune/README.md + config_hub/finetune/<model>/<method>.yaml",
        "commit": "00af8b0d9b43eaa3f8c812e3e8bd53ef38cbb49d (last commit touching the table, 'Llama 3.2 weights'); "
                  "read at HEAD 26857050fe3ff627cd714fe92f5838f51a3d5efa",
        "measures": "'Peak memory' in GB; at 00af8b0d litgpt/finetune/lora.py prints torch.cuda.max_memory_allocated()/1e9 "
                    "('Memory used: ... GB'), i.e. allocated, 10^9 bytes. 'Training runtime' = whole run (epochs column) "
                    "on Alpaca2k, A10G (24 GB). bf16-true precision.",
    },
    "peft_docs_deepspeed": {
        "title": "huggingface/peft docs: 'DeepSpeed' guide (Llama-2-70B LoRA ZeRO-3 8xH100; QLoRA ZeRO-3 2 GPUs)",
        "where": "github.com/huggingface/peft docs/source/accelerate/deepspeed.md (https://huggingface.co/docs/peft/accelerate/deepspeed)",
        "commit": "781cac4673a49b508fa1ba38a4a3f39448008bf0 (last change; read at HEAD 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40)",
        "measures": "'memory consumed per GPU' read off a GPU monitor screenshot (device-level, nvidia-smi-like), GB",
    },
    "peft_docs_fsdp": {
        "title": "huggingface/peft docs: 'FSDP' guide (Llama-2-70B LoRA FSDP 8xH100; QLoRA FSDP 2x24GB)",
        "where": "github.com/huggingface/peft docs/source/accelerate/fsdp.md (https://huggingface.co/docs/peft/accelerate/fsdp)",
        "commit": "781cac4673a49b508fa1ba38a4a3f39448008bf0 (read at HEAD 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40)",
        "measures": "'memory consumed per GPU' (device-level, from a GPU monitor), GB",
    },
    "ms_swift_examples": {
        "title": "modelscope/ms-swift example scripts: first-line comments stating GPU memory (and speed)",
        "where": "github.com/modelscope/ms-swift examples/train/**.sh, examples/megatron/benchmark/deepspeed.sh",
        "commit": "d0c71e48c (last change of the scripts read; read at HEAD 3602360a562313afbf2ef6065fdf61f271a2c5b9)",
        "measures": "'N * X GiB' per GPU; ms-swift logs 'memory(GiB)' = torch.cuda.max_memory_reserved()/2^30 "
                    "(swift/utils/torch_utils.py), which the comments presumably copy (not stated). A few comments "
                    "say GB. s/it = seconds per optimizer step.",
    },
    "ms_swift_megatron_benchmark": {
        "title": "ms-swift docs Megatron-SWIFT Quick-start, 'Benchmark' (Qwen2.5-14B full, 8K, 8xA800)",
        "where": "github.com/modelscope/ms-swift docs/source_en/Megatron-SWIFT/Quick-start.md (## Benchmark); "
                 "script examples/megatron/benchmark/deepspeed.sh",
        "commit": "8d86f2444e411ef461c4a343ba4415703eb6dc67",
        "measures": "'GPU Memory Usage' per GPU as '8*NGB'; 'Training Speed' s/it",
    },
    "unsloth_blog_llama33": {
        "title": "Unsloth blog 'Fine-tune Llama 3.3 with Unsloth' - max context length table (70B)",
        "where": "https://unsloth.ai/blog/llama3-3 (same table in docs.unsloth.ai/basics/unsloth-benchmarks)",
        "commit": None,
        "measures": "longest padded sequence that fits a GPU VRAM budget ('GPU VRAM' 48 / 80 GB; tested on an 80GB A100), "
                    "QLoRA 4-bit all linear layers r=32, batch 1; 'OOM' = nothing fits",
    },
}

# --- architectures the catalogue lacks (from published config.json values; source in each) -------------------
_CFG_QWEN1_14B = dict(
    model_type="qwen", hidden_size=5120, intermediate_size=27392, num_hidden_layers=40, num_attention_heads=40,
    num_key_value_heads=40, kv_channels=128, vocab_size=152064, tie_word_embeddings=False,
    _source="HTML table of LLM configs linking huggingface.co/Qwen/Qwen-14B/blob/main/config.json (find_string id "
            "5379367949): layers 40, hidden 5120, intermediate 27392, heads 40, kv 40, vocab 152064, tied False; "
            "same numbers in a GenZ-style ModelConfig file (id 228514887). Qwen-1 'intermediate_size' is 2x each of w1/w2.")
_CFG_QWEN1_72B = dict(
    model_type="qwen", hidden_size=8192, intermediate_size=49152, num_hidden_layers=80, num_attention_heads=64,
    num_key_value_heads=64, kv_channels=128, vocab_size=152064, tie_word_embeddings=False,
    _source="same table (id 5379367949) linking huggingface.co/Qwen/Qwen-72B/blob/main/config.json: layers 80, hidden "
            "8192, intermediate 49152, heads 64, kv 64, vocab 152064, tied False (file id 228514887 says kv 40, "
            "a typo: Qwen-1 is MHA)")
_CFG_LLAMA2_7B = dict(
    model_type="llama", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=32, vocab_size=32000, tie_word_embeddings=False,
    _source="litgpt/config.py 'Llama-2-7b{}-hf' (vocab 32000, n_layer 32, intermediate 11008; n_embd 4096 / n_head 32 "
            "are litgpt Config defaults), comment cites huggingface.co/meta-llama/Llama-2-7b-hf config.json")
_CFG_LLAMA2_70B = dict(
    model_type="llama", hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
    num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False,
    _source="litgpt/config.py 'Llama-2-70b{}-hf': vocab 32000, n_layer 80, n_head 64, n_embd 8192, n_query_groups 8, "
            "intermediate 28672")
_CFG_MISTRAL_7B_V02 = dict(
    model_type="mistral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False,
    _source="litgpt/config.py 'Mistral-7B-v0.2' (cites huggingface.co/unsloth/mistral-7b-v0.2 config.json): "
            "padded_vocab 32000, n_layer 32, n_query_groups 8, intermediate 14336; n_embd 4096 / n_head 32 defaults")
_CFG_TINYLLAMA = dict(
    model_type="llama", hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
    num_key_value_heads=4, vocab_size=32000, tie_word_embeddings=False,
    _source="litgpt/config.py 'tiny-llama-1.1b' (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T): n_layer 22, "
            "n_head 32, n_embd 2048, n_query_groups 4, intermediate 5632, vocab 32000")

_DEFAULTS = dict(
    method="lora", rank=None, targets=None, micro_batch=1, grad_accum=None, seq_len=None, packed=False,
    padded=False, typical_len=None, checkpointing=True, attention="sdpa", loss="hf", optimizer="adamw",
    precision="bf16", distributed="none", gpus=1, gpu=None, kind="memory", memory=None, unit="GB",
    measures=None, memory_all_gpus=None, time=None, time_unit=None, tokens_per_step=None, config=None,
    assumed=(), note=None,
)


def _row(**kw):
    row = dict(_DEFAULTS)
    unknown = set(kw) - set(_DEFAULTS) - {"source", "label", "model", "quote", "order"}
    if unknown:
        raise KeyError(f"unknown row fields {sorted(unknown)}")
    row.update(kw)
    row["assumed"] = list(row["assumed"])
    return row


_ALL = []


def _add(base=None, **kw):
    """Append a row: ``base`` holds a source's common setup, keyword arguments override it."""
    merged = {**(base or {}), **kw}
    merged["order"] = len(_ALL)
    _ALL.append(_row(**merged))


# ============================ QwenLM/Qwen README (Qwen-1) =====================================================
# Common setup (README + finetune.py/finetune/*.sh): A100-SXM4-80G, bs 1 x GA 8, flash-attention 2, LoRA r=64 on
# c_attn, c_proj, w1, w2 (= every Linear in the blocks), gradient checkpointing on, inputs padded to the stated
# length (finetune.py pads to model_max_length). LoRA: --bf16 True, no DeepSpeed on 1 GPU; Q-LoRA: GPTQ-Int4 chat
# model, --fp16, DeepSpeed ZeRO-2 even on one GPU; full: finetune_ds.sh, DeepSpeed ZeRO-3, --bf16.
_Q = dict(source="qwen1_readme", rank=64, targets="all-linear", micro_batch=1, grad_accum=8, padded=True,
          checkpointing=True, attention="flash_attention_2", loss="hf", optimizer="adamw", gpu="a100-80gb",
          unit="GB?", measures="peak GPU memory 'G' per run (sum over GPUs where >1); tool not stated",
          time_unit="s/it", assumed=["loss", "unit", "measures"])

_add(_Q, label="qwen1-7b-lora-4096", model="Qwen/Qwen-7B", method="lora", seq_len=4096, precision="bf16",
     memory=29.7, time=10.1,
     quote="<th rowspan=\"5\">7B</th> <td>LoRA</td> <td>1</td><td>1</td> ... <td align=\"center\">29.7G / 10.1s/it</td> (4096 column)")
_add(_Q, label="qwen1-7b-qlora-4096", model="Qwen/Qwen-7B-Chat-Int4", method="qlora", seq_len=4096,
     precision="fp16", distributed="zero2", memory=16.9, time=11.6,
     note="base is GPTQ int4 (not bitsandbytes NF4); fp16 AMP via DeepSpeed; predictions model it as NF4 QLoRA on Qwen-7B",
     quote="<td>Q-LoRA</td> <td>1</td><td>1</td> ... <td align=\"center\">16.9G / 11.6s/it</td> (7B, 4096 column)")
_add(_Q, label="qwen1-1.8b-lora-8192", model="Qwen/Qwen-1_8B", method="lora", seq_len=8192, precision="bf16",
     memory=21.8, time=6.8,
     quote="<th rowspan=\"4\">1.8B</th><td>LoRA</td> ... <td align=\"center\">16.2G / 3.3s/it</td><td align=\"center\">21.8G / 6.8s/it</td>")
_add(_Q, label="qwen1-1.8b-qlora-8192", model="Qwen/Qwen-1_8B-Chat-Int4", method="qlora", seq_len=8192,
     precision="fp16", distributed="zero2", memory=15.8, time=6.5, note="GPTQ int4 base",
     quote="<td>Q-LoRA</td> ... <td align=\"center\">10.2G / 3.4s/it</td><td align=\"center\">15.8G / 6.5s/it</td> (1.8B)")
_add(_Q, label="qwen1-1.8b-qlora-2048", model="Qwen/Qwen-1_8B-Chat-Int4", method="qlora", seq_len=2048,
     precision="fp16", distributed="zero2", memory=7.8, time=2.0, note="GPTQ int4 base",
     quote="<td>Q-LoRA</td> <td>1</td><td>1</td> <td align=\"center\">5.8G / 1.4s/it</td><td align=\"center\">6.0G / 1.4s/it</td><td align=\"center\">6.6G / 1.4s/it</td><td align=\"center\">7.8G / 2.0s/it</td> (1.8B)")
_add(_Q, label="qwen1-1.8b-full-8192", model="Qwen/Qwen-1_8B", method="full", rank=None, targets=None,
     seq_len=8192, precision="bf16-mixed", distributed="zero3", memory=48.3, time=5.6,
     note="finetune_ds.sh: DeepSpeed ZeRO-3 on 1 GPU, DeepSpeed AdamW with fp32 master + moments; GA 8 per README (script says 16)",
     quote="<td>Full-parameter</td> <td>1</td><td>1</td> <td align=\"center\">43.5G / 2.1s/it</td>...<td align=\"center\">47.1G / 2.8s/it</td><td align=\"center\">48.3G / 5.6s/it</td>")
_add(_Q, label="qwen1-1.8b-full-4096", model="Qwen/Qwen-1_8B", method="full", rank=None, targets=None,
     seq_len=4096, precision="bf16-mixed", distributed="zero3", memory=47.1, time=2.8,
     quote="<td>Full-parameter</td> <td>1</td><td>1</td> ... <td align=\"center\">47.1G / 2.8s/it</td> (1.8B, 4096 column)")
_add(_Q, label="qwen1-14b-lora-2048", model="Qwen/Qwen-14B", method="lora", seq_len=2048, precision="bf16",
     memory=37.4, time=8.4, config=_CFG_QWEN1_14B,
     quote="<th rowspan=\"3\">14B</th> <td>LoRA</td> ... <td align=\"center\">37.4G / 8.4s/it</td> (2048 column)")
_add(_Q, label="qwen1-14b-lora-8192", model="Qwen/Qwen-14B", method="lora", seq_len=8192, precision="bf16",
     memory=55.2, time=36.0, config=_CFG_QWEN1_14B,
     quote="<td>LoRA</td> ... <td align=\"center\">42.5G / 17.0s/it</td><td align=\"center\">55.2G / 36.0s/it</td> (14B)")
_add(_Q, label="qwen1-14b-qlora-2048", model="Qwen/Qwen-14B-Chat-Int4", method="qlora", seq_len=2048,
     precision="fp16", distributed="zero2", memory=19.9, time=11.8, config=_CFG_QWEN1_14B, note="GPTQ int4 base",
     quote="<td>Q-LoRA</td> ... <td align=\"center\">19.9G / 11.8s/it</td> (14B, 2048 column)")
_add(_Q, label="qwen1-14b-qlora-8192", model="Qwen/Qwen-14B-Chat-Int4", method="qlora", seq_len=8192,
     precision="fp16", distributed="zero2", memory=27.9, time=38.3, config=_CFG_QWEN1_14B, note="GPTQ int4 base",
     quote="<td>Q-LoRA</td> ... <td align=\"center\">23.0G / 20.1s/it</td><td align=\"center\">27.9G / 38.3s/it</td> (14B)")
_add(_Q, label="qwen1-72b-lora-zero3-4gpu-2048", model="Qwen/Qwen-72B", method="lora", seq_len=2048,
     precision="bf16", distributed="zero3", gpus=4, memory=228.8 / 4, memory_all_gpus=228.8, time=45.7,
     config=_CFG_QWEN1_72B,
     note="'LoRA fintuning + DeepSpeed ZeRO 3 on 4 A100-SXM4-80G GPUs'; figure is the sum over 4 GPUs (per-GPU derived)",
     quote="<th rowspan=\"2\">72B</th> <td>LoRA + Deepspeed Zero3</td> <td>1</td><td>4</td> ... <td align=\"center\">228.8G / 45.7s/it</td> (2048 column)")
_add(_Q, label="qwen1-72b-lora-zero3-4gpu-8192", model="Qwen/Qwen-72B", method="lora", seq_len=8192,
     precision="bf16", distributed="zero3", gpus=4, memory=289.2 / 4, memory_all_gpus=289.2, time=161.5,
     config=_CFG_QWEN1_72B, note="sum over 4 GPUs (per-GPU derived)",
     quote="<td>LoRA + Deepspeed Zero3</td> <td>1</td><td>4</td> ... <td align=\"center\">249.0G / 83.4s/it</td><td align=\"center\">289.2G / 161.5s/it</td>")
_add(_Q, label="qwen1-72b-qlora-2048", model="Qwen/Qwen-72B-Chat-Int4", method="qlora", seq_len=2048,
     precision="fp16", distributed="zero2", memory=64.1, time=59.5, config=_CFG_QWEN1_72B,
     note="'QLora (int4) fine-tuning on a single A100-SXM4-80G GPU'; GPTQ int4 base",
     quote="<td>Q-LoRA</td> <td>1</td><td>1</td> ... <td align=\"center\">64.1G / 59.5s/it</td> (72B, 2048 column)")
_add(_Q, label="qwen1-72b-qlora-8192", model="Qwen/Qwen-72B-Chat-Int4", method="qlora", seq_len=8192,
     precision="fp16", distributed="zero2", memory=75.6, time=179.8, config=_CFG_QWEN1_72B, note="GPTQ int4 base",
     quote="<td>Q-LoRA</td> ... <td align=\"center\">68.0G / 97.7s/it</td><td align=\"center\">75.6G / 179.8s/it</td> (72B)")
_add(_Q, label="qwen1-7b-full-zero3-2gpu-256", model="Qwen/Qwen-7B", method="full", rank=None, targets=None,
     seq_len=256, precision="bf16-mixed", distributed="zero3", gpus=2, memory=139.2 / 2, memory_all_gpus=139.2,
     time=4.0, note="'full-parameter finetuning with Qwen-7B on 2 A100 GPUs'; finetune_ds.sh = ZeRO-3; sum over 2 GPUs",
     quote="<td>Full-parameter</td> <td>1</td><td>2</td> <td align=\"center\">139.2G / 4.0s/it</td><td align=\"center\">148.0G / 4.0s/it</td><td align=\"center\">162.0G / 4.5s/it</td>")
_add(_Q, label="qwen1-7b-full-zero3-2gpu-1024", model="Qwen/Qwen-7B", method="full", rank=None, targets=None,
     seq_len=1024, precision="bf16-mixed", distributed="zero3", gpus=2, memory=162.0 / 2, memory_all_gpus=162.0,
     time=4.5, note="81.0 per GPU > 80 GB card if G were GiB: 'G' is likely 10^9 bytes or MiB/1000 (nvidia-smi)",
     quote="<td>Full-parameter</td> <td>1</td><td>2</td> ... <td align=\"center\">162.0G / 4.5s/it</td> (1024 column)")
_add(_Q, label="qwen1-7b-lora-multinode-2x2-8192", model="Qwen/Qwen-7B", method="lora", seq_len=8192,
     precision="bf16", distributed="zero2", gpus=4, memory=155.5 / 4, memory_all_gpus=155.5, time=37.4,
     note="two servers x 2 A100-SXM4-80G; finetune_lora_ds.sh (ZeRO-2); sum over 4 GPUs",
     quote="<td>LoRA (multinode)</td> <td>2</td><td>2</td> ... <td align=\"center\">121.1G / 18.1s/it</td><td align=\"center\">155.5G / 37.4s/it</td>")

# ============================ litgpt config_hub/finetune/README.md =============================================
# A10G 24 GB, Alpaca2k, max_seq_length 512 (batches padded to the longest sample, cap 512), bf16-true, single
# device: no activation checkpointing (litgpt enables it only under FSDP), LoRA r=32 on q and v (lora_query,
# lora_value), chunked cross-entropy (lora.py: lm_head_chunk_size=128 + chunked_cross_entropy; full.py: chunked
# CE on full logits), torch AdamW (state in the bf16 param dtype for full); QLoRA: bnb.nf4 + bnb PagedAdamW.
_L = dict(source="litgpt_config_hub", checkpointing=False, attention="sdpa", loss="chunked", optimizer="adamw",
          precision="bf16", gpu="a10g", unit="GB", measures="torch.cuda.max_memory_allocated()/1e9 (allocated)",
          time_unit="min (whole run)", typical_len="Alpaca2k samples, padded per batch to longest <= 512",
          assumed=["attention", "measures"])
_LORA_QV = dict(rank=32, targets=["q_proj", "v_proj"])

_add(_L, label="litgpt-llama3.2-1b-full", model="meta-llama/Llama-3.2-1B", method="full", micro_batch=4,
     grad_accum=16, seq_len=512, memory=8.70, time=2.01,
     quote="| llama-3.2-1b/full.yaml            | llama-3.2-1b           | 1      | 512            | 4                | 1xA10G  |  2.01 min        | $0.1 |  8.70 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama3.2-1b-lora", model="meta-llama/Llama-3.2-1B", method="lora",
     micro_batch=1, grad_accum=8, seq_len=512, memory=4.49, time=4.17,
     quote="| llama-3.2-1b/lora.yaml            | llama-3.2-1b           | 2      | 512            | 1                | 1xA10G  |  4.17 min        | $0.4 |  4.49 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama3.2-1b-qlora-mb2", model="meta-llama/Llama-3.2-1B", method="qlora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=5.53, time=6.20,
     quote="| llama-3.2-1b/qlora.yaml           | llama-3.2-1b           | 2      | 512            | 2                | 1xA10G  |  6.20 min        | $0.6 |  5.53 GB    |")
_add(_L, label="litgpt-llama3.2-3b-full", model="meta-llama/Llama-3.2-3B", method="full", micro_batch=4,
     grad_accum=16, seq_len=512, memory=16.51, time=4.71,
     quote="| llama-3.2-3b/full.yaml            | llama-3.2-3b           | 1      | 512            | 4                | 1xA10G  |  4.71 min        | $0.4 | 16.51 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama3.2-3b-lora", model="meta-llama/Llama-3.2-3B", method="lora",
     micro_batch=1, grad_accum=8, seq_len=512, memory=9.67, time=8.31,
     quote="| llama-3.2-3b/lora.yaml            | llama-3.2-3b           | 2      | 512            | 1                | 1xA10G  |  8.31 min        | $0.8 |  9.67 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama3.2-3b-qlora-mb2", model="meta-llama/Llama-3.2-3B", method="qlora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=10.30, time=14.89,
     quote="| llama-3.2-3b/qlora.yaml           | llama-3.2-3b           | 2      | 512            | 2                | 1xA10G  | 14.89 min        | $1.4 | 10.30 GB    |")
_add(_L, label="litgpt-llama3.1-8b-full-1gpu-oom", model="meta-llama/Llama-3.1-8B", method="full",
     micro_batch=4, grad_accum=16, seq_len=512, kind="oom", memory=None,
     note="yaml says devices: 4 (FSDP) but the table row says 1xA10G; recorded as the table states",
     quote="| llama-3.1-8b/full.yaml            | llama-3.1-8b           | 1      | 512            | 4                | 1xA10G  | OOM              | OOM  | OOM         |")
_add(_L, label="litgpt-llama3-8b-full-fsdp4-oom", model="meta-llama/Llama-3-8B", method="full", micro_batch=4,
     grad_accum=4, seq_len=512, checkpointing=True, distributed="fsdp", gpus=4, kind="oom", memory=None,
     note="full.py with devices 4: FSDPStrategy(activation_checkpointing_policy={Block}, cpu_offload=False)",
     quote="| llama-3-8b/full.yaml              | llama-3-8b             | 1      | 512            | 4                | 4xA10G  | OOM              | OOM  | OOM         |")
_add({**_L, **_LORA_QV}, label="litgpt-mistral-7b-v0.2-lora-mb2", model="unsloth/Mistral-7B-v0.2", method="lora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=20.66, time=31.00, config=_CFG_MISTRAL_7B_V02,
     quote="| mistral-7b-v0.2/lora.yaml         | mistral-7b-v0.2        | 4      | 512            | 2                | 1xA10G  | 31.00 min        | $0.9 | 20.66 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-mistral-7b-v0.2-qlora-mb2", model="unsloth/Mistral-7B-v0.2", method="qlora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=14.29, time=44.75, config=_CFG_MISTRAL_7B_V02,
     quote="| mistral-7b-v0.2/qlora.yaml        | mistral-7b-v0.2        | 4      | 512            | 2                | 1xA10G  | 44.75 min        | $1.3 | 14.29 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama2-7b-lora-mb2", model="meta-llama/Llama-2-7b-hf", method="lora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=19.77, time=32.82, config=_CFG_LLAMA2_7B,
     quote="| llama-2-7b/lora.yaml              | llama-2-7b             | 4      | 512            | 2                | 1xA10G  | 32.82 min        | $1.0 | 19.77 GB    |")
_add({**_L, **_LORA_QV}, label="litgpt-llama2-7b-qlora-mb2", model="meta-llama/Llama-2-7b-hf", method="qlora",
     micro_batch=2, grad_accum=4, seq_len=512, memory=13.68, time=45.67, config=_CFG_LLAMA2_7B,
     quote="| llama-2-7b/qlora.yaml             | llama-2-7b             | 4      | 512            | 2                | 1xA10G  | 45.67 min        | $1.4 | 13.68 GB    |")
_add(_L, label="litgpt-tinyllama-full-mb4", model="TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
     method="full", micro_batch=4, grad_accum=8, seq_len=512, memory=14.10, time=2.58, config=_CFG_TINYLLAMA,
     quote="| tiny-llama/full.yaml              | tiny-llama             | 1      | 512            | 4                | 1xA10G  | 2.58 min         | $0.1 | 14.10 GB    |")
_add(_L, label="litgpt-tinyllama-lora-mb8", model="TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
     method="lora", rank=32, targets="all-linear+lm_head", micro_batch=8, grad_accum=1, seq_len=512, memory=13.50,
     time=8.09, config=_CFG_TINYLLAMA, note="lora_query/key/value/projection/mlp/head all true (LoRA on lm_head too)",
     quote="| tiny-llama/lora.yaml              | tiny-llama             | 3      | 512            | 8                | 1xA10G  | 8.09 min         | $0.2 | 13.50 GB    |")
_add(_L, label="litgpt-tinyllama-qlora-mb8", model="TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
     method="qlora", rank=32, targets="all-linear+lm_head", micro_batch=8, grad_accum=1, seq_len=512, memory=16.24,
     time=8.70, config=_CFG_TINYLLAMA, note="QLoRA uses MORE memory than LoRA here (16.24 vs 13.50)",
     quote="| tiny-llama/qlora.yaml             | tiny-llama             | 3      | 512            | 8                | 1xA10G  | 8.70 min         | $0.3 | 16.24 GB    |")

# ============================ PEFT docs (DeepSpeed / FSDP guides), Llama-2-70B ================================
# examples/sft/train.py (TRL SFTTrainer), ultrachat-10k, --max_seq_len 2048 --packing True, --use_flash_attn True,
# LoRA r=8 all-linear, gradient checkpointing on, --bf16 True.
_P = dict(model="meta-llama/Llama-2-70b-hf", rank=8, targets="all-linear", seq_len=2048, packed=True,
          checkpointing=True, attention="flash_attention_2", loss="hf", optimizer="adamw", unit="GB",
          measures="per-GPU device memory from a GPU monitor screenshot", config=_CFG_LLAMA2_70B,
          assumed=["loss", "unit"])
_add(_P, source="peft_docs_deepspeed", label="peft-llama2-70b-lora-zero3-8xh100", method="lora", micro_batch=8,
     grad_accum=4, precision="bf16-mixed", distributed="zero3", gpus=8, gpu="h100", memory=64.0,
     quote="In the above example, the memory consumed per GPU is 64 GB (80%) as seen in the screenshot below")
_add(_P, source="peft_docs_deepspeed", label="peft-llama2-70b-qlora-zero3-2gpu", method="qlora", micro_batch=2,
     grad_accum=2, precision="bf16-mixed", distributed="zero3", gpus=2, gpu="a100-40gb", memory=36.6,
     note="bnb nf4, double quant, quant_storage bf16; '2X40GB GPUs' (card model not named; a100-40gb assumed)",
     quote="In the above example, the memory consumed per GPU is **36.6 GB**. Therefore, what took 8X80GB GPUs with DeepSpeed Stage 3+LoRA and a couple of 80GB GPUs with DDP+QLoRA now requires 2X40GB GPUs.",
     assumed=["loss", "unit", "gpu"])
_add(_P, source="peft_docs_fsdp", label="peft-llama2-70b-lora-fsdp-8xh100", method="lora", micro_batch=8,
     grad_accum=4, precision="bf16-mixed", distributed="fsdp", gpus=8, gpu="h100", memory=72.0,
     note="stated as a range 72-80 GB; the rise to 80 happens at the end when saving a FULL_STATE_DICT; 72 is training",
     quote="In the above example, the memory consumed per GPU is  72-80 GB (90-98%) as seen in the screenshot below.")
_add(_P, source="peft_docs_fsdp", label="peft-llama2-70b-qlora-fsdp-2gpu-offload", method="qlora",
     micro_batch=2, grad_accum=2, precision="bf16", distributed="fsdp+cpu_offload_params", gpus=2,
     gpu="rtx4090", memory=19.6,
     note="fsdp_offload_params: true, mixed_precision 'no', quant_storage bf16 (pure bf16); '2X24GB GPUs' (model not named)",
     quote="In the above example, the memory consumed per GPU is **19.6 GB** while CPU RAM usage is around **107 GB**.",
     assumed=["loss", "unit", "gpu"])
_add(_P, source="peft_docs_fsdp", label="peft-llama2-70b-qlora-fsdp-2gpu-no-offload", method="qlora",
     micro_batch=2, grad_accum=2, precision="bf16", distributed="fsdp", gpus=2, gpu="a100-80gb", memory=35.6,
     note="same run, CPU offloading disabled; card not stated (35.6 > 24 GB)",
     quote="When disabling CPU offloading, the GPU memory usage is  **35.6 GB/ GPU**.",
     assumed=["loss", "unit", "gpu"])

# ============================ ms-swift example scripts ========================================================
# swift sft defaults: gradient_checkpointing True, attn_impl None (transformers default = sdpa), torch_dtype from
# the model (bf16) and --bf16 training args with bf16 weights (no fp32 master outside DeepSpeed), target_modules
# all-linear, AdamW (torch). Memory comments: per GPU, GiB (max_memory_reserved in the log).
_S = dict(source="ms_swift_examples", checkpointing=True, attention="sdpa", loss="hf", optimizer="adamw",
          precision="bf16", unit="GiB", measures="per-GPU; ms-swift log memory(GiB) = max_memory_reserved (assumed the comment copies it)",
          time_unit="s/it", assumed=["measures", "attention", "gpu"])
_SC = dict(typical_len="swift/self-cognition: short Q/A samples (~100-200 tokens), bs 1 so no padding", seq_len=2048)

_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-1gpu", model="Qwen/Qwen2.5-7B-Instruct", method="lora", rank=8,
     targets="all-linear", micro_batch=1, grad_accum=16, gpu="a100-80gb", memory=17.2,
     note="max_length not given (default); target_modules default all-linear",
     quote="examples/train/tuners/lora/train.sh: '# 17.2GiB' ... --model Qwen/Qwen2.5-7B-Instruct --tuner_type lora --dataset 'swift/self-cognition#1000' --per_device_train_batch_size 1 --lora_rank 8 --lora_alpha 32 --gradient_accumulation_steps 16",
     assumed=["measures", "attention", "gpu", "targets", "seq_len"])
_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-unsloth", model="Qwen/Qwen2.5-7B-Instruct", method="lora", rank=8,
     targets="all-linear", micro_batch=1, grad_accum=16, gpu="a100-80gb", loss="unsloth", memory=17.0,
     quote="examples/train/tuners/unsloth/train.sh: '# 17GiB' ... --tuner_backend unsloth --tuner_type lora --dataset 'swift/self-cognition#1000' --per_device_train_batch_size 1 --lora_rank 8",
     assumed=["measures", "attention", "gpu", "targets", "seq_len"])
_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-ddp2", model="Qwen/Qwen2.5-7B-Instruct", method="lora", rank=8,
     targets="all-linear", micro_batch=1, grad_accum=8, distributed="ddp", gpus=2, gpu="a100-80gb", memory=27.5,
     note="use_reentrant false; DDP with non-reentrant checkpointing (why 10 GiB more than the single-GPU 17.2 is unclear)",
     quote="examples/train/multi-gpu/ddp/train.sh: '# 27.5GiB * 2' nproc_per_node=2 ... --tuner_type lora --lora_rank 8 --target_modules all-linear --max_length 2048 --gradient_checkpointing_kwargs '{\"use_reentrant\": false}'")
_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-zero2-2gpu", model="Qwen/Qwen2.5-7B-Instruct", method="lora",
     rank=8, targets="all-linear", micro_batch=1, grad_accum=8, distributed="zero2", gpus=2, gpu="a100-80gb",
     memory=18.0,
     quote="examples/train/multi-gpu/deepspeed/train_zero2.sh: '# 18GiB * 2' ... --tuner_type lora --lora_rank 8 --target_modules all-linear --max_length 2048 --deepspeed zero2")
_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-zero3-2gpu", model="Qwen/Qwen2.5-7B-Instruct", method="lora",
     rank=8, targets="all-linear", micro_batch=1, grad_accum=8, distributed="zero3", gpus=2, gpu="a100-80gb",
     memory=16.0,
     quote="examples/train/multi-gpu/deepspeed/train_zero3.sh: '# 16GiB * 2' ... --tuner_type lora --lora_rank 8 --target_modules all-linear --max_length 2048 --deepspeed zero3")
_add({**_S, **_SC}, label="swift-qwen2.5-7b-lora-fsdp2-2gpu", model="Qwen/Qwen2.5-7B-Instruct", method="lora",
     rank=8, targets="all-linear", micro_batch=1, grad_accum=8, distributed="fsdp", gpus=2, gpu="a100-80gb",
     checkpointing=True, precision="bf16-mixed", memory=14.7,
     note="--gradient_checkpointing false but fsdp2.json sets fsdp_activation_checkpointing: true; FSDP2, mixed_precision bf16, reshard_after_forward",
     quote="examples/train/multi-gpu/fsdp2_lora/train.sh: '# 14.7GiB * 2' ... --tuner_type lora --lora_rank 8 --gradient_checkpointing false --target_modules all-linear --max_length 2048")
_add(_S, label="swift-qwen2.5-7b-full-1gpu", model="Qwen/Qwen2.5-7B-Instruct", method="full", micro_batch=1,
     grad_accum=16, seq_len=2048, gpu="a100-80gb", memory=76.0,
     typical_len="alpaca-gpt4 zh/en + self-cognition: mostly < 1k tokens, bs 1 (no padding)",
     note="HF Trainer, bf16 weights, torch AdamW: states in bf16 (8 B/param + activations)",
     quote="examples/train/full/train.sh: '# 76GiB' CUDA_VISIBLE_DEVICES=0 swift sft --model Qwen/Qwen2.5-7B-Instruct --tuner_type full ... --torch_dtype bfloat16 --per_device_train_batch_size 1 --gradient_accumulation_steps 16 --max_length 2048")
_add(_S, label="swift-qwen2.5-72b-qlora-fsdp-offload-2gpu", model="Qwen/Qwen2.5-72B-Instruct", method="qlora",
     rank=8, targets="all-linear", micro_batch=1, grad_accum=8, seq_len=2048, distributed="fsdp+cpu_offload_params",
     gpus=2, gpu="a100-80gb", kind="fits", memory=80.0,
     typical_len="self-cognition (short)",
     note="'80GiB * 2' reads as the cards used (2 x 80 GiB), not a measured peak; fsdp_offload_params true, mixed_precision 'no', quant_storage bf16",
     quote="examples/train/multi-gpu/fsdp_qlora/train.sh: '# 80GiB * 2' ... --model Qwen/Qwen2.5-72B-Instruct --tuner_type lora --quant_bits 4 --bnb_4bit_quant_storage bfloat16 --lora_rank 8 --gradient_checkpointing true --target_modules all-linear --max_length 2048",
     assumed=["gpu", "kind"])
_add(_S, label="swift-qwen2.5-7b-full-zero3-4gpu-8k-packed-liger", model="Qwen/Qwen2.5-7B", method="full",
     micro_batch=1, grad_accum=4, seq_len=8192, packed=True, attention="flash_attention_2", loss="liger",
     precision="bf16-mixed", distributed="zero3", gpus=4, gpu="a100-80gb", memory=44.0, time=15.5,
     tokens_per_step=4 * 4 * 8192,
     note="DeepSpeed bf16: fp32 master + Adam moments, sharded; expandable_segments",
     quote="examples/train/cached_dataset/sft.sh: '# 4 * 44GiB; 15.5s/it' ... --model Qwen/Qwen2.5-7B --tuner_type full --per_device_train_batch_size 1 --gradient_accumulation_steps 4 --packing true --max_length 8192 --deepspeed zero3 --use_liger_kernel true --attn_impl flash_attn")
_add(_S, label="swift-qwen2.5-7b-full-zero3-4xa100-8k-packed-liger", model="Qwen/Qwen2.5-7B", method="full",
     micro_batch=1, grad_accum=2, seq_len=8192, packed=True, attention="flash_attention_2", loss="liger",
     precision="bf16-mixed", distributed="zero3", gpus=4, gpu="a100-80gb", unit="GB", memory=42.0,
     time=95.0, time_unit="min (5 epochs of 10k samples)",
     quote="examples/train/liger/sft.sh: '# test env: 4 * A100' '# Using use_liger_kernel and packing: 4 * 42GB, 1 hour 35 minutes'",
     assumed=["measures", "gpu"])
_add(_S, label="swift-qwen2.5-7b-full-zero3-4xa100-8k-packed-noliger", model="Qwen/Qwen2.5-7B", method="full",
     micro_batch=1, grad_accum=2, seq_len=8192, packed=True, attention="flash_attention_2", loss="hf",
     precision="bf16-mixed", distributed="zero3", gpus=4, gpu="a100-80gb", unit="GB", memory=54.0,
     time=100.0, time_unit="min (5 epochs of 10k samples)",
     quote="examples/train/liger/sft.sh: '# Not using use_liger_kernel: 4 * 54GB, 1 hour 40 minutes'",
     assumed=["measures", "gpu"])
_add(_S, label="swift-qwen2.5-7b-full-zero3-4xa100-8k-unpacked-noliger", model="Qwen/Qwen2.5-7B", method="full",
     micro_batch=1, grad_accum=2, seq_len=8192, packed=False, attention="flash_attention_2", loss="hf",
     precision="bf16-mixed", distributed="zero3", gpus=4, gpu="a100-80gb", unit="GB", memory=52.0,
     time=210.0, time_unit="min (5 epochs of 10k samples)",
     typical_len="R1-distill samples, many 2-8k tokens; peak set by the longest (<= 8192)",
     quote="examples/train/liger/sft.sh: '# Not using use_liger_kernel and packing: 4 * 52GB, 3 hours 30 minutes'",
     assumed=["measures", "gpu"])
_add(_S, label="swift-qwen2.5-7b-full-zero3-4gpu-bs8-paddingfree-liger", model="Qwen/Qwen2.5-7B",
     method="full", micro_batch=8, grad_accum=1, seq_len=8192, packed=False, attention="flash_attention_2",
     loss="liger", precision="bf16-mixed", distributed="zero3", gpus=4, gpu="a100-80gb", memory=44.0,
     time=13.0, time_unit="h (whole run)",
     typical_len="padding_free: 8 samples of R1-distill data flattened (up to 8 x 8192 tokens, typically far less)",
     quote="examples/train/padding_free/sft.sh: '# padding_free: 4 * 44GiB, 13h' ... --per_device_train_batch_size 8 --max_length 8192 --deepspeed zero3 --use_liger_kernel true --attn_impl flash_attn --padding_free true")
_add(_S, label="swift-qwen2.5-7b-full-zero3-4xh20-16k-packed-liger", model="Qwen/Qwen2.5-7B", method="full",
     micro_batch=1, grad_accum=4, seq_len=16384, packed=True, attention="flash_attention_2", loss="liger",
     precision="bf16-mixed", distributed="zero3", gpus=4, gpu="h20", memory=43.0, time=35.5,
     tokens_per_step=4 * 4 * 16384,
     quote="examples/train/flash_attention_3/transformers.sh: '# test_env: 4 * H20' '# fa2: 4 * 43GiB; 35.5s/it' ... --model Qwen/Qwen2.5-7B --tuner_type full --per_device_train_batch_size 1 --gradient_accumulation_steps 4 --packing true --max_length 16384 --deepspeed zero3 --use_liger_kernel true",
     assumed=["measures"])
_add(_S, label="swift-qwen2.5-32b-full-zero3-8gpu-8k-packed-liger", model="Qwen/Qwen2.5-32B", method="full",
     micro_batch=1, grad_accum=2, seq_len=8192, packed=True, attention="flash_attention_2", loss="liger",
     precision="bf16-mixed", distributed="zero3", gpus=8, gpu="a100-80gb", kind="fits", memory=80.0,
     note="'8 * 80GiB' reads as the hardware (8 x 80 GiB cards), possibly near-full usage",
     quote="examples/train/full/qwen2_5_32b.sh: '# 8 * 80GiB' ... --model Qwen/Qwen2.5-32B --tuner_type full --per_device_train_batch_size 1 --gradient_accumulation_steps 2 --packing true --max_length 8192 --deepspeed zero3 --use_liger_kernel true --attn_impl flash_attn",
     assumed=["measures", "gpu", "kind"])
_add(_S, label="swift-qwen2.5-3b-lora-ulysses8-64k", model="Qwen/Qwen2.5-3B-Instruct", method="lora", rank=8,
     targets="all-linear", micro_batch=4, grad_accum=8, seq_len=65536, packed=False, attention="flash_attention_2",
     loss="chunked", distributed="ulysses-sp8 (ddp)", gpus=8, gpu="a100-80gb", memory=40.0, time=26.0,
     typical_len="LongAlpaca-12k (samples up to ~30k tokens), padding_free, sequence split over 8 GPUs",
     note="sequence parallel (Ulysses, size 8) + CELOSS_PARALLEL_SIZE=2048 (chunked CE): not a strategy ftspec models; "
          "prediction approximates each GPU as holding seq_len/8 tokens of every sample",
     quote="examples/train/sequence_parallel/sequence_parallel.sh: '# Env: 8 * A100' '# Max Length: 65536' '# GPU Memory: 8 * 40GiB, Training Speed 26s/it' ... --model Qwen/Qwen2.5-3B-Instruct --tuner_type lora --per_device_train_batch_size 4 --target_modules all-linear --max_length 65536 --sequence_parallel_size 8 --padding_free true",
     assumed=["measures", "rank"])

# ============================ ms-swift Megatron-SWIFT benchmark (DeepSpeed columns) ===========================
_M = dict(source="ms_swift_megatron_benchmark", model="Qwen/Qwen2.5-14B", method="full", micro_batch=1,
          grad_accum=2, seq_len=8192, packed=True, checkpointing=True, attention="flash_attention_2", loss="hf",
          optimizer="adamw", precision="bf16-mixed", gpus=8, gpu="a800-80gb", unit="GB",
          measures="per GPU, '8*NGB' (tool not stated)", time_unit="s/it", tokens_per_step=8 * 2 * 8192,
          assumed=["loss", "checkpointing", "measures"])
_add(_M, label="swift-megatron-bench-qwen2.5-14b-full-zero2-8xa800", distributed="zero2", memory=80.0, time=10.32,
     note="80 GB = the whole card (expandable_segments); likely the allocator filled the card, so a lower bound on demand",
     quote="| Training Speed   | 9.04s/it    | 10.32s/it       | 10.56s/it       | / | GPU Memory Usage | 8\\*64GB      | 8\\*80GB          | 8\\*58GB          | (Deepspeed-ZeRO2 column)")
_add(_M, label="swift-megatron-bench-qwen2.5-14b-full-zero3-8xa800", distributed="zero3", memory=58.0, time=10.56,
     quote="| Training Speed   | 9.04s/it    | 10.32s/it       | 10.56s/it       | / | GPU Memory Usage | 8\\*64GB      | 8\\*80GB          | 8\\*58GB          | (Deepspeed-ZeRO3 column)")

# ============================ Unsloth blog, Llama 3.3 70B max context =========================================
# "We tested Llama 3.3 (70B) Instruct on a 80GB A100 and did 4bit QLoRA on all linear layers (Q, K, V, O, gate, up
# and down) with rank = 32 with a batch size of 1. We padded all sequences to a certain maximum sequence length".
# The HF+FA2 column = transformers + flash-attention 2 + HF gradient checkpointing + plain HF loss; the Unsloth
# column adds offloaded ("unsloth") gradient checkpointing and Apple Cut Cross Entropy. NOTE: the 8B rows of this
# blog's tables are the Unsloth README table already used in docs/estimation.md and are NOT repeated here.
_U = dict(source="unsloth_blog_llama33", model="meta-llama/Llama-3.3-70B-Instruct", method="qlora", rank=32,
          targets="all-linear", micro_batch=1, padded=True, checkpointing=True, attention="flash_attention_2",
          optimizer="adamw8bit", precision="bf16", gpu="a100-80gb", kind="fits", unit="GB",
          measures="VRAM budget the padded length fits in", assumed=["optimizer", "unit"])
_add(_U, label="unsloth-llama3.3-70b-hf-fa2-80gb", loss="hf", seq_len=6916, memory=80.0,
     quote="Llama 3.3 (70B) max. context length | GPU VRAM | Unsloth (+ Apple CCE) | Unsloth (Old) | Hugging Face+FA2 | 48 GB | 12,106 | 7,385 | OOM | 80 GB | 89,389 | 48,447 | 6,916")
_add(_U, label="unsloth-llama3.3-70b-hf-fa2-48gb-oom", loss="hf", seq_len=None, kind="oom", memory=48.0,
     note="HF+FA2 is OOM in a 48 GB budget at every tested length; predictions use 512 tokens as the shortest",
     quote="48 GB | 12,106 | 7,385 | OOM (Hugging Face+FA2 column)")
_add(_U, label="unsloth-llama3.3-70b-unsloth-cce-48gb", loss="unsloth", seq_len=12106, memory=48.0,
     checkpointing="unsloth-offload",
     note="Unsloth offloads checkpointed activations to CPU RAM; CCE never materialises logits",
     quote="48 GB | 12,106 | 7,385 | OOM (Unsloth (+ Apple CCE) column)")
_add(_U, label="unsloth-llama3.3-70b-unsloth-cce-80gb", loss="unsloth", seq_len=89389, memory=80.0,
     checkpointing="unsloth-offload",
     quote="80 GB | 89,389 | 48,447 | 6,916 (Unsloth (+ Apple CCE) column)")


VALIDATION = [r for r in _ALL if r["order"] % 4 != 3]
HELD_BACK = [r for r in _ALL if r["order"] % 4 == 3]

assert len({r["label"] for r in _ALL}) == len(_ALL), "labels must be unique"
