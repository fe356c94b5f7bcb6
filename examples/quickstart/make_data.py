#!/usr/bin/env python3
"""Generate the ftspec quickstart dataset: copy product codes and area phrases with "-" and "/" exactly.

Source: the practitioner's blog in seed 002 (Doubao SFT so the model stops writing "Sikalastic - 609"
for "Sikalastic-609" and "水吧台 / 岛台区域" for "水吧台/岛台区域"). See README.md in this folder.

Stdlib only, fixed seed: rerunning rewrites train.jsonl, holdout.jsonl and general.jsonl byte for byte.

    python examples/quickstart/make_data.py          # write the three files, then check them
    python examples/quickstart/make_data.py --check  # only check the files already written
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

SEED = 20250808  # the date in the blog's dataset file name (symbol_format_finetune_data20250808V2)
HERE = Path(__file__).resolve().parent
SYSTEM = "你是建材家装助手。"
MAX_BYTES = 160  # UTF-8 bytes of all message contents of one sample together
N_TRAIN = 360
N_HOLDOUT_TRAINED = 64
N_HOLDOUT_UNTRAINED = 64
N_HOLDOUT_GENERAL = 32  # general-ability cases (scenario "general"), none of them in general.jsonl

# ---------------------------------------------------------------------------------------------
# Value pools. "T" pools feed train.jsonl (and the trained half of the holdout); "U" pools feed only
# the untrained half of the holdout and are checked never to occur anywhere in train.jsonl.
# ---------------------------------------------------------------------------------------------

# Codes named in the blog / brief, always in the trained pool.
FIXED_CODES_T = ["Sikalastic-609", "MasterSeal-550/1", "K11-Pro", "JS-II", "3M-8579", "AB-12/34"]

BRANDS_T = ["Sika", "SikaTop", "MasterSeal", "MasterEmaco", "Mapei", "Mapelastic", "Weber", "Davco",
            "Keshun", "Yuhong", "Knauf", "Dulux", "Nippon", "Lesso", "Rifeng", "Hilti", "Grohe", "Kohler"]
BRANDS_U = ["Ardex", "Laticrete", "Kerakoll", "Bostik", "Soudal", "Tremco", "Fosroc", "Henkel"]
LETTERS_T = ["AB", "JS", "KS", "PU", "PE", "SBS", "APP", "TPO", "PVC", "GB", "XPS", "DN", "CL", "HM"]
LETTERS_U = ["RX", "LZ", "VF", "WT", "EPDM", "MB", "NY", "FJ"]
SUFFIX_T = ["Pro", "Max", "Plus", "Flex", "Lite"]
SUFFIX_U = ["Ultra", "Mini", "Eco"]
ROMAN_T = ["I", "II", "III"]
ROMAN_U = ["IV", "V"]


def _num(rng: random.Random, digits: int) -> str:
    return str(rng.randint(10 ** (digits - 1), 10**digits - 1))


def _code(rng: random.Random, pattern: str, brands, letters, suffixes, romans) -> str:
    b, ll = rng.choice(brands), rng.choice(letters)
    if pattern == "A":  # Weber-600
        return f"{b}-{_num(rng, 3)}"
    if pattern == "B":  # MasterSeal-550/1
        return f"{b}-{_num(rng, 3)}/{rng.randint(1, 9)}"
    if pattern == "C":  # AB-12/34
        return f"{ll}-{_num(rng, 2)}/{_num(rng, 2)}"
    if pattern == "D":  # K11-Pro
        return f"{rng.choice(['K', 'M', 'S', 'R', 'Z'])}{_num(rng, 2)}-{rng.choice(suffixes)}"
    if pattern == "E":  # JS-II
        return f"{ll}-{rng.choice(romans)}"
    if pattern == "F":  # 3M-8579
        return f"{rng.randint(2, 9)}{rng.choice('MKHT')}-{_num(rng, 4)}"
    if pattern == "G":  # SBS-3-PY
        return f"{ll}-{rng.randint(1, 9)}-{rng.choice(['PY', 'PE', 'GL', 'HT'])}"
    if pattern == "H":  # DN20/25
        return f"{ll}{_num(rng, 2)}/{_num(rng, 2)}"
    # Shapes only in the untrained pool.
    if pattern == "I":  # Ardex-12-30/B
        return f"{b}-{_num(rng, 2)}-{_num(rng, 2)}/{rng.choice('ABCDW')}"
    if pattern == "J":  # RX/QZ-200
        return f"{ll}/{rng.choice([x for x in letters if x != ll])}-{_num(rng, 3)}"
    raise ValueError(pattern)


def make_codes(rng: random.Random, n: int, patterns: str, brands, letters, suffixes, romans,
               fixed=()) -> list[str]:
    codes = dict.fromkeys(fixed)
    while len(codes) < n:
        codes.setdefault(_code(rng, rng.choice(patterns), brands, letters, suffixes, romans))
    return list(codes)


AREAS_ZH_T = ["水吧台/岛台区域", "厨房/卫生间", "阳台/露台", "客厅/餐厅", "主卧/次卧", "淋浴区/浴缸区",
              "地下室/车库", "外墙/屋面", "防水-涂料", "墙面-地面交接处", "瓷砖-背胶", "找平-自流平",
              "门槛石/过门石", "吊顶/墙面", "管道/地漏周边", "洗衣机/拖把池区域", "窗台/飘窗", "楼梯/走廊"]
AREAS_ZH_U = ["衣帽间/储物间", "书房/茶室", "玄关/鞋柜区域", "露台-花园", "基层-界面剂", "泳池/水池",
              "烟道/风道", "天沟-檐口", "儿童房/老人房", "设备间/机房"]
AREAS_EN_T = ["kitchen/bathroom", "wall-floor joint", "indoor/outdoor", "balcony/terrace",
              "shower/tub area", "roof-deck", "pipe/drain collar", "sink/counter edge"]
AREAS_EN_U = ["garage/basement", "pool/spa deck", "stair-landing", "laundry/utility room", "patio-step"]
SPECS_T = ["20kg/桶", "5L/桶", "18L/桶", "25kg/袋", "1.5-2.0mm", "0.3-0.5MPa", "1.2kg/m2", "2-3遍",
           "20/25mm", "DN20/DN25", "10kg/箱", "4-6h", "1:0.5-1:1", "30m2/桶"]
SPECS_U = ["4kg/组", "15L/箱", "0.8-1.0mm", "50kg/袋", "3-5mm", "DN32/DN40", "2.5kg/m2", "8-12h"]


def spaced(rng: random.Random, text: str) -> str:
    """The blog's bad case: spaces inserted around "-" and "/" (all of them, or only the first)."""
    style = rng.choice(["both", "both", "left", "right"])
    pad = {"both": r" \1 ", "left": r" \1", "right": r"\1 "}[style]
    if rng.random() < 0.25 and len(re.findall(r"[-/]", text)) > 1:
        return re.sub(r"([-/])", pad, text, count=1)
    return re.sub(r"([-/])", pad, text)


