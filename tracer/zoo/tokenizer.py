"""The zoo's word-level tokenizer: one token per word, a BOS token in front.

Built with the ``tokenizers`` library (lower-casing normaliser, a pre-tokeniser
splitting words from punctuation, a WordLevel model) and wrapped as a
``transformers.PreTrainedTokenizerFast`` so ``save_pretrained`` /
``AutoTokenizer.from_pretrained`` work like for any hub model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from tracer.errors import TracerError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

#: Special tokens, in id order: padding 0, unknown 1, BOS 2, EOS 3.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")


def build_tokenizer(vocabulary: Sequence[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over ``vocabulary`` that prepends ``<bos>``.

    Parameters
    ----------
    vocabulary : sequence of str
        The words (see :meth:`tracer.zoo.world.World.vocabulary`); ids follow
        the special tokens in the given order.

    Returns
    -------
    transformers.PreTrainedTokenizerFast
        ``pad_token_id`` 0, ``unk_token_id`` 1, ``bos_token_id`` 2,
        ``eos_token_id`` 3; encoding adds BOS, decoding joins words with
        spaces.

    Raises
    ------
    TracerError
        When a word repeats, is empty, or would be split by the pre-tokeniser.

    Examples
    --------
    >>> tok = build_tokenizer(["fact", ":", "north", "vale", "is"])
    >>> tok("Fact: north vale is")["input_ids"]
    [2, 4, 5, 6, 7, 8]
    >>> tok.decode([2, 4, 5, 6, 7, 8], skip_special_tokens=True)
    'fact : north vale is'
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from tracer.zoo.world import words

    vocab_list = list(vocabulary)
    if len(set(vocab_list)) != len(vocab_list):
        raise TracerError("tokenizer vocabulary repeats a word")
    bad = [w for w in vocab_list if words(w) != [w] or w in SPECIAL_TOKENS]
    if bad:
        raise TracerError(f"tokenizer vocabulary entry {bad[0]!r} is not one lower-case word")
    vocab = {tok: i for i, tok in enumerate(list(SPECIAL_TOKENS) + vocab_list)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="right",
    )
