"""GRPO's spec, lint and plan without torch: every misdeclared reward, column or knob is a located error with exit 1
before anything loads; the plan counts what GRPOTrainer will do; python rewards are read, never imported, by lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import run_cli
from ftspec.lint.python_reward import missing_parameters, read_signature

PROMPTS = "".join(json.dumps({"prompt": [{"role": "user", "content": f"q {i}"}], "answer": f"A-{i}"}) + "\n"
                  for i in range(120))
HEAD = "name: t\nmethod: grpo\ndata:\n  train: p.jsonl\n"
REWARD = "rewards:\n  - {metric: exact_match}\n"


def project(tmp_path: Path, body: str, **files) -> Path:
    (tmp_path / "p.jsonl").write_text(PROMPTS)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "s.yaml").write_text(body)
    return tmp_path / "s.yaml"


BAD = [
    # (spec after the data section, the located message lint prints)
    ("rewards:\n  - {metric: bleu}\n", "s.yaml:6:14: error FT000 rewards.0.metric: expected 'exact_match'"),
    ("rewards:\n  - {regex: '(('}\n", "s.yaml:6:13: error FT000 rewards.0.regex: not a valid regular expression"),
    ("rewards:\n  - {python: 'not a ref'}\n", "s.yaml:6:14: error FT000 rewards.0.python: expected 'module:function'"),
    ("rewards:\n  - {lenght_penalty: 3}\n", "s.yaml:6:6: error FT000 rewards.0.lenght_penalty: unknown key (did you "
                                           "mean 'length_penalty'?)"),
    ("rewards:\n  - {metric: exact_match, weight: .inf}\n", "rewards.0.weight: Input should be a finite number"),
    ("rewards:\n  - exact_match\n", "s.yaml:6:5: error FT000 rewards.0: a reward is an object with one of the keys"),
    ("rewards:\n  - {metric: exact_match}\n  - {metric: exact_match}\n",
     "s.yaml:6:3: error FT000 rewards: two rewards share a name (exact_match)"),
    (REWARD + "grpo:\n  num_generations: 1\n", "s.yaml:8:20: error FT000 grpo.num_generations: Input should be greater"),
    (REWARD + "grpo:\n  loss_type: ppo\n", "grpo.loss_type: expected 'grpo', 'dr_grpo', 'dapo'"),
    (REWARD + "grpo:\n  num_generation: 4\n", "grpo.num_generation: unknown key (did you mean 'num_generations'?)"),
    ("", "s.yaml:2:9: error FT121 method grpo has no rewards"),
    ("rewards:\n  - {metric: exact_match, reference: solution}\n",
     "s.yaml:6:38: error FT122 reward exact_match compares with column 'solution', but p.jsonl no record has it"),
    ("rewards:\n  - {python: 'rw:score'}\n", "s.yaml:6:14: error FT123 python reward 'rw:score': rw.py defines no "
                                            "function 'score' at its top level"),
    (REWARD + "training:\n  batch_size: 6\n", "s.yaml:8:15: error FT124 the generation batch, batch_size 6 x 1 "
                                             "process(es) x gradient_accumulation 1 = 6, does not divide by "
                                             "grpo.num_generations 8"),
    (REWARD + "grpo:\n  generation_batch_size: 12\n", "error FT124 grpo.generation_batch_size 12 must be a multiple "
                                                     "of the global batch 8"),
    (REWARD + "grpo:\n  max_completion_length: 4096\n", "error FT125 grpo.max_completion_length 4096 leaves no room"),
]


@pytest.mark.parametrize("tail, says", BAD, ids=[str(i) for i in range(len(BAD))])
def test_misdeclared_rewards_and_knobs_are_located_lint_errors(tmp_path, tail, says):
    spec = project(tmp_path, HEAD + tail, **{"rw.py": "def scored(prompts, completions, **kw):\n    return []\n"})
    done = run_cli("lint", spec, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert says in done.stdout, done.stdout
    assert "Traceback" not in done.stderr


def test_rewards_belong_to_grpo(tmp_path):
    spec = project(tmp_path, "name: t\nmethod: sft\ndata:\n  train: p.jsonl\n" + REWARD)
    done = run_cli("validate", spec, cwd=tmp_path)
    assert done.returncode == 1 and "s.yaml:6:3: error FT000 rewards: rewards are for method 'grpo'" in done.stdout


def test_a_clean_grpo_spec_plans_trl_s_steps_and_generation(tmp_path):
    spec = project(tmp_path, HEAD + "  max_length: 128\n" + REWARD + "grpo:\n  num_generations: 4\n"
                   "  max_completion_length: 16\n  beta: 0.04\ntraining:\n  batch_size: 4\n  gradient_accumulation: 2\n"
                   "adapter:\n  type: full\ncompute:\n  accelerator: h100\n")
    done = run_cli("plan", spec, "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    # Generation batch 4 x 1 x 2 = 8 completions = 2 prompts a block; 60 blocks x steps_per_generation 2 / 2, 3 epochs.
    assert plan["optimizer_steps"] == 180 and plan["optimizer_steps_exact"]
    args = plan["job"]["trainer_args"]
    assert (args["num_generations"], args["max_completion_length"], args["beta"]) == (4, 16, 0.04)
    assert "max_length" not in args and args["eval_strategy"] == "no"
    assert plan["job"]["rewards"] == [{"metric": "exact_match", "reference": "answer", "weight": 1.0,
                                       "name": "exact_match"}]
    memory = plan["estimate"]["memory"]
    assert memory["generation"] > 0 and memory["reference_model"] > 0  # KV cache; beta > 0 with full fine-tuning
    assert plan["managed_costs"] == []  # the platforms' per-token SFT prices say nothing about RL


@pytest.mark.parametrize("source, problem, missing", [
    ("def f(prompts, completions, **kwargs):\n    pass\n", None, []),
    ("async def f(*, prompts, completions, completion_ids, trainer_state, log_extra, log_metric, answer):\n  pass\n",
     None, []),
    ("def f(completions):\n    pass\n", None, ["prompts", "completion_ids", "trainer_state", "log_extra",
                                                 "log_metric", "answer"]),
    ("def f(prompts, /, completions, **kw):\n    pass\n", "positional-only without a default", None),
    ("def f(:\n", "syntax error", None),
    ("from elsewhere import f\n", None, []),  # bound by an import: not checkable statically, not an error
])
def test_python_reward_signatures_are_read_without_importing(tmp_path, source, problem, missing):
    (tmp_path / "m.py").write_text(source + "raise SystemExit('lint must never import this')\n")
    sig = read_signature(tmp_path / "m.py", "f")
    if problem:
        assert problem in sig.problem
    else:
        assert sig.problem is None and missing_parameters(sig, {"answer"}) == missing


def test_a_python_reward_s_code_is_part_of_the_run_id_and_its_folder_is_not(tmp_path):
    from ftspec.plan.compile import build_plan
    from ftspec.plan.identity import run_id
    from ftspec.spec.load import load_spec

    ids = []
    for folder, code in (("a", "return [1.0] * len(completions)"), ("b", "return [1.0] * len(completions)"),
                         ("c", "return [0.0] * len(completions)")):
        spec = project(tmp_path / folder if (tmp_path / folder).mkdir() is None else None,
                       HEAD + "rewards:\n  - {python: 'rw:score'}\n",
                       **{"rw.py": f"def score(prompts, completions, **kw):\n    {code}\n"})
        ids.append(run_id(build_plan(load_spec(spec))))
    assert ids[0] == ids[1] != ids[2]  # moved to another folder: the same run; the reward changed: a new one
