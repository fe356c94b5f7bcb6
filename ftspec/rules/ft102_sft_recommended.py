from ftspec.rules.base import Rule, doc

# Recommended minimum per profile: Ark "hundreds or more", Bailian "at least a thousand",
# OpenAI/PEFT pilot size 50.
RECOMMENDED = {"ark": 100, "bailian": 1000, "openai": 50, "peft": 50}
SOURCE = {"ark": "000 Ark overview", "bailian": "001 Bailian", "openai": "004 primer", "peft": "004 primer"}


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method != "sft" or t is None or t.read_error or t.records < 10:
        return
    profile = ctx.spec.lint.profile
    need = RECOMMENDED[profile]
    if t.records < need:
        yield rule.finding(ctx, f"{t.records} SFT examples: below the recommended {need}+ for profile {profile!r} "
                           f"({SOURCE[profile]}); pilot with 50-100, task types often need 1k-10k",
                           at=("data", "train"))


RULE = Rule("FT102", "sft-below-recommended", "warning", "SFT data below the recommended volume for the profile.",
            doc("Warns when the SFT set is below the profile's recommended size (ark 100, bailian 1000, openai/peft 50).",
                "Small sets give weak, unstable gains; guides ask for hundreds to thousands.",
                "identity.json (91 records) under profile ark", "000, 001, 003"), "000/001/003", check,
            profiles={"ark": "100+ SFT examples", "bailian": "1,000+ SFT examples", "openai": "50+ SFT examples",
                      "peft": "50+ SFT examples"})
