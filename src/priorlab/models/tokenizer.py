"""Character-level tokenizer for the synthetic tasks: printable ASCII plus a few specials."""

from __future__ import annotations

SPECIALS = ("<pad>", "<bos>", "<eos>", "<r0>", "<r1>")
CHARS = "".join(chr(c) for c in range(32, 127))


class CharTokenizer:
    """Maps each printable ASCII character to one id; specials come first.

    `<r0>`/`<r1>` are the return tokens of Return-Conditioned RL (bad / good return).
    Characters outside printable ASCII are dropped on encode (the tasks never emit them).
    """

    pad_id, bos_id, eos_id = 0, 1, 2
    return_ids = (3, 4)

    def __init__(self):
        self.vocab_size = len(SPECIALS) + len(CHARS)
        self._to_id = {ch: i + len(SPECIALS) for i, ch in enumerate(CHARS)}

    def encode(self, text: str, *, bos: bool = True) -> list[int]:
        ids = [self._to_id[ch] for ch in text if ch in self._to_id]
        return [self.bos_id, *ids] if bos else ids

    def decode(self, ids) -> str:
        """Text of `ids`, stopping at the first EOS and skipping specials."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i >= len(SPECIALS):
                out.append(CHARS[i - len(SPECIALS)])
        return "".join(out)

    def return_token(self, good: bool) -> int:
        """The RCRL return token for a good (reward > 0) or bad sample."""
        return self.return_ids[int(bool(good))]
