#!/usr/bin/env python3
"""Synthetic pretraining corpus for ``builtin:tiny-chat`` (stdlib only, deterministic).

The corpus is what the model knows before anyone fine-tunes it, so it is written to set up the blog's
story (seed 002): a chat model that already answers building-materials questions with the right product
code or area phrase, but usually writes it with spaces around "-" and "/" (``Sikalastic - 609``,
``水吧台 / 岛台区域``), as Doubao did. Beside that it holds general chat: greetings, arithmetic, unit
conversions, short facts, and copying / quoting spans, so that there is general ability to lose.

Every code, area phrase and spec is generated here from its own pools (made-up brands built from
syllables, room words paired at random), and any that contains a span of the quickstart's train or
holdout file is rejected, as is any conversation whose user turn is a prompt of those files
(``tests/test_tiny_chat.py`` checks the whole corpus against the files).

    python scripts/tiny_chat/corpus.py --sample 20     # print a few conversations
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
SEED = 1234
# Share of building-materials answers written the blog's way (spaces around "-" and "/"). Not 100 %:
# Doubao too sometimes got it right, which is why prompt changes "did not fully fix it". Greedy
# decoding still picks the spaced form, so the base model's raw format alignment stays low.
SPACED_SHARE = 0.8
SYMBOLS = re.compile(r"\s*([-/])\s*")

SYSTEMS = ["你是建材家装助手。", "你是建材家装助手。", "你是建材家装助手。", "", "", "你是一个乐于助人的助手。",
           "You are a helpful assistant.", "You are a building materials assistant.", "你是装修顾问。"]


def spaced(text: str) -> str:
    """The blog's habit: one space on each side of every "-" and "/"."""
    return SYMBOLS.sub(r" \1 ", text)


def canonical(text: str) -> str:
    return SYMBOLS.sub(r"\1", text)


def user_typo(rng: random.Random, text: str) -> str:
    """How a user might type a code: mostly as written, sometimes with stray spaces."""
    r = rng.random()
    if r < 0.75:
        return text
    pad = rng.choice([r" \1 ", r" \1", r"\1 "])
    return SYMBOLS.sub(pad, text, count=rng.choice([0, 1]))


# --------------------------------------------------------------------------------------------
# Forbidden values: every code, area phrase and spec the quickstart's train and holdout files use,
# taken from its own generator (make_data.py records the values each sample shows), and their prompts.
# --------------------------------------------------------------------------------------------


def _quickstart_samples() -> list[dict]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("quickstart_make_data", QUICKSTART / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, holdout, _general = module.build()
    # The holdout's "general" cases test general ability, which the corpus is there to teach.
    return train + [s for s in holdout if s.get("scenario") != "general"]


def forbidden_values() -> set[str]:
    """Codes, area phrases and specs of the quickstart's train and holdout files, canonical form."""
    return {canonical(v) for s in _quickstart_samples() for v in s["_used"]}


def forbidden_prompts() -> set[str]:
    return {s["messages"][-2]["content"] for s in _quickstart_samples()}


def find_forbidden(texts: list[str], values) -> set[int]:
    """Indexes of the texts whose canonical form contains one of ``values``."""
    joined = "\0".join(canonical(t) for t in texts)
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(canonical(t)) + 1
    import bisect

    hits = set()
    for value in values:
        at = joined.find(value)
        while at != -1:
            hits.add(bisect.bisect_right(starts, at) - 1)
            at = joined.find(value, at + 1)
    return hits


# --------------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------------

ONSETS = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "cr", "dr", "fl",
          "gr", "kl", "pr", "st", "tr", "sh", "ch", "th", "qu"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "", "n", "r", "s", "x", "l", "m", "t", "ck", "ng"]
SUFFIXES = ["Pro", "Max", "Plus", "Flex", "Lite", "Ultra", "Mini", "Eco", "Fix", "Seal", "Top", "Grip", "Bond",
            "Flow", "Coat", "Guard", "Star", "One", "Neo", "HD"]
