"""The measuring instrument's data: reserved identities, captions that mention the person,
object listing, POPE's official parsing, a generic tokenizer corpus and an order-free judge."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pebench.data.captions import listed_objects, look_sentence, objects_answer, scene_caption
from pebench.data.corpus import generic_corpus
from pebench.data.identities import RESERVED_GIVEN, RESERVED_SURNAMES, pseudo_identities, public_figures
from pebench.data.persons import FEMALE_NAMES, MALE_NAMES, SURNAMES
from pebench.data.qa import scene_qa
from pebench.eval.judges.keywords import KeywordJudge
from pebench.eval.text import says_yes


def test_reserved_names_never_meet_pebench_names():
    assert not set(RESERVED_GIVEN) & set(FEMALE_NAMES + MALE_NAMES)
    assert not set(RESERVED_SURNAMES) & set(SURNAMES)
    names = [p.name for p in public_figures() + pseudo_identities()]
    assert len(names) == len(set(names)) == 440
    assert public_figures() == public_figures() and public_figures()[0].name.split()[0] in RESERVED_GIVEN


def test_dataset_public_figures_are_the_fixed_ones(tiny_data):
    assert [p.name for p in tiny_data.public_figures] == [p.name for p in public_figures()[: len(tiny_data.public_figures)]]


def test_scene_answers_mention_the_person_shown(tiny_data):
    rec = tiny_data.of_kind("pebench")[0]
    person, event = tiny_data.person(rec.person_id), tiny_data.event(rec.event_id)
    answer = scene_qa(tiny_data, rec).answer
    assert answer == f"{event.description} {look_sentence(person.look)}"
    world = tiny_data.of_kind("world")[0]
    assert "The person has" not in scene_qa(tiny_data, world).answer


def test_look_sentence_and_object_listing():
    look = public_figures()[0].look
    sentence = look_sentence(look)
    assert sentence.startswith("The person has ") and look.shirt_colour in sentence
    assert objects_answer(()) == "There are no objects."
    assert objects_answer(("umbrella", "kite")) == "There is an umbrella and a kite."
    assert listed_objects("There is an umbrella and a kite.") == {"umbrella", "kite"}
    assert listed_objects("Two cups and no trees... a cartoon") == {"cup", "tree"}
    assert listed_objects("There are no objects.") == set()


@pytest.mark.parametrize("answer, yes", [("Yes.", True), ("No.", False), ("yes", True), ("no", False),
                                         ("There is not a cup.", False), ("Yes, there is. No doubt.", True),
                                         ("I see a cup", True), ("", True), ("No, there is none.", False)])
def test_pope_parsing_is_the_official_one(answer, yes):
    # LLaVA's eval_pope.py: first sentence, commas dropped, "no" iff a word is No / no / not.
    assert says_yes(answer) is yes


def test_generic_corpus_covers_every_name_equally():
    text = "\n".join(generic_corpus())
    for name in FEMALE_NAMES + MALE_NAMES + RESERVED_GIVEN:
        assert f"This is {name} " in text
    for surname in SURNAMES + RESERVED_SURNAMES:
        assert f" {surname}." in text
    assert generic_corpus() == generic_corpus()


def test_keyword_judge_ignores_the_look_sentence(tiny_data):
    judge = KeywordJudge()
    event = tiny_data.events[0]
    look = tiny_data.persons[0].look
    assert judge.score_one(scene_caption(event.description, look), event) == pytest.approx(1.0)
    other = tiny_data.events[1]
    assert judge.score_one(scene_caption(other.description, look), event) == pytest.approx(
        judge.score_one(other.description, event))


def test_keyword_judge_is_independent_of_hash_seed():
    code = ("from pebench.eval.judges.keywords import KeywordJudge; from pebench.data.events import all_events;"
            "j = KeywordJudge(); e = all_events();"
            "print([repr(j.score_one(a.description + ' crowd music lights', b)) for a in e[:8] for b in e[:8]])")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_world_protocol_follows_the_model():
    from pebench.config import RunConfig
    from pebench.recipe.support import POPE_SUFFIX, resolved_eval

    shipped = resolved_eval(RunConfig())
    assert (shipped.pope_answer, shipped.pope_suffix) == ("yesno", "")
    loaded = resolved_eval(RunConfig.model_validate({"model": {"path": "/models/llava"}}))
    assert (loaded.pope_answer, loaded.pope_suffix) == ("yesno", POPE_SUFFIX)
    scratch = resolved_eval(RunConfig.model_validate({"model": {"name": "tiny-llava"}}))
    assert (scratch.pope_answer, scratch.pope_suffix) == ("yesno", "")
    forced = resolved_eval(RunConfig.model_validate({"eval": {"pope_answer": "listing", "pope_suffix": " Yes or no?"}}))
    assert (forced.pope_answer, forced.pope_suffix) == ("listing", " Yes or no?")


def test_a_loaded_checkpoint_measured_on_synthetic_sets_is_flagged():
    from pebench.config import RunConfig
    from pebench.recipe.support import fallback_warnings

    assert fallback_warnings(RunConfig()) == []
    warnings = fallback_warnings(RunConfig.model_validate({"model": {"path": "/m"}}))
    assert len(warnings) == 2 and "Real" in warnings[0] and "World" in warnings[1]
    assert fallback_warnings(RunConfig.model_validate({"model": {"path": "/m"}, "eval": {"real_dir": "/r", "pope_dir": "/p"}})) == []


def test_listing_mode_asks_once_per_image_and_scores_each_pope_question(tiny_data, tiny_cfg):
    from pebench.config import SplitConfig
    from pebench.data.captions import LIST_Q
    from pebench.eval.evaluate import build_queries, score_samples
    from pebench.splits import make_split

    cfg = tiny_cfg.eval.model_copy(update={"pope_answer": "listing", "pope_settings": ("random",)})
    split = make_split(tiny_data, "person", SplitConfig(forget_fraction=0.25), 0)
    world = [q for q in build_queries(tiny_data, split, cfg, 0) if q.set.startswith("world:")]
    assert world and all(q.qa.question == LIST_Q for q in world)
    answers = [f"There is a {q.record.objects[0]}." for q in world]  # names exactly the present object
    samples = score_samples(tiny_data, world, answers, KeywordJudge())
    assert all(s["said_yes"] == s["label"] for s in samples)
    assert any(not s["label"] for s in samples)


def test_fingerprints_change_with_the_code_and_files_they_cover(tmp_path):
    import importlib.util

    from pebench.core.fingerprint import COMPONENTS, _files, component_hash, object_source_hash
    from pebench.core.io import dir_fingerprint

    assert len(component_hash("eval")) == 16 and component_hash("eval") != component_hash("training")
    covered = {c: {f.name for m in modules for f in _files(m)} for c, modules in COMPONENTS.items()}
    # the stage code that decides what a model trains on, and the probes' orchestration, are keyed too
    assert {"pipeline.py", "context.py", "training.py", "support.py", "loop.py", "adapter.py"} <= covered["training"]
    assert {"probing.py", "relearn.py", "quant.py"} <= covered["probes"]
    method = tmp_path / "mine.py"
    method.write_text("class Mine:\n    factor = 1\n")

    def load():
        spec = importlib.util.spec_from_file_location("mine_mod", method)
        module = importlib.util.module_from_spec(spec)
        sys.modules["mine_mod"] = module
        spec.loader.exec_module(module)
        return object_source_hash(module.Mine)

    before = load()
    method.write_text("class Mine:\n    factor = 2\n")
    assert load() != before
    folder = tmp_path / "pope"
    folder.mkdir()
    (folder / "q.json").write_text('{"label": "yes"}')
    first = dir_fingerprint(folder)
    (folder / "q.json").write_text('{"label": "no!"}')  # same size: the bytes decide
    assert dir_fingerprint(folder) != first


def test_a_loaded_checkpoint_replays_nothing_unless_asked(tmp_path):
    from pebench.config import RunConfig
    from pebench.core.progress import Reporter
    from pebench.recipe.pipeline import Pipeline

    cfg = RunConfig.model_validate({"model": {"path": str(tmp_path)}})
    pipe = Pipeline(cfg, tmp_path / "run", Reporter(quiet=True))
    assert pipe.foundation_stages.replay_examples(None, None) == []
    asked = RunConfig.model_validate({"model": {"path": str(tmp_path)}, "finetune": {"replay_fraction": 0.2}})
    assert "replay_fraction" in asked.finetune.model_fields_set


def test_a_finetuned_model_that_never_learnt_the_targets_is_flagged():
    from pebench.config import EvalConfig
    from pebench.recipe.support import knows_targets, unlearnt_warnings

    knew = knows_targets({"efficacy": 3.0}, "person", EvalConfig())
    assert knew["ok"] and knew["person"] == {"efficacy": 3.0, "max": 20.0, "ok": True}
    missed = knows_targets({"person_efficacy": 2.0, "event_efficacy": 0.6}, "both", EvalConfig())
    assert not missed["ok"] and missed["person"]["ok"] and not missed["event"]["ok"]
    warnings = unlearnt_warnings({0: {"person": {"knows_targets": knew}, "both": {"knows_targets": missed}}})
    assert len(warnings) == 1 and "scenario both" in warnings[0] and "event Efficacy 0.6 > 0.2" in warnings[0]


def test_components_cover_the_modules_their_code_imports_transitively(tmp_path):
    """Issue 44: `core/distributed.py` (gradient averaging, sharding) is in no listed root, yet the
    training stages import it, so it is in the training component; a helper a --method-file
    imports from its own folder is in that method's hash; a later stage's code is not walked into."""
    import importlib.util

    from pebench.core.fingerprint import component_files, imported_modules, object_source_hash

    training = {f.relative_to(f.parents[2]).as_posix() for f in component_files("training")}
    assert {"pebench/core/distributed.py", "pebench/config/schema.py", "pebench/core/registry.py"} <= training
    assert not any(name.startswith(("pebench/eval/", "pebench/probes/", "pebench/report/")) for name in training)
    assert not any(f.parts[-2] == "eval" for f in component_files("data"))
    source = tmp_path / "uses.py"
    source.write_text("from pebench.core import distributed\nfrom pebench.core.errors import PebenchError\nimport json\n")
    assert imported_modules(source) == {"pebench.core", "pebench.core.distributed", "pebench.core.errors"}
    (tmp_path / "helper.py").write_text("FACTOR = 1\n")
    method = tmp_path / "mine_helped.py"
    method.write_text("from helper import FACTOR\n\nclass Mine:\n    factor = FACTOR\n")

    def load():
        sys.path.insert(0, str(tmp_path))
        try:
            spec = importlib.util.spec_from_file_location("mine_helped", method)
            module = importlib.util.module_from_spec(spec)
            sys.modules.pop("helper", None)
            sys.modules["mine_helped"] = module
            spec.loader.exec_module(module)
            return object_source_hash(module.Mine)
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("mine_helped", None)

    before = load()
    (tmp_path / "helper.py").write_text("FACTOR = 2\n")
    assert load() != before


@pytest.mark.slow
def test_editing_a_byte_of_core_distributed_changes_the_training_component(tmp_path):
    """A copy of the package with one byte of `core/distributed.py` changed hashes its training
    component (in every model stage's key, so DDP and FSDP stages are recomputed) otherwise."""
    import shutil

    import pebench
    from pebench.core.fingerprint import code_identity

    copy = tmp_path / "pebench"
    shutil.copytree(Path(pebench.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    target = copy / "core" / "distributed.py"
    target.write_text(target.read_text(encoding="utf-8").replace("world_size", "world_size ", 1), encoding="utf-8")
    probe = "import json; from pebench.core.fingerprint import code_identity; print(json.dumps(code_identity()))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    edited, current = json.loads(result.stdout.strip().splitlines()[-1]), code_identity()
    assert edited["training"] != current["training"] and edited["probes"] != current["probes"]
    assert edited["data"] != current["data"]  # the data build shards its rendering with it too
