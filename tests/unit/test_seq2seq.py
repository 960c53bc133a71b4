import keras
import numpy as np
import pytest

from dlbook import seq2seq
from dlbook.seq2seq import END, PAD, START, UNK


def test_tokenize_splits_punctuation_keeps_apostrophes_and_lowercases():
    assert seq2seq.tokenize("Yahweh’s law, “Go!”") == [
        "yahweh’s", "law", ",", "“", "go", "!", "”"]
    assert seq2seq.tokenize("Dios", lower=False) == ["Dios"]


def test_detokenize_inverts_tokenize_on_ordinary_punctuation():
    text = "¿quién eres? y dijo: sea la luz."
    assert seq2seq.detokenize(seq2seq.tokenize(text)) == text


def test_vocabulary_reserves_ids_and_maps_rare_words_to_unk():
    vocab = seq2seq.Vocabulary.fit([["y", "dijo"], ["y", "fué"]], min_count=2)
    assert vocab.words[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    assert vocab.encode(["y", "dijo"]).tolist() == [START, 4, UNK, END]
    assert vocab.encode(["y"], markers=False).tolist() == [4]


def test_vocabulary_decode_stops_at_the_end_marker_and_skips_padding():
    vocab = seq2seq.Vocabulary.fit([["a", "b"]])
    assert vocab.decode([START, 4, 5, END, 4, PAD]) == ["a", "b"]


def test_vocabulary_caps_its_size_keeping_the_most_frequent_words():
    vocab = seq2seq.Vocabulary.fit([["a", "a", "b", "c", "c", "c"]], max_size=6)
    assert vocab.words[4:] == ["c", "a"]


def test_vocabulary_rejects_a_string_and_bad_sizes_with_the_fix():
    vocab = seq2seq.Vocabulary.fit([["a"]])
    with pytest.raises(TypeError, match="tokenize"):
        vocab.encode("a b")
    with pytest.raises(ValueError, match="min_count"):
        seq2seq.Vocabulary.fit([["a"]], min_count=0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([99])


def test_pad_right_pads_and_cuts_to_a_length():
    assert seq2seq.pad([[1, 2, 3], [4]], 2).tolist() == [[1, 2], [4, 0]]
    with pytest.raises(ValueError, match="at least one"):
        seq2seq.pad([])


def test_dictionary_translator_learns_word_translations_from_sentence_pairs():
    english = [["the", "house"], ["the", "book"], ["a", "book"], ["a", "house"], ["the", "dog"]]
    spanish = [["la", "casa"], ["el", "libro"], ["un", "libro"], ["una", "casa"], ["el", "perro"]]
    tm = seq2seq.DictionaryTranslator(iterations=25).fit(english, spanish)
    assert tm.table["house"] == "casa" and tm.table["book"] == "libro"
    assert tm.table["dog"] == "perro"
    assert tm.translate(["the", "Moses"])[1] == "Moses"  # unknown words are copied


def test_dictionary_translator_must_be_fitted_and_given_matching_pairs():
    with pytest.raises(RuntimeError, match="fit"):
        seq2seq.DictionaryTranslator().translate(["a"])
    with pytest.raises(ValueError, match="same"):
        seq2seq.DictionaryTranslator().fit([["a"]], [])


@pytest.mark.parametrize("attention", [False, True])
def test_translator_views_share_weights_and_shapes(attention):
    tr = seq2seq.build_translator(20, 30, attention=attention, embed_dim=8, units=12)
    src = np.array([[1, 5, 6, 2, 0]], dtype="int32")
    logits = tr.model.predict((src, np.array([[1, 7, 8]], dtype="int32")), verbose=0)
    assert logits.shape == (1, 3, 30)
    names = {w.path for w in tr.step.weights}
    assert names <= {w.path for w in tr.model.weights}
    assert any("attention" in n for n in names) == attention


def test_step_model_reproduces_the_teacher_forced_model():
    tr = seq2seq.build_translator(20, 30, embed_dim=8, units=12, dropout=0.0)
    src = np.array([[1, 5, 6, 2]], dtype="int32")
    tgt = np.array([[1, 7, 8]], dtype="int32")
    full = tr.model.predict((src, tgt), verbose=0)
    src_t = keras.ops.convert_to_tensor(src)
    states, keys, state = tr.encoder(src_t)
    for t in range(3):
        token = keras.ops.convert_to_tensor(tgt[:, t: t + 1])
        logits, state, weights = tr.step([src_t, token, state, states, keys])
        assert np.allclose(logits, full[:, t], atol=1e-4)
        assert np.allclose(np.asarray(weights).sum(), 1.0, atol=1e-5)


def test_greedy_decode_returns_ids_and_attention_rows_per_sentence():
    tr = seq2seq.build_translator(10, 12, embed_dim=4, units=8)
    src = seq2seq.pad([[1, 5, 6, 2], [1, 7, 2]])
    ids, att = seq2seq.greedy_decode(tr, src, max_len=4)
    assert len(ids) == len(att) == 2
    assert att[1].shape == (len(ids[1]) + 1, 3) or att[1].shape == (4, 3)
    assert all(END not in row and len(row) <= 4 for row in ids)


def test_greedy_decode_rejects_unpadded_input_and_other_models():
    tr = seq2seq.build_translator(10, 12, embed_dim=4, units=8)
    with pytest.raises(ValueError, match="pad"):
        seq2seq.greedy_decode(tr, np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="build_translator"):
        seq2seq.greedy_decode(tr.model, np.array([[1, 2]]))


def test_build_translator_validates_sizes():
    with pytest.raises(ValueError, match="units"):
        seq2seq.build_translator(10, 10, units=0)
    with pytest.raises(ValueError, match="dropout"):
        seq2seq.build_translator(10, 10, dropout=1.0)


def test_replace_unknown_uses_the_attended_source_word_and_the_dictionary():
    source = ["<start>", "moses", "said", "<end>"]
    attention = np.array([[0.1, 0.1, 0.7, 0.1], [0.0, 0.9, 0.1, 0.0], [0.1, 0.1, 0.1, 0.7]])
    dictionary = {"said": "dijo"}
    out = seq2seq.replace_unknown(["<unk>", "<unk>", "<unk>"], attention, source, dictionary)
    assert out == ["dijo", "moses", "<unk>"]  # an <end> marker is not a word to copy
    assert seq2seq.replace_unknown(["y"], attention, source) == ["y"]


def test_replace_unknown_rejects_attention_that_does_not_match_the_source():
    with pytest.raises(ValueError, match="markers"):
        seq2seq.replace_unknown(["<unk>"], np.ones((1, 2)), ["<start>", "a", "<end>"])
    with pytest.raises(ValueError, match="one row per output word"):
        seq2seq.replace_unknown(["a", "b"], np.ones((1, 3)), ["<start>", "a", "<end>"])
