import json

import pytest

from qa.json_stream import StringFieldStream

REPLY = json.dumps({"answer": 'Er sagte: "Ja" \\ dann\nEnde – ü 😀', "sources": [1, 2]}, ensure_ascii=True)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, len(REPLY)])
def test_field_text_is_decoded_across_any_piece_boundaries(size):
    stream = StringFieldStream("answer")
    pieces = [REPLY[i : i + size] for i in range(0, len(REPLY), size)]
    text = "".join(stream.feed(piece) for piece in pieces)
    assert text == json.loads(REPLY)["answer"]
    assert stream.done


def test_nothing_before_the_field_and_nothing_after_it():
    stream = StringFieldStream("answer")
    assert stream.feed('{"other": "x", ') == ""
    assert stream.feed('"answer": "ab') == "ab"
    assert stream.feed('c", "sources": ["zz"]}') == "c"
    assert stream.feed("more") == ""