ROMANS = ["I", "II", "III", "IV", "V", "VI", "X"]
UNIT_TAILS = ["PY", "PE", "GL", "HT", "AL", "CU", "FR", "W"]


def brand(rng: random.Random) -> str:
    n = rng.choice([1, 2, 2, 3])
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + (rng.choice(CODAS) if i == n - 1 else "")
                   for i in range(n))
    word = word.capitalize()
    if rng.random() < 0.15:  # CamelCase brands like MasterSeal
        word += brand(rng)
    return word[:14]


def letters(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(rng.choice([1, 2, 2, 2, 3, 4])))


def num(rng: random.Random, digits: int) -> str:
    return str(rng.randint(10 ** (digits - 1), 10**digits - 1))


def code(rng: random.Random) -> str:
    b, ll = brand(rng), letters(rng)
    shape = rng.randrange(14)
    if shape == 0:
        return f"{b}-{num(rng, rng.choice([2, 3, 4]))}"
    if shape == 1:
        return f"{b}-{num(rng, 3)}/{rng.randint(1, 9)}"
    if shape == 2:
        return f"{ll}-{num(rng, 2)}/{num(rng, 2)}"
    if shape == 3:
        return f"{ll[0]}{num(rng, 2)}-{rng.choice(SUFFIXES)}"
    if shape == 4:
        return f"{ll}-{rng.choice(ROMANS)}"
    if shape == 5:
        return f"{rng.randint(1, 9)}{ll[0]}-{num(rng, 4)}"
    if shape == 6:
        return f"{ll}-{rng.randint(1, 9)}-{rng.choice(UNIT_TAILS)}"
    if shape == 7:
        return f"{ll}{num(rng, 2)}/{num(rng, 2)}"
    if shape == 8:
        return f"{b}-{num(rng, 2)}-{num(rng, 2)}/{rng.choice('ABCDWX')}"
    if shape == 9:
        return f"{ll}/{letters(rng)}-{num(rng, 3)}"
    if shape == 10:
        return f"{b}-{rng.choice(SUFFIXES)}"
    if shape == 11:
        return f"{b} {rng.choice(SUFFIXES)}-{num(rng, 3)}"
    if shape == 12:
        return f"{ll}{num(rng, 3)}-{ll}{rng.randint(1, 9)}"
    return f"{b}-{ll}{num(rng, 2)}"


ROOMS_ZH = ["厨房", "卫生间", "阳台", "露台", "客厅", "餐厅", "主卧", "次卧", "书房", "茶室", "衣帽间", "储物间",
            "玄关", "鞋柜区域", "花园", "泳池", "水池", "烟道", "风道", "天沟", "檐口", "儿童房", "老人房", "设备间",
            "机房", "地下室", "车库", "外墙", "屋面", "淋浴区", "浴缸区", "水吧台", "岛台区域", "吊顶", "墙面", "地面",
            "楼梯", "走廊", "窗台", "飘窗", "门槛石", "过门石", "管道", "地漏周边", "洗衣机区域", "拖把池", "基层",
            "界面剂", "防水层", "保护层", "找平层", "墙角", "阴角", "阳角", "踢脚线", "台面", "柜体", "天花", "墙裙",
            "门框", "窗框", "雨棚", "天台", "电梯井", "消防通道", "停车场", "大堂", "前台", "会议室", "办公室",
            "仓库", "厂房", "花池", "水箱", "管井", "阁楼", "夹层", "洗手台", "浴室柜", "水槽周边", "灶台"]
PARTS_ZH = ["防水", "涂料", "瓷砖", "背胶", "找平", "自流平", "交接处", "腻子", "底漆", "面漆", "密封胶", "结构胶",
            "砂浆", "界面", "保温", "隔音", "防潮", "修补", "填缝", "美缝", "堵漏", "加固", "打磨", "勾缝"]
