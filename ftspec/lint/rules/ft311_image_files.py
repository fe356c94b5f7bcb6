from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        missing, bad = d.tallied("image_missing"), d.tallied("image_unreadable")
        remote = d.tallied("image_remote")
        if missing.count:
            yield rule.finding(ctx, f"{missing.count} image references in {d.spec_value} name no file beside the data "
                               f"({d.images} images counted; lines {missing.where})", path=d.display,
                               line=missing.lines[0])
        if bad.count:
            yield rule.finding(ctx, f"{bad.count} image files referenced by {d.spec_value} are not readable PNG, JPEG, "
                               f"GIF, BMP or WebP images (lines {bad.where})", path=d.display, line=bad.lines[0])
        if remote.count:
            yield rule.finding(ctx, f"{remote.count} images in {d.spec_value} are URLs or data: URIs, not files "
                               f"beside the data: they cannot be checked here (lines {remote.where})",
                               path=d.display, line=remote.lines[0], severity="warning")


RULE = Rule("FT311", "image-files", "error", "Image parts that name a missing or unreadable file.",
            doc('Counts every image part ({"image": file} or an image_url) in chat content, checks each file exists '
                "relative to the data file and starts like a PNG, JPEG, GIF, BMP or WebP image.",
                "A missing or broken image fails the upload or trains the text without its picture.",
                '{"role": "user", "content": [{"image": "img/1.png"}, {"text": "what is this?"}]} with no img/1.png',
                "001 Bailian (image SFT)"), "001", check)
