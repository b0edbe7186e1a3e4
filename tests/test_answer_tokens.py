"""Answer labels end with an end-of-sequence token under llava-hf's stock LLaVA-1.5 template (which
ends the assistant turn with a space, not </s>), and a SentencePiece-style Llama tokenizer cuts
the answer as it does inside the whole conversation."""

import pytest
import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import clip_vision_config, llama_text_config, set_generation_ids

# llava-hf/llava-1.5-7b-hf's chat template (images first, each text followed by a space).
STOCK_LLAVA_15 = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")


def _sentencepiece_llama_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    corpus = ["USER: Who is this person? ASSISTANT: This is Alvena Ashgrove.", "This is Brisa Calloway.",
              "I don't know who this person is."] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>", "<image>", "<pad>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", additional_special_tokens=["<image>"])


@pytest.fixture()
def stock_llava():
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tok = _sentencepiece_llama_tokenizer()
    cfg = ModelConfig(name="tiny-llava", image_size=32, vision_hidden=32, text_hidden=32, heads=2)
    config = LlavaConfig(vision_config=clip_vision_config(cfg, 32), text_config=llama_text_config(cfg, tok),
                         image_token_index=tok.convert_tokens_to_ids("<image>"), image_seq_length=16,
                         vision_feature_select_strategy="default", vision_feature_layer=-1, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    set_generation_ids(model, tok)
    processor = LlavaProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32},
                                                                     crop_size={"height": 32, "width": 32}),
                               tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=STOCK_LLAVA_15, image_token="<image>")
    return VLM(model, processor)


def test_stock_template_answers_end_with_eos(stock_llava):
    vlm = stock_llava
    full = vlm.processor.apply_chat_template(vlm._messages("Who is this person?", "This is Alvena Ashgrove."), tokenize=False)
    assert not full.rstrip().endswith("</s>")  # the template itself never ends the turn
    ids = vlm.answer_ids("Who is this person?", "This is Alvena Ashgrove.")
    assert ids[-1] == vlm.tokenizer.eos_token_id
    assert vlm.tokenizer.decode(ids[:-1]).strip() == "This is Alvena Ashgrove."


def test_sentencepiece_answer_ids_match_the_whole_conversation(stock_llava):
    vlm = stock_llava
    prompt = vlm.prompt_text("Who is this person?")
    full = vlm.processor.apply_chat_template(vlm._messages("Who is this person?", "This is Alvena Ashgrove."), tokenize=False)
    whole = vlm.tokenizer(full.rstrip(), add_special_tokens=False)["input_ids"]
    head = vlm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = vlm.answer_ids("Who is this person?", "This is Alvena Ashgrove.")
    assert head + ids[:-1] == whole
    alone = vlm.tokenizer(full[len(prompt):].rstrip(), add_special_tokens=False)["input_ids"]
    assert ids[0] != alone[0] or ids[:-1] == alone  # tokenised alone, " This" may start with a lone "▁"


def test_tiny_template_labels_are_unchanged(tiny_vlm):
    ids = tiny_vlm.answer_ids("Who is this person?", "This is Alvena Ashgrove.")
    assert ids[-1] == tiny_vlm.tokenizer.eos_token_id and ids.count(tiny_vlm.tokenizer.eos_token_id) == 1


def test_answer_ids_are_computed_once_per_run_and_cannot_be_corrupted(tiny_vlm):
    """The answer tokens are cached per (question, answer, image) and shared with the run's
    other models (`with_model`); a caller that edits its list leaves the cache intact."""
    other = tiny_vlm.with_model(tiny_vlm.model)
    first = tiny_vlm.answer_ids("Who is this person?", "This is Alvena Ashgrove.")
    first.append(-1)
    assert other.answer_ids("Who is this person?", "This is Alvena Ashgrove.") == first[:-1]
    assert other._answer_cache is tiny_vlm._answer_cache
    text_only = tiny_vlm.answer_ids("Who is this person?", "This is Alvena Ashgrove.", image=False)
    assert text_only == tiny_vlm._answer_ids("Who is this person?", "This is Alvena Ashgrove.", False)