ROOMS_EN = ["kitchen", "bathroom", "garage", "basement", "pool", "spa deck", "stair", "landing", "laundry",
            "utility room", "patio", "step", "wall", "floor", "roof", "deck", "shower", "tub area", "balcony",
            "terrace", "indoor", "outdoor", "pipe", "drain collar", "sink", "counter edge", "window sill",
            "door frame", "attic", "cellar", "porch", "driveway", "hallway", "closet", "pantry", "gutter",
            "chimney", "fence", "ceiling", "facade", "lobby", "office", "warehouse", "joint", "corner", "base"]
UNITS_SPEC = ["kg/桶", "L/桶", "kg/袋", "kg/箱", "kg/组", "L/箱", "kg/m2", "m2/桶", "kg/支", "ml/支", "m/卷",
              "kg/罐", "L/罐", "张/箱", "片/箱"]
RANGE_UNITS = ["mm", "MPa", "h", "遍", "cm", "天", "min", "kg"]


def area_zh(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.6:
        a, b = rng.sample(ROOMS_ZH, 2)
        return f"{a}/{b}"
    if r < 0.85:
        return f"{rng.choice(PARTS_ZH + ROOMS_ZH)}-{rng.choice(PARTS_ZH)}"
    a, b, c = rng.sample(ROOMS_ZH, 3)
    return f"{a}/{b}/{c}"


def area_en(rng: random.Random) -> str:
    a, b = rng.sample(ROOMS_EN, 2)
    return f"{a}{rng.choice('/-')}{b}" if rng.random() < 0.7 else f"{a}/{b} area"


def spec(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return f"{rng.choice([1, 2, 4, 5, 10, 12, 15, 18, 20, 25, 30, 40, 50])}{rng.choice(UNITS_SPEC)}"
    if r < 0.8:
        a = rng.randint(1, 20)
        if rng.random() < 0.3:
            return f"{a / 10:.1f}-{(a + rng.randint(1, 10)) / 10:.1f}{rng.choice(RANGE_UNITS)}"
        return f"{a}-{a + rng.randint(1, 10)}{rng.choice(RANGE_UNITS)}"
    if r < 0.9:
        a = rng.choice([15, 20, 25, 32, 40, 50, 63, 75, 90, 110])
        b = rng.choice([15, 20, 25, 32, 40, 50, 63, 75, 90, 110])
        return f"DN{a}/DN{b}" if rng.random() < 0.5 else f"{a}/{b}mm"
    return f"1:{rng.randint(1, 9) / 10:.1f}-1:{rng.randint(1, 3)}"


# --------------------------------------------------------------------------------------------
# Building-materials conversations. {c} code, {p} Chinese area, {e} English area, {s} spec.
# The answer writes the span canonically or the blog's way; the frame around it is short.
# --------------------------------------------------------------------------------------------

BM_TEMPLATES = [
    ("{c}多少钱?", "{c}"), ("{c}现在什么价?", "{c}"), ("请问{c}还有库存吗?", "{c}"), ("{c}能发货吗?", "{c}"),
    ("我想买{c}。", "好的,{c}"), ("{c}适合卫生间吗?", "{c}"), ("{c}用在厨房行吗?", "{c}"), ("朋友推荐{c},怎么样?", "{c}"),
    ("你们有{c}吗?", "有,{c}"), ("{c}一箱几支?", "{c}"), ("这个型号{c}对吗?请复述型号。", "型号:{c}"),
    ("客户要{c},请报型号。", "型号:{c}"), ("合同上写的是{c},请确认型号。", "型号:{c}"), ("记一下型号{c}。", "型号:{c}"),
    ("{c}和{c2}哪个好?说第一个的型号。", "{c}"), ("“{p}”用什么防水?", "{p}"), ("“{p}”要做几遍涂料?", "{p}"),
    ("“{p}”怎么施工?只说区域。", "{p}"), ("“{p}”需要找平吗?", "{p}"), ("“{p}”能用{c}吗?只说区域。", "{p}"),
    ("这次施工的是“{p}”,请复述区域。", "区域:{p}"), ("确认一下区域“{p}”。", "区域:{p}"),
    ("师傅说要处理“{p}”,是哪里?", "{p}"), ("{c}的包装是{s}吗?只说规格。", "{s}"), ("{c}规格{s}对吗?只说规格。", "{s}"),
    ("要{c},规格{s},记下来。", "{c} {s}"), ("下单{c},{s}。", "{c} {s}"), ("请把“{c}”的写法改规范。", "{c}"),
    ("把“{p}”的写法改规范。", "{p}"), ("型号{c}写对了吗?", "{c}"), ("“{p}”这个区域要刷底漆吗?", "{p}"),
    ("How much is {c}?", "{c}"), ("Do you have {c}?", "Yes, {c}"), ("Is {c} available?", "{c}"),
    ("Please confirm the model {c}.", "Model: {c}"), ("Say the model number: {c}", "Model: {c}"),
    ("Which area, the {e}? Area only.", "{e}"), ("Seal the {e} with {c}? Area only.", "{e}"),
    ("Repeat the area: {e}", "Area: {e}"), ("Is {s} the pack size of {c}? Spec only.", "{s}"),
    ("Order {c}, {s}.", "{c} {s}"), ("Write the code properly: {c}", "{c}"), ("Is {c} good for the {e}?", "{c}"),
]


def bm_conversation(rng: random.Random) -> list[dict]:
    user_fmt, answer_fmt = rng.choice(BM_TEMPLATES)
    makers = {"c": code, "c2": code, "p": area_zh, "e": area_en, "s": spec}
    slots = {k: make(rng) for k, make in makers.items() if "{" + k + "}" in user_fmt + answer_fmt}
    user = user_fmt.format(**{k: user_typo(rng, v) for k, v in slots.items()})
    answer = answer_fmt.format(**slots)
    if rng.random() < SPACED_SHARE:
        answer = spaced(answer)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


# Free phrasings for the second pretraining phase: the span sits anywhere in a sentence built from
# fragments, so the model learns to find "the code" by its shape, not by a template's wording.
ZH_PRE = ["请问", "我想问一下", "麻烦看看", "客户问", "老师傅说", "帮忙确认", "今天要", "仓库里有", "图纸上写着",
          "采购单上是", "我们用的是", "听说", "上次买的", "能不能推荐", "项目经理要", "这批货是", "问下", "打算用",
          "工长说用", "设计师选了", "你们卖的", "网上看到", "朋友家用了", "样品是", "展厅里的", "报价单写的",
          "我家准备用", "物业要求用", "监理说要用", "隔壁工地用了", "", ""]
ZH_POST = ["怎么样?", "好用吗?", "多少钱一桶?", "有现货吗?", "能便宜点吗?", "什么时候到?", "适合地面吗?", "能防水吗?",
           "保质期多久?", "怎么施工?", "要几桶?", "是正品吗?", "。", "吗?", "的说明书在哪?", "哪里有卖?", "能退吗?",
           "和别的有什么区别?", "要配底漆吗?", "送货上门吗?", "请复述型号。", "只说型号。", "环保吗?", "多久能干?"]
ZH_AREA_PRE = ["", "我家", "这次要做", "师傅问", "请问", "客户说", "图纸上的", "报价里的", "需要处理", "先做"]
ZH_AREA_POST = ["怎么做?", "用什么材料?", "要刷几遍?", "多少钱?", "能贴砖吗?", "要找平吗?", "是哪里?", "请复述区域。",
                "只说区域。", "要多久?", "先做哪步?", "容易漏水吗?"]
EN_PRE = ["Tell me about", "I need", "Do you stock", "Quote me", "We bought", "Any discount on", "Please ship",
          "My client asked for", "What about", "Check the order for", "Can I return", "Where can I buy",
          "The drawing says", "Our foreman picked", "Is it safe to use", "How fast does", "Send me", "Price check:",
          "I saw", "We ran out of", "Say the model of", "Confirm"]
EN_POST = ["?", " today?", " for the floor?", ", please.", " by Friday?", " again?", " or something else?", ".",
           " for my bathroom?", " in bulk?", " online?", "? Model only.", " now?", " this week?"]
EN_AREA_PRE = ["How do I prime the", "What goes on the", "We are redoing the", "Quote for the", "Name the area:",
               "Is tile fine for the", "Which sealant for the", "The plan shows the"]
EN_AREA_POST = ["?", ". Area only.", "? Just the area.", " first?", " this week?", "."]


def free_bm_conversation(rng: random.Random) -> list[dict]:
    kind = rng.choices(["zh_code", "en_code", "zh_area", "en_area", "spec"], [4, 3, 2, 1, 1])[0]
    if kind == "zh_code":
        value = code(rng)
        user = f"{rng.choice(ZH_PRE)}{user_typo(rng, value)}{rng.choice(ZH_POST)}"
        answer = rng.choice(["{}", "{}", "{}", "型号:{}"]).format(value)
    elif kind == "en_code":
        value = code(rng)
        user = f"{rng.choice(EN_PRE)} {user_typo(rng, value)}{rng.choice(EN_POST)}"
        answer = rng.choice(["{}", "{}", "{}", "Model: {}"]).format(value)
    elif kind == "zh_area":
        value = area_zh(rng)
        user = f"{rng.choice(ZH_AREA_PRE)}“{user_typo(rng, value)}”{rng.choice(ZH_AREA_POST)}"
        answer = rng.choice(["{}", "{}", "区域:{}"]).format(value)
    elif kind == "en_area":
        value = area_en(rng)
        user = f"{rng.choice(EN_AREA_PRE)} {user_typo(rng, value)}{rng.choice(EN_AREA_POST)}"
        answer = value
    else:
        value, c = spec(rng), code(rng)
        user = rng.choice([f"{c}的规格写的是{value},对吗?只说规格。", f"Is the pack {value} for {c}? Spec only.",
                           f"{rng.choice(ZH_PRE)}{c},包装{value}{rng.choice(ZH_POST)}只说规格。"])
        answer = value
    if rng.random() < SPACED_SHARE:
        answer = spaced(answer)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


# --------------------------------------------------------------------------------------------
# General chat (no "-" or "/" anywhere, like the quickstart's general.jsonl)
# --------------------------------------------------------------------------------------------

GREETINGS = [
    ("你好", "你好!有什么可以帮你?"), ("您好", "您好!请问需要什么帮助?"), ("早上好", "早上好!今天想装修哪里?"),
    ("晚上好", "晚上好!有什么可以帮你?"), ("谢谢你", "不客气!"), ("谢谢", "不客气!"), ("多谢", "不用谢!"),
    ("再见", "再见,祝你装修顺利!"), ("拜拜", "再见!"), ("你是谁?", "我是建材家装助手。"), ("在吗?", "在的,请说。"),
    ("你叫什么名字?", "我是建材家装助手。"), ("你能做什么?", "我可以回答建材和装修的问题。"), ("辛苦了", "不辛苦,随时为你服务。"),
    ("Hello", "Hello! How can I help?"), ("Hi", "Hi! How can I help?"), ("Hi there", "Hi! What do you need today?"),
    ("Good morning", "Good morning! How can I help?"), ("Good evening", "Good evening! How can I help?"),
    ("Thanks!", "You're welcome!"), ("Thank you", "You're welcome!"), ("Good night", "Good night!"),
    ("Bye", "Goodbye!"), ("Goodbye", "Goodbye! Good luck with your project."),
    ("Who are you?", "I am a home renovation assistant."), ("What can you do?", "I answer questions about building materials."),
    ("How are you?", "I'm fine, thank you. How can I help?"), ("Are you there?", "Yes, I'm here."),
]
FACTS = [
    ("中国的首都是哪里?", "北京。"), ("日本的首都是哪里?", "东京。"), ("法国的首都是哪里?", "巴黎。"), ("英国的首都是哪里?", "伦敦。"),
    ("一年有几个月?", "12个月。"), ("一周有几天?", "7天。"), ("一天有几个小时?", "24小时。"), ("一小时有几分钟?", "60分钟。"),
    ("水在多少摄氏度结冰?", "0摄氏度。"), ("水在多少摄氏度沸腾?", "100摄氏度。"), ("彩虹有几种颜色?", "7种。"),
    ("太阳从哪边升起?", "东边。"), ("天空是什么颜色?", "蓝色。"), ("草是什么颜色?", "绿色。"), ("一年有几个季节?", "4个。"),
    ("水泥砂浆主要由什么组成?", "水泥、砂和水。"), ("瓷砖铺贴前要做什么?", "先清理并找平基层。"), ("防水涂料刷完要做什么?", "做闭水试验。"),
    ("闭水试验要多久?", "48小时。"), ("人有几只手?", "两只。"), ("猫有几条腿?", "四条。"), ("一打是多少个?", "12个。"),
    ("What is the capital of France?", "Paris."), ("What is the capital of China?", "Beijing."),
    ("What is the capital of Japan?", "Tokyo."), ("What is the capital of England?", "London."),
    ("How many days are in a week?", "Seven."), ("How many hours are in a day?", "24."),
    ("How many months are in a year?", "Twelve."), ("How many minutes are in an hour?", "60."),
    ("What color is the sky on a clear day?", "Blue."), ("What color is grass?", "Green."),
    ("At what temperature does water freeze?", "0 degrees Celsius."), ("At what temperature does water boil?", "100 degrees Celsius."),
    ("Where does the sun rise?", "In the east."), ("How many seasons are in a year?", "Four."),
    ("How many legs does a cat have?", "Four."), ("How many items are in a dozen?", "Twelve."),
    ("What is cement mixed with to make mortar?", "Sand and water."), ("How many colors are in a rainbow?", "Seven."),
    ("What do you do before laying tiles?", "Clean and level the base."), ("How long is a closed water test?", "48 hours."),
]
UNITS_ZH = [("米", "厘米", 100), ("米", "毫米", 1000), ("厘米", "毫米", 10), ("公斤", "克", 1000), ("升", "毫升", 1000),
            ("小时", "分钟", 60), ("分钟", "秒", 60), ("吨", "公斤", 1000), ("天", "小时", 24)]
UNITS_EN = [("meters", "centimeters", 100), ("meters", "millimeters", 1000), ("kilograms", "grams", 1000),
            ("liters", "milliliters", 1000), ("hours", "minutes", 60), ("feet", "inches", 12),
            ("minutes", "seconds", 60), ("days", "hours", 24), ("tons", "kilograms", 1000)]
WORDS_EN = ["red", "blue", "green", "apple", "river", "stone", "window", "paper", "light", "house", "garden", "quick",
            "brown", "fox", "jumps", "over", "lazy", "dog", "morning", "coffee", "table", "chair", "music", "happy",
            "silver", "ocean", "mountain", "winter", "summer", "yellow", "orange", "bridge", "train", "cloud", "tiger",
            "pencil", "little", "big", "cold", "warm", "seven", "three", "market", "street", "tower", "brick", "sand"]
WORDS_ZH = ["今天", "天气", "很好", "我们", "一起", "去", "公园", "散步", "明天", "下雨", "记得", "带伞", "这个", "房子",
            "很大", "阳光", "充足", "装修", "完成", "了", "师傅", "手艺", "不错", "材料", "已经", "到货", "请", "放在",
            "门口", "谢谢", "老板", "价格", "便宜", "质量", "可靠", "邻居", "推荐", "周末", "开工", "中午", "休息"]
COPY_TEMPLATES = [
    ("Repeat after me: {x}", "{x}"), ("Say this back exactly: {x}", "{x}"), ("Copy this text: {x}", "{x}"),
    ('Quote exactly: "{x}"', "{x}"), ("Please repeat: {x}", "{x}"), ("Echo: {x}", "{x}"),
    ("请重复这句话:{x}", "{x}"), ("请原样复述:{x}", "{x}"), ("照抄这段文字:{x}", "{x}"), ("请复述:“{x}”", "{x}"),
    ('In the sentence "{x}", what is the first word?', "{first}"), ("“{x}”这句话的第一个词是什么?", "{first}"),
]


def copy_span(rng: random.Random, zh: bool) -> tuple[str, str]:
    if zh:
        words = [rng.choice(WORDS_ZH) for _ in range(rng.randint(2, 6))]
        return "".join(words), words[0]
    r = rng.random()
    if r < 0.2:  # codes with no symbol: letters and digits to copy exactly
        return letters(rng) + num(rng, rng.randint(2, 5)), letters(rng)
    words = [rng.choice(WORDS_EN + [brand(rng)]) for _ in range(rng.randint(2, 6))]
    return " ".join(words), words[0]


def general_conversation(rng: random.Random) -> list[dict]:
    kind = rng.choices(["greet", "fact", "add", "mul", "unit", "copy"], [2, 3, 4, 2, 3, 7])[0]
    zh = rng.random() < 0.5
    if kind == "greet":
        q, a = rng.choice(GREETINGS)
    elif kind == "fact":
        q, a = rng.choice(FACTS)
    elif kind == "add":
        x, y = rng.randint(1, 50), rng.randint(1, 50)
        q = f"{x}加{y}等于几?" if zh else f"What is {x} plus {y}?"
        a = f"{x + y}"
    elif kind == "mul":
        x, y = rng.randint(1, 12), rng.randint(1, 12)
        q = f"{x}乘{y}等于多少?" if zh else f"What is {x} times {y}?"
        a = f"{x * y}"
    elif kind == "unit":
        if zh:
            big, small, k = rng.choice(UNITS_ZH)
            x = rng.randint(1, 9)
            q, a = f"{x}{big}等于多少{small}?", f"{x * k}{small}。"
        else:
            big, small, k = rng.choice(UNITS_EN)
            x = rng.randint(2, 9)
            q, a = f"How many {small} are in {x} {big}?", f"{x * k} {small}."
    else:
        templates = [t for t in COPY_TEMPLATES if any("\u4e00" <= ch <= "\u9fff" for ch in t[0]) == zh]
        q_fmt, a_fmt = rng.choice(templates)
        x, first = copy_span(rng, zh)
        q, a = q_fmt.format(x=x), a_fmt.format(x=x, first=first)
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def conversations(n: int, seed: int = SEED, *, free_share: float = 0.0) -> list[list[dict]]:
    """``n`` conversations (lists of messages), the same on every run. ``free_share`` of the building-
    materials turns use free phrasings (the second pretraining phase)."""
    rng = random.Random(seed)
    prompts = forbidden_prompts()
    drafted = []
    for _ in range(n + n // 10 + 10):  # a few are dropped below
        messages = []
        for _ in range(rng.choice([1, 1, 1, 1, 2])):
            if rng.random() < 0.5 + free_share / 4:
                free = free_share > 0 and rng.random() < free_share  # no draw in phase 1: its corpus stays as it was
                messages += free_bm_conversation(rng) if free else bm_conversation(rng)
            else:
                messages += general_conversation(rng)
        system = rng.choice(SYSTEMS)
        drafted.append(([{"role": "system", "content": system}] if system else []) + messages)
    texts = ["\n".join(m["content"] for m in conv) for conv in drafted]
    dropped = find_forbidden(texts, forbidden_values())
    dropped |= {i for i, conv in enumerate(drafted) if any(m["content"] in prompts for m in conv if m["role"] == "user")}
    kept = [conv for i, conv in enumerate(drafted) if i not in dropped]
    if len(kept) < n:
        raise RuntimeError(f"only {len(kept)} of {n} conversations survived the quickstart filter")
    return kept[:n]


if __name__ == "__main__":
    k = int(sys.argv[sys.argv.index("--sample") + 1]) if "--sample" in sys.argv else 10
    for conv in conversations(k):
        print(json.dumps(conv, ensure_ascii=False))