# ---------------------------------------------------------------------------------------------
# Templates: (id, weight, user, assistant). Slots: {c} code, {p} Chinese area, {e} English area,
# {s} spec, {w} spaced code (answer {c}), {q} spaced Chinese area (answer {p}).
# The span to copy always appears verbatim in the user turn (except in the fix-* templates, where the
# user turn holds the spaced bad case) and the answer is that span, or a fixed short frame around it.
# ---------------------------------------------------------------------------------------------

TEMPLATES_T = [
    ("zh-price", 8, "帮我查一下{c}的价格。", "{c}"),
    ("zh-stock", 7, "{c}还有货吗?", "{c}"),
    ("zh-bath", 6, "卫生间防水用{c}可以吗?", "{c}"),
    ("zh-weight", 5, "这款{c}一桶多少公斤?", "{c}"),
    ("zh-master", 5, "师傅推荐了{c},靠谱吗?", "{c}"),
    ("zh-model", 5, "订单里的型号是{c},请复述型号。", "型号:{c}"),
    ("zh-area", 8, "“{p}”需要刷几遍防水?", "{p}"),
    ("zh-area-tile", 6, "“{p}”贴砖用什么胶?", "{p}"),
    ("zh-area-say", 4, "施工范围是“{p}”,请复述区域。", "区域:{p}"),
    ("zh-area-cost", 3, "“{p}”的防水怎么收费?", "{p}"),
    ("zh-code-area", 4, "{c}能用在“{p}”吗?只说区域。", "{p}"),
    ("zh-spec", 5, "{c}的规格是{s}吗?只说规格。", "{s}"),
    ("zh-code-spec", 3, "买{c},规格{s},帮我记下。", "{c} {s}"),
    ("zh-fix", 5, "把“{w}”改成规范写法。", "{c}"),
    ("zh-fix-area", 3, "把“{q}”改成规范写法。", "{p}"),
    ("en-price", 6, "What is the price of {c}?", "{c}"),
    ("en-stock", 5, "Is {c} in stock?", "{c}"),
    ("en-model", 4, "Repeat the model: {c}", "Model: {c}"),
    ("en-area", 5, "Which primer for the {e}? Name the area.", "{e}"),
    ("en-code-area", 3, "Can {c} go on the {e}? Area only.", "{e}"),
    ("en-spec", 3, "Is {s} the size of {c}? Spec only.", "{s}"),
    ("en-fix", 4, "Fix the spacing: {w}", "{c}"),
]

