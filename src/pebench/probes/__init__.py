"""Does it really forget? Attacks on unlearned models, each measured on the Goal model too
(it never learnt the targets, so it shows what "truly forgotten" looks like under the attack):

* `quant`: weight quantization (8 and 4 bits) brings back what unlearning only nudged;
* `relearn`: a few fine-tuning steps on half the forget targets, then Efficacy on the other half;
* `relearn_retain`: the same steps on the retained targets only (unrelated data), then Efficacy
  on the whole forget set (the attack of Lucki et al., 2024, "An Adversarial Perspective on
  Machine Unlearning for AI Safety", and of the 2025 MLLM-unlearning attack papers);
* `paraphrase`: D_f_test questions in phrasings no training or unlearning step uses;
* `extraction`: multiple choice, confirmation, hinted questions and the logit lens on the forget
  persons' D_f_test images;
* `trajectory`: Efficacy and Retain on a fixed subset during unlearning, and a checkpoint rule;
* `sequential`: several deletion requests in turn.
"""
