from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import get_platform
from ftspec.spec.schema import PROFILES

# Without a platform (profile peft): the primer's pilot size.
PILOT, PILOT_SOURCE = 50, "004 primer"


def recommended(profile: str) -> tuple[int, str]:
    platform = get_platform(profile)
    if platform is None or platform.sft_recommended_examples is None:
        return PILOT, PILOT_SOURCE
    return platform.sft_recommended_examples, platform.sft_recommended_source


def _sizes() -> str:
    """'ark 100, bailian 1000, openai/peft 50': profiles that share a size are named together."""
    by_size: dict[int, list[str]] = {}
    for profile in PROFILES:
        by_size.setdefault(recommended(profile)[0], []).append(profile)
    return ", ".join(f"{'/'.join(names)} {size}" for size, names in by_size.items())


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method != "sft" or t is None or t.read_error or t.records < 10:
        return
    profile = ctx.spec.lint.profile
    need, source = recommended(profile)
    if t.records < need:
        yield rule.finding(ctx, f"{t.records} SFT examples: below the recommended {need}+ for profile {profile!r} "
                           f"({source}); pilot with 50-100, task types often need 1k-10k",
                           at=("data", "train"))


RULE = Rule("FT102", "sft-below-recommended", "warning", "SFT data below the recommended volume for the profile.",
            doc(f"Warns when the SFT set is below the profile's recommended size ({_sizes()}).",
                "Small sets give weak, unstable gains; guides ask for hundreds to thousands.",
                "identity.json (91 records) under profile ark", "000, 001, 003"), "000/001/003", check,
            profiles={p: f"{recommended(p)[0]:,}+ SFT examples" for p in PROFILES})