# New phrasings, used only in the untrained half of the holdout.
TEMPLATES_U = [
    ("u-zh-site", 1, "工地要用{c},先报个型号。", "{c}"),
    ("u-zh-swap", 1, "老板说{c}缺货,能换别的吗?", "{c}"),
    ("u-zh-area", 1, "“{p}”这块怎么防潮?", "{p}"),
    ("u-zh-fix", 1, "施工单写成了“{w}”,请改对。", "{c}"),
    ("u-zh-spec", 1, "包装上写{s},是这个规格吗?", "{s}"),
    ("u-en-site", 1, "My contractor wants {c}. Which model?", "{c}"),
    ("u-en-out", 1, "Can {c} be used outdoors?", "{c}"),
    ("u-en-fix", 1, "Clean up this code: {w}", "{c}"),
    ("u-en-area", 1, "How do I seal the {e}? Just the area.", "{e}"),
]


def render(rng: random.Random, template, pools) -> dict:
    tid, _, user_fmt, asst_fmt = template
    slots = {"c": rng.choice(pools["c"]), "p": rng.choice(pools["p"]), "e": rng.choice(pools["e"]),
             "s": rng.choice(pools["s"])}
    slots["w"] = spaced(rng, slots["c"])
    slots["q"] = spaced(rng, slots["p"])
    user, answer = user_fmt.format(**slots), asst_fmt.format(**slots)
    # Values actually shown to the model in this sample (for the trained/untrained bookkeeping).
    used = [slots[k] for k in "cpes" if "{" + k + "}" in user_fmt + asst_fmt]
    used += [slots[k] for k, src in (("w", "c"), ("q", "p")) if "{" + k + "}" in user_fmt]
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}], "_tid": tid, "_used": used}


def content_bytes(sample: dict) -> int:
    return sum(len(m["content"].encode("utf-8")) for m in sample["messages"])


def draw(rng, templates, pools, n, seen_users, accept=lambda s: True) -> list[dict]:
    weights = [t[1] for t in templates]
    out = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 200 * n:
            raise RuntimeError("could not draw enough distinct samples")
        s = render(rng, rng.choices(templates, weights)[0], pools)
        user = s["messages"][1]["content"]
        if user in seen_users or content_bytes(s) > MAX_BYTES or not accept(s):
            continue
        seen_users.add(user)
        out.append(s)
    return out


# ---------------------------------------------------------------------------------------------
# General chat (mixed in at ~20% to limit loss of general ability). No "-" or "/" in these, so the
# format signal stays clean.
# ---------------------------------------------------------------------------------------------

GREETINGS = [
    ("你好", "你好!有什么可以帮你?"), ("早上好", "早上好!今天想装修哪里?"), ("谢谢你", "不客气!"),
    ("再见", "再见,祝你装修顺利!"), ("你是谁?", "我是建材家装助手。"), ("在吗?", "在的,请说。"),
    ("Hello", "Hello! How can I help?"), ("Hi there", "Hi! What do you need today?"),
    ("Thanks!", "You're welcome!"), ("Good night", "Good night!"), ("Who are you?", "I am a home renovation assistant."),
    ("How are you?", "I'm fine, thank you. How can I help?"),
]
FACTS = [
    ("中国的首都是哪里?", "北京。"), ("一年有几个月?", "12个月。"), ("一周有几天?", "7天。"),
    ("水在多少摄氏度结冰?", "0摄氏度。"), ("水在多少摄氏度沸腾?", "100摄氏度。"), ("一天有几个小时?", "24小时。"),
    ("彩虹有几种颜色?", "7种。"), ("水泥砂浆主要由什么组成?", "水泥、砂和水。"), ("瓷砖铺贴前要做什么?", "先清理并找平基层。"),
    ("What is the capital of France?", "Paris."), ("How many days are in a week?", "Seven."),
    ("What color is the sky on a clear day?", "Blue."), ("How many hours are in a day?", "24."),
    ("At what temperature does water freeze?", "0 degrees Celsius."), ("How many months are in a year?", "Twelve."),
    ("What is cement mixed with to make mortar?", "Sand and water."),
]
UNITS_ZH = [("米", "厘米", 100), ("米", "毫米", 1000), ("公斤", "克", 1000), ("升", "毫升", 1000),
            ("小时", "分钟", 60), ("吨", "公斤", 1000)]
UNITS_EN = [("meters", "centimeters", 100), ("kilograms", "grams", 1000), ("liters", "milliliters", 1000),
            ("hours", "minutes", 60), ("feet", "inches", 12), ("minutes", "seconds", 60)]


# Only in the general part of the holdout: greetings and facts that general.jsonl does not hold (the
# pretrained base, builtin:tiny-chat, was taught them, with these answers).
GREETINGS_HOLDOUT = [("您好", "您好!请问需要什么帮助?"), ("晚上好", "晚上好!有什么可以帮你?"), ("多谢", "不用谢!"),
                     ("拜拜", "再见!"), ("你叫什么名字?", "我是建材家装助手。"), ("Good morning", "Good morning! How can I help?"),
                     ("Thank you", "You're welcome!"), ("Goodbye", "Goodbye! Good luck with your project."),
                     ("Are you there?", "Yes, I'm here.")]
FACTS_HOLDOUT = [("日本的首都是哪里?", "东京。"), ("一小时有几分钟?", "60分钟。"), ("天空是什么颜色?", "蓝色。"),
                 ("一年有几个季节?", "4个。"), ("What is the capital of Japan?", "Tokyo."), ("What color is grass?", "Green."),
                 ("How many minutes are in an hour?", "60."), ("How many seasons are in a year?", "Four."),
                 ("How many legs does a cat have?", "Four.")]


def make_general(rng: random.Random, n: int) -> list[dict]:
    pairs: dict[str, str] = {}
    for q, a in GREETINGS + FACTS:
        pairs[q] = a
    while len(pairs) < n:
        kind = rng.choice(["add_zh", "add_en", "mul_zh", "mul_en", "unit_zh", "unit_en"])
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        if kind == "add_zh":
            q, ans = f"{a}加{b}等于几?", f"{a + b}"
        elif kind == "add_en":
            q, ans = f"What is {a} plus {b}?", f"{a + b}"
        elif kind == "mul_zh":
            a, b = a % 12 + 1, b % 12 + 1
            q, ans = f"{a}乘{b}等于多少?", f"{a * b}"
        elif kind == "mul_en":
            a, b = a % 12 + 1, b % 12 + 1
            q, ans = f"What is {a} times {b}?", f"{a * b}"
        elif kind == "unit_zh":
            big, small, k = rng.choice(UNITS_ZH)
            a = a % 9 + 1
            q, ans = f"{a}{big}等于多少{small}?", f"{a * k}{small}。"
        else:
            big, small, k = rng.choice(UNITS_EN)
            a = a % 8 + 2
            q, ans = f"How many {small} are in {a} {big}?", f"{a * k} {small}."
        pairs.setdefault(q, ans)
    items = list(pairs.items())
    rng.shuffle(items)
    return [{"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                          {"role": "assistant", "content": a}]} for q, a in items]


# ---------------------------------------------------------------------------------------------


def build() -> tuple[list[dict], list[dict], list[dict]]:
    rng = random.Random(SEED)
    codes_t = make_codes(rng, 150, "AABBCDEFGH", BRANDS_T, LETTERS_T, SUFFIX_T, ROMAN_T, FIXED_CODES_T)
    codes_u = make_codes(rng, 40, "ABCDEFHIJ", BRANDS_U, LETTERS_U, SUFFIX_U, ROMAN_U)
    pools_t = {"c": codes_t, "p": AREAS_ZH_T, "e": AREAS_EN_T, "s": SPECS_T}
    pools_u = {"c": codes_u, "p": AREAS_ZH_U, "e": AREAS_EN_U, "s": SPECS_U}

    seen: set[str] = set()
    # The blog's / brief's own codes each appear at least twice, in random code templates.
    code_templates = [t for t in TEMPLATES_T if "{c}" in t[2] + t[3] and "{e}" not in t[2] and "{p}" not in t[2]]
    train = []
    for code in FIXED_CODES_T:
        train += draw(rng, code_templates, {**pools_t, "c": [code]}, 2, seen)
    train += draw(rng, TEMPLATES_T, pools_t, N_TRAIN - len(train), seen)
    rng.shuffle(train)
    train_text = "\n".join(m["content"] for s in train for m in s["messages"])

    # Trained half: templates and values that all occur in train.jsonl, in combinations it lacks.
    used_t = {v for s in train for v in s["_used"]}
    tids_t = {s["_tid"] for s in train}
    pools_seen = {k: [v for v in vals if v in used_t] for k, vals in pools_t.items()}
    trained = draw(rng, [t for t in TEMPLATES_T if t[0] in tids_t], pools_seen, N_HOLDOUT_TRAINED, seen,
                   accept=lambda s: all(v in used_t for v in s["_used"]))

    # Untrained half: only new codes / areas / specs (none occurs in train.jsonl); half keep a trained
    # phrasing, half use a new one.
    def novel(s):
        return all(v not in train_text for v in s["_used"])

    half = N_HOLDOUT_UNTRAINED // 2
    untrained = draw(rng, TEMPLATES_T, pools_u, half, seen, novel)
    untrained += draw(rng, TEMPLATES_U, pools_u, N_HOLDOUT_UNTRAINED - half, seen, novel)
    for s in trained:
        s["scenario"] = "trained"
    for s in untrained:
        s["scenario"] = "untrained"
    holdout = trained + untrained
    rng.shuffle(holdout)

    general = make_general(rng, 100)
    # General ability: fixed greetings and facts, then fresh arithmetic and unit prompts of general.jsonl's
    # kinds; none of them is a prompt of general.jsonl (so no mix-in row teaches its answer).
    taken = {s["messages"][1]["content"] for s in general}
    pool = make_general(random.Random(SEED + 1), 400)
    extra = [s for s in pool if s["messages"][1]["content"] not in taken
             and s["messages"][1]["content"] not in dict(GREETINGS + FACTS)]
    fixed = [{"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                           {"role": "assistant", "content": a}]} for q, a in GREETINGS_HOLDOUT + FACTS_HOLDOUT]
    general_holdout = (fixed + extra)[:N_HOLDOUT_GENERAL]
    for s in general_holdout:
        s["scenario"] = "general"
    return train, holdout + general_holdout, general


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            r = {k: v for k, v in r.items() if not k.startswith("_")}
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def check() -> list[str]:
    """Validate the written files; return a list of problems (empty when all is well)."""
    problems = []
    files = {name: read(HERE / f"{name}.jsonl") for name in ("train", "holdout", "general")}
    for name, rows in files.items():
        for i, r in enumerate(rows, 1):
            msgs = r.get("messages")
            if not isinstance(msgs, list) or not msgs:
                problems.append(f"{name}:{i}: no messages")
                continue
            roles = [m.get("role") for m in msgs]
            body = roles[1:] if roles[0] == "system" else roles
            if body[::2] != ["user"] * len(body[::2]) or body[1::2] != ["assistant"] * len(body[1::2]) \
                    or not body or body[-1] != "assistant":
                problems.append(f"{name}:{i}: roles {roles}")
            if any(not isinstance(m.get("content"), str) or not m["content"] for m in msgs):
                problems.append(f"{name}:{i}: empty content")
            if content_bytes(r) > MAX_BYTES:
                problems.append(f"{name}:{i}: {content_bytes(r)} bytes > {MAX_BYTES}")
            extra = set(r) - {"messages", "scenario"} if name == "holdout" else set(r) - {"messages"}
            if extra:
                problems.append(f"{name}:{i}: unexpected keys {sorted(extra)}")
    keys = {name: [json.dumps(r["messages"], ensure_ascii=False) for r in rows] for name, rows in files.items()}
    users = {name: {r["messages"][-2]["content"] for r in rows} for name, rows in files.items()}
    for name in files:
        dup = [k for k, c in Counter(keys[name]).items() if c > 1]
        if dup:
            problems.append(f"{name}: {len(dup)} duplicate samples")
    for a, b in (("train", "holdout"), ("train", "general"), ("holdout", "general")):
        if set(keys[a]) & set(keys[b]) or users[a] & users[b]:
            problems.append(f"{a}/{b}: overlapping samples or prompts")
    train_text = "\n".join(m["content"] for r in files["train"] for m in r["messages"])
    hold = files["holdout"]
    for i, r in enumerate(hold, 1):
        sc, ans, user = r.get("scenario"), r["messages"][-1]["content"], r["messages"][-2]["content"]
        if sc not in ("trained", "untrained", "general"):
            problems.append(f"holdout:{i}: scenario {sc!r}")
        if sc == "general":
            if re.search(r"[-/]", ans) or user in users["general"] or user in users["train"]:
                problems.append(f"holdout:{i}: general case with a symbol or a trained prompt")
            continue
        if not re.search(r"[-/]", ans):
            problems.append(f"holdout:{i}: answer has no '-' or '/'")
        if re.search(r"\s[-/]|[-/]\s", ans):
            problems.append(f"holdout:{i}: answer has a space around '-' or '/'")
        if sc == "untrained":
            spans = re.findall(r"[A-Za-z0-9.:]+(?:[-/][A-Za-z0-9.:]+)+|[^\s“”,。?!::]+(?:[-/][^\s“”,。?!::]+)+", ans)
            leaked = [s for s in spans if s in train_text]
            if leaked:
                problems.append(f"holdout:{i}: untrained span(s) {leaked} occur in train")
        core = re.sub(r"^(型号:|区域:|Model: )", "", ans)
        if sc == "trained" and not all(part in train_text for part in core.split(" ")):
            problems.append(f"holdout:{i}: trained answer {ans!r} never occurs in train")
        del user
    for name in ("train", "general"):
        for i, r in enumerate(files[name], 1):
            if re.search(r"\s[-/]|[-/]\s", r["messages"][-1]["content"]):
                problems.append(f"{name}:{i}: answer has a space around '-' or '/'")
    return problems


def stats() -> str:
    lines = []
    for name in ("train", "holdout", "general"):
        rows = read(HERE / f"{name}.jsonl")
        b = sorted(content_bytes(r) for r in rows)
        a = sorted(len(r["messages"][-1]["content"].encode("utf-8")) for r in rows)
        line = (f"{name}: {len(rows)} samples; content bytes min {b[0]} median {b[len(b) // 2]} "
                f"max {b[-1]} mean {sum(b) / len(b):.1f}; answer bytes median {a[len(a) // 2]} max {a[-1]}")
        if name == "holdout":
            line += f"; scenarios {dict(sorted(Counter(r['scenario'] for r in rows).items()))}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if "--check" not in argv:
        train, holdout, general = build()
        write(HERE / "train.jsonl", train)
        write(HERE / "holdout.jsonl", holdout)
        write(HERE / "general.jsonl", general)
        tids = Counter(s["_tid"] for s in train)
        print("train templates:", dict(sorted(tids.items())))
        print("holdout templates:", dict(sorted(Counter(s.get("_tid", s["scenario"]) for s in holdout).items())))
    problems = check()
    print(stats())
    for p in problems:
        print("PROBLEM:", p)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
